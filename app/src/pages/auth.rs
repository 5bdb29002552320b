//! `/login` and `/register`: forms that work as plain HTML posts before the
//! WASM loads, and as server-function calls after.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::{
    components::{BUTTON_PRIMARY, Field, FormAlert, Logo, action_field_error, action_form_error},
    server_fns::{Login, Register},
};

/// The split layout both auth pages share: a pitch on the left, the form on
/// the right (stacked on small screens).
#[component]
fn AuthLayout(#[prop(into)] heading: String, #[prop(into)] sub: String, children: Children) -> impl IntoView {
    view! {
        <div class="flex min-h-full">
            <div class="relative hidden w-0 flex-1 overflow-hidden bg-slate-950 lg:flex lg:flex-col lg:justify-between lg:p-12">
                <div class="pointer-events-none absolute inset-0 bg-[radial-gradient(ellipse_at_top_left,rgba(99,102,241,0.35),transparent_55%),radial-gradient(ellipse_at_bottom_right,rgba(217,70,239,0.25),transparent_50%)]"></div>
                <div class="relative text-white"><Logo large=true /></div>
                <div class="relative max-w-md text-white">
                    <h2 class="text-3xl font-semibold leading-tight tracking-tight">"Every tool your AI needs, behind one endpoint."</h2>
                    <p class="mt-4 text-base leading-7 text-slate-300">
                        "Connect Claude, ChatGPT or your own agent once. Install MCP servers from the marketplace, bring your own, and keep every credential encrypted and every call logged."
                    </p>
                    <ul class="mt-8 space-y-3 text-sm text-slate-300">
                        <li class="flex items-center gap-3"><span class="h-1.5 w-1.5 rounded-full bg-indigo-400"></span>"One MCP URL and one API key for all your servers"</li>
                        <li class="flex items-center gap-3"><span class="h-1.5 w-1.5 rounded-full bg-violet-400"></span>"Official GitHub, Slack, Notion, Weather and Calculator servers"</li>
                        <li class="flex items-center gap-3"><span class="h-1.5 w-1.5 rounded-full bg-fuchsia-400"></span>"Publish your own tools with the Rust SDK"</li>
                    </ul>
                </div>
                <p class="relative text-xs text-slate-500">"Model Context Protocol · both protocol eras"</p>
            </div>
            <main class="flex flex-1 flex-col justify-center px-6 py-12 sm:px-12 lg:flex-none lg:w-[32rem]">
                <div class="mx-auto w-full max-w-sm">
                    <div class="lg:hidden"><Logo /></div>
                    <h1 class="mt-8 text-2xl font-semibold tracking-tight text-slate-900 lg:mt-0">{heading}</h1>
                    <p class="mt-2 text-sm text-slate-600">{sub}</p>
                    <div class="mt-8">{children()}</div>
                </div>
            </main>
        </div>
    }
}

/// The `next` query parameter, carried through the form (and to the other
/// auth page's link) so that signing in returns to where it was asked for.
fn next_param() -> Signal<Option<String>> {
    let query = leptos_router::hooks::use_query_map();
    Signal::derive(move || query.with(|q| q.get("next")))
}

/// The hidden `next` field, when there is one.
#[component]
fn NextField(next: Signal<Option<String>>) -> impl IntoView {
    move || next.get().map(|n| view! { <input type="hidden" name="next" value=n /> })
}

/// After signing in with a `next`, loads it as a new document (the server
/// function leaves that redirect to the page; see `server_fns`).
fn load_next_on_success(
    value: impl Get<Value = Option<Result<(), crate::model::FormError>>> + 'static,
    next: Signal<Option<String>>,
) {
    Effect::new(move |_| {
        if matches!(value.get(), Some(Ok(()))) {
            if let Some(n) = next.get_untracked() {
                let target = crate::server_fns::after_sign_in(Some(&n)).to_string();
                let _ = window().location().set_href(&target);
            }
        }
    });
}

/// A link to the other auth page that keeps `next`.
fn with_next(path: &'static str, next: Signal<Option<String>>) -> impl Fn() -> String {
    move || match next.get() {
        Some(n) => format!("{path}?next={}", crate::components::url_encode(&n)),
        None => path.to_string(),
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let value = action.value();
    let next = next_param();
    load_next_on_success(value, next);
    view! {
        <Title text="Log in" />
        <AuthLayout heading="Welcome back" sub="Log in to manage your MCP servers and keys.">
            <ActionForm action=action attr:class="space-y-5" attr:novalidate=true>
                <FormAlert message=action_form_error(value) />
                <NextField next=next />
                <Field name="email" label="Email address" kind="email" autocomplete="email" required=true error=action_field_error(value, "email") />
                <Field name="password" label="Password" kind="password" autocomplete="current-password" required=true error=action_field_error(value, "password") />
                <button type="submit" class=format!("{BUTTON_PRIMARY} w-full") disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Logging in…" } else { "Log in" }}
                </button>
            </ActionForm>
            <p class="mt-8 text-center text-sm text-slate-600">
                "New to OmniMCP? "
                <A href=with_next("/register", next) attr:class="font-semibold text-indigo-600 hover:text-indigo-500">"Create an account"</A>
            </p>
        </AuthLayout>
    }
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    let action = ServerAction::<Register>::new();
    let value = action.value();
    let next = next_param();
    load_next_on_success(value, next);
    view! {
        <Title text="Create your account" />
        <AuthLayout heading="Create your account" sub="Free forever for trying things out. No card needed.">
            <ActionForm action=action attr:class="space-y-5" attr:novalidate=true>
                <FormAlert message=action_form_error(value) />
                <NextField next=next />
                <Field name="email" label="Email address" kind="email" autocomplete="email" required=true error=action_field_error(value, "email") />
                <Field
                    name="password"
                    label="Password"
                    kind="password"
                    autocomplete="new-password"
                    hint="At least 10 characters. A passphrase works well."
                    required=true
                    error=action_field_error(value, "password")
                />
                <button type="submit" class=format!("{BUTTON_PRIMARY} w-full") disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Creating account…" } else { "Create account" }}
                </button>
            </ActionForm>
            <p class="mt-8 text-center text-sm text-slate-600">
                "Already have an account? "
                <A href=with_next("/login", next) attr:class="font-semibold text-indigo-600 hover:text-indigo-500">"Log in"</A>
            </p>
        </AuthLayout>
    }
}
