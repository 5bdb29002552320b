//! The signed-in layout: sidebar navigation, the user menu, and the gate
//! that sends anonymous visitors to `/login`. Pages below it read the user
//! from [`CurrentUser`].

use leptos::prelude::*;
use leptos_router::{
    components::{A, Outlet, Redirect},
    hooks::use_location,
};

use crate::{
    components::{Icon, Logo, count_of, icon},
    model::{FormError, UserView},
    server_fns::{Logout, current_user},
};

/// The signed-in user, loaded once by the shell.
#[derive(Clone, Copy)]
pub struct CurrentUser(pub Resource<Result<Option<UserView>, FormError>>);

/// `/`: the dashboard for a signed-in user, the login page otherwise.
#[component]
pub fn Home() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(_)) => view! { <Redirect path="/dashboard" /> }.into_any(),
                    _ => view! { <Redirect path="/login" /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

const NAV: [(&str, &str, &str); 7] = [
    ("/dashboard", "Dashboard", icon::DASHBOARD),
    ("/marketplace", "Marketplace", icon::MARKETPLACE),
    ("/installed", "Installed", icon::INSTALLED),
    ("/developer", "Developer", icon::DEVELOPER),
    ("/builder", "Builder", icon::BUILDER),
    ("/api-reference", "API reference", icon::BOOK),
    ("/settings", "Settings", icon::SETTINGS),
];

#[component]
fn NavLinks() -> impl IntoView {
    let location = use_location();
    NAV.into_iter()
        .map(|(href, label, path)| {
            let active = move || location.pathname.get().starts_with(href);
            view! {
                <A
                    href=href
                    attr:class=move || {
                        let base = "group flex items-center gap-3 rounded-lg px-3 py-2 text-sm font-medium transition focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-400";
                        if active() {
                            format!("{base} bg-white/10 text-white")
                        } else {
                            format!("{base} text-slate-400 hover:bg-white/5 hover:text-white")
                        }
                    }
                >
                    <Icon path=path class="h-5 w-5 shrink-0" />
                    <span>{label}</span>
                </A>
            }
        })
        .collect_view()
}

#[component]
fn UserMenu(user: UserView) -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    let initial = user.email.chars().next().unwrap_or('?').to_ascii_uppercase();
    let is_admin = user.role == "admin";
    view! {
        <div class="flex items-center gap-3">
            <div class="hidden text-right sm:block">
                <p class="text-sm font-medium text-slate-900" data-testid="user-email">{user.email.clone()}</p>
                <p class="text-xs text-slate-500">
                    {format!("{} plan", user.tier.name)}
                    {is_admin.then(|| view! { <span class="ml-1.5 rounded bg-amber-100 px-1.5 py-0.5 text-[10px] font-semibold uppercase tracking-wide text-amber-800">"admin"</span> })}
                </p>
            </div>
            <span class="inline-flex h-9 w-9 items-center justify-center rounded-full bg-gradient-to-br from-indigo-500 to-violet-500 text-sm font-semibold text-white" aria-hidden="true">{initial.to_string()}</span>
            <ActionForm action=logout>
                <button type="submit" class="inline-flex items-center gap-1.5 rounded-lg px-2.5 py-2 text-sm font-medium text-slate-600 transition hover:bg-slate-100 hover:text-slate-900 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-600">
                    <Icon path=icon::LOGOUT class="h-4 w-4" />
                    <span>"Log out"</span>
                </button>
            </ActionForm>
        </div>
    }
}

/// Layout for every signed-in page.
#[component]
pub fn AppShell() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    provide_context(CurrentUser(user));
    view! {
        <Suspense fallback=|| view! { <div class="p-10 text-sm text-slate-500">"Loading…"</div> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(u)) => view! { <SignedInLayout user=u /> }.into_any(),
                    Ok(None) => view! { <Redirect path="/login" /> }.into_any(),
                    Err(e) => view! {
                        <div class="mx-auto mt-24 max-w-md rounded-2xl bg-white p-8 text-center shadow-sm ring-1 ring-slate-200">
                            <h1 class="text-lg font-semibold">"Something went wrong"</h1>
                            <p class="mt-2 text-sm text-slate-600">{e.message}</p>
                            <a href="/login" class="mt-6 inline-block text-sm font-semibold text-indigo-600">"Back to log in"</a>
                        </div>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SignedInLayout(user: UserView) -> impl IntoView {
    view! {
        <div class="min-h-full lg:pl-64">
            <aside class="fixed inset-y-0 left-0 z-20 hidden w-64 flex-col bg-slate-950 px-4 py-6 lg:flex" aria-label="Main navigation">
                <a href="/dashboard" class="px-2 text-white"><Logo /></a>
                <nav class="mt-10 flex flex-1 flex-col gap-1"><NavLinks /></nav>
                <div class="rounded-xl bg-gradient-to-br from-indigo-500/20 to-fuchsia-500/10 p-4 ring-1 ring-white/10">
                    <p class="text-xs font-semibold uppercase tracking-wide text-indigo-200">{format!("{} plan", user.tier.name)}</p>
                    <p class="mt-1 text-xs leading-5 text-slate-300">{format!("{} a minute", count_of(user.tier.requests_per_minute, "request"))}</p>
                    <a href="/settings#plan" class="mt-2 inline-block text-xs font-semibold text-white hover:underline">"See limits →"</a>
                </div>
            </aside>
            <div class="sticky top-0 z-10 border-b border-slate-200 bg-white/80 backdrop-blur">
                <div class="flex h-16 items-center justify-between gap-4 px-4 sm:px-8">
                    <div class="lg:hidden"><Logo /></div>
                    <div class="hidden lg:block"></div>
                    <UserMenu user=user.clone() />
                </div>
                <nav class="flex gap-1 overflow-x-auto bg-slate-950 px-3 py-2 lg:hidden" aria-label="Main navigation"><NavLinks /></nav>
            </div>
            <main class="px-4 py-8 sm:px-8 lg:py-10">
                <div class="mx-auto max-w-5xl"><Outlet /></div>
            </main>
        </div>
    }
}
