//! `/oauth/consent`: the signed-in user decides whether an application
//! (claude.ai, ChatGPT, an IDE, an SDK client) may use their OmniMCP
//! servers, and which. A plain HTML form posted to `/oauth/consent` (the
//! server's OAuth flow), so it works the same before and without the WASM.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_query_map};

use crate::{
    components::{BUTTON_PRIMARY, Logo, url_encode},
    model::{ConsentInstallation, ConsentView},
    server_fns::oauth_consent,
};

#[component]
pub fn ConsentPage() -> impl IntoView {
    let query = use_query_map();
    let request = move || query.with(|q| q.get("request").unwrap_or_default());
    let problem = move || query.with(|q| q.get("problem"));
    let consent = Resource::new(request, oauth_consent);
    view! {
        <Title text="Authorize an application" />
        <main class="flex min-h-full items-start justify-center bg-slate-50 px-4 py-12 sm:py-20">
            <div class="w-full max-w-lg">
                <div class="mb-8 flex justify-center text-slate-900"><Logo /></div>
                <Suspense fallback=|| view! { <p class="text-center text-sm text-slate-500">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match consent.await {
                            Ok(Some(view)) => view! { <ConsentForm view=view problem=problem() /> }.into_any(),
                            Ok(None) => {
                                let next = format!("/oauth/consent?request={}", request());
                                view! { <Redirect path=format!("/login?next={}", url_encode(&next)) /> }.into_any()
                            }
                            Err(e) => view! {
                                <div class="rounded-2xl bg-white p-8 shadow-sm ring-1 ring-slate-200" data-testid="consent-error">
                                    <h1 class="text-lg font-semibold text-slate-900">"This request cannot be authorized"</h1>
                                    <p class="mt-2 text-sm text-slate-600">{e.message}</p>
                                    <a href="/dashboard" class="mt-6 inline-block text-sm font-semibold text-indigo-600">"Back to OmniMCP"</a>
                                </div>
                            }.into_any(),
                        }
                    })}
                </Suspense>
            </div>
        </main>
    }
}

#[component]
fn ConsentForm(view: ConsentView, problem: Option<String>) -> impl IntoView {
    let initial = view.client_name.chars().next().unwrap_or('?').to_uppercase().to_string();
    let has_installations = !view.installations.is_empty();
    view! {
        <div class="rounded-2xl bg-white shadow-sm ring-1 ring-slate-200" data-testid="consent">
            <div class="border-b border-slate-100 p-6 sm:p-8">
                <div class="flex items-center gap-4">
                    {match view.logo_uri.clone() {
                        Some(logo) => view! {
                            <img src=logo alt="" width="48" height="48" referrerpolicy="no-referrer" class="h-12 w-12 shrink-0 rounded-xl object-contain ring-1 ring-slate-200" data-testid="consent-logo" />
                        }.into_any(),
                        None => view! {
                            <span class="inline-flex h-12 w-12 shrink-0 items-center justify-center rounded-xl bg-gradient-to-br from-indigo-500 to-violet-500 text-lg font-semibold text-white" aria-hidden="true">{initial.clone()}</span>
                        }.into_any(),
                    }}
                    <div>
                        <h1 class="text-lg font-semibold text-slate-900">
                            <span data-testid="consent-client">{view.client_name.clone()}</span>" wants to use your MCP servers"
                        </h1>
                        <p class="text-sm text-slate-500">{format!("Signed in as {}", view.user_email)}</p>
                    </div>
                </div>
                <dl class="mt-6 space-y-2 text-sm">
                    <div class="flex gap-3"><dt class="w-28 shrink-0 text-slate-500">"Identified by"</dt><dd class="break-all text-slate-900" data-testid="consent-identified">{view.identified_by.clone()}</dd></div>
                    <div class="flex gap-3"><dt class="w-28 shrink-0 text-slate-500">"Sends you to"</dt><dd class="break-all font-mono text-slate-900" data-testid="consent-redirect">{view.redirect_host.clone()}</dd></div>
                    {view.client_uri.clone().map(|uri| view! {
                        <div class="flex gap-3"><dt class="w-28 shrink-0 text-slate-500">"Home page"</dt><dd class="break-all text-slate-900">{uri}</dd></div>
                    })}
                </dl>
                <p class="mt-4 text-xs text-slate-500">"Only allow applications you trust. You can revoke access at any time in Settings → Connected applications."</p>
            </div>
            <form method="post" action="/oauth/consent" class="space-y-6 p-6 sm:p-8">
                <input type="hidden" name="request" value=view.request.clone() />
                <input type="hidden" name="consent_token" value=view.consent_token.clone() />
                {problem.map(|_| view! {
                    <p class="rounded-lg bg-rose-50 px-4 py-3 text-sm text-rose-800" role="alert">"Choose at least one server, or allow all of them."</p>
                })}
                <fieldset>
                    <legend class="text-sm font-semibold text-slate-900">"What it may reach"</legend>
                    <label class="mt-3 flex items-start gap-3 text-sm text-slate-700">
                        <input type="radio" name="reach" value="all" checked=true class="mt-0.5 h-4 w-4 border-slate-300 text-indigo-600" data-testid="reach-all" />
                        <span>"All my installed servers"<span class="block text-slate-500">"Including servers you install later."</span></span>
                    </label>
                    <label class="mt-2 flex items-start gap-3 text-sm text-slate-700">
                        <input type="radio" name="reach" value="chosen" class="mt-0.5 h-4 w-4 border-slate-300 text-indigo-600" data-testid="reach-chosen" disabled=!has_installations />
                        <span>"Only the servers and tools chosen below"</span>
                    </label>
                    <div class="mt-3 space-y-3 rounded-xl bg-slate-50 p-4">
                        {if has_installations {
                            view.installations.into_iter().map(|i| view! { <InstallationChoice installation=i /> }).collect_view().into_any()
                        } else {
                            view! { <p class="text-sm text-slate-500">"You have not installed any server yet."</p> }.into_any()
                        }}
                    </div>
                </fieldset>
                <label class="flex items-start gap-3 text-sm text-slate-700">
                    <input type="checkbox" name="call_tools" value="on" checked=!view.read_only_requested class="mt-0.5 h-4 w-4 rounded border-slate-300 text-indigo-600" data-testid="call-tools" />
                    <span>"Allow calling tools"<span class="block text-slate-500">"Without this it may only list tools and read resources and prompts."</span></span>
                </label>
                <div class="flex flex-col-reverse gap-3 sm:flex-row sm:justify-end">
                    <button type="submit" name="decision" value="deny" class="inline-flex items-center justify-center rounded-lg px-4 py-2.5 text-sm font-semibold text-slate-700 ring-1 ring-slate-300 hover:bg-slate-50" data-testid="consent-deny">"Deny"</button>
                    <button type="submit" name="decision" value="allow" class=BUTTON_PRIMARY data-testid="consent-allow">"Allow"</button>
                </div>
            </form>
        </div>
    }
}

#[component]
fn InstallationChoice(installation: ConsentInstallation) -> impl IntoView {
    let ConsentInstallation { id, name, tools } = installation;
    view! {
        <div>
            <label class="flex items-center gap-3 text-sm font-medium text-slate-900">
                <input type="checkbox" name="installation" value=id checked=true class="h-4 w-4 rounded border-slate-300 text-indigo-600" />
                {name}
            </label>
            <div class="ml-7 mt-1 flex flex-wrap gap-x-4 gap-y-1">
                {tools.into_iter().map(|tool| view! {
                    <label class="flex items-center gap-2 font-mono text-xs text-slate-600">
                        <input type="checkbox" name="tool" value=tool.clone() checked=true class="h-3.5 w-3.5 rounded border-slate-300 text-indigo-600" />
                        {tool}
                    </label>
                }).collect_view()}
            </div>
        </div>
    }
}
