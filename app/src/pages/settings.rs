//! `/settings`: profile, plan limits, and API keys (create, shown once with
//! a copy button; list; revoke).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    components::{
        BUTTON_DANGER, BUTTON_PRIMARY, Card, Field, FormAlert, Icon, ShownOnce, action_field_error, action_form_error,
        icon, short_date, thousands,
    },
    model::{ApiKeyView, ConnectedAppView, CreatedApiKey, UserView},
    pages::{placeholder::PageHeader, shell::CurrentUser},
    server_fns::{
        ChangePassword, CreateApiKey, RevokeApiKey, RevokeConnectedApp, connected_apps, list_api_keys, take_new_api_key,
    },
};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let CurrentUser(user) = expect_context::<CurrentUser>();
    view! {
        <Title text="Settings" />
        <PageHeader title="Settings" description="Your account, your plan and the keys your MCP clients use." />
        <div class="space-y-6">
            <Suspense>
                {move || Suspend::new(async move {
                    user.await.ok().flatten().map(|u| view! {
                        <div class="grid gap-6 md:grid-cols-2">
                            <Profile user=u.clone() />
                            <Plan user=u />
                        </div>
                    })
                })}
            </Suspense>
            <ApiKeys />
            <ConnectedApps />
            <PasswordChange />
        </div>
    }
}

#[component]
fn Profile(user: UserView) -> impl IntoView {
    view! {
        <Card title="Profile" description="How you sign in.">
            <dl class="space-y-3 text-sm">
                <div class="flex justify-between gap-4"><dt class="text-slate-500">"Email"</dt><dd class="font-medium text-slate-900">{user.email}</dd></div>
                <div class="flex justify-between gap-4"><dt class="text-slate-500">"Role"</dt><dd class="font-medium capitalize text-slate-900">{user.role}</dd></div>
                <div class="flex justify-between gap-4"><dt class="text-slate-500">"Member since"</dt><dd class="font-medium text-slate-900">{short_date(&user.created_at)}</dd></div>
            </dl>
        </Card>
    }
}

#[component]
fn Plan(user: UserView) -> impl IntoView {
    let t = user.tier;
    let rows = [
        ("Requests per minute", thousands(t.requests_per_minute)),
        ("Requests per month", thousands(t.requests_per_month)),
        ("Installed servers", thousands(t.max_installations)),
        ("Publish MCP servers", if t.can_publish { "Yes".to_string() } else { "No".to_string() }),
    ];
    view! {
        <div id="plan">
            <Card title=format!("{} plan", t.name) description="Your subscription tier and its limits.">
                <dl class="space-y-3 text-sm">
                    {rows.into_iter().map(|(k, v)| view! {
                        <div class="flex justify-between gap-4"><dt class="text-slate-500">{k}</dt><dd class="font-medium tabular-nums text-slate-900">{v}</dd></div>
                    }).collect_view()}
                </dl>
            </Card>
        </div>
    }
}

#[component]
fn ApiKeys() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_api_keys());
    // A key created by a plain form post (before hydration) arrives here.
    let flashed = Resource::new(|| (), |_| take_new_api_key());
    let created_value = create.value();
    let new_key = Signal::derive(move || created_value.get().and_then(Result::ok));

    view! {
        <Card title="API keys" description="MCP clients, the SDK and the REST API send a key as the Authorization: Bearer header. A key is shown once, when it is created.">
            <ActionForm action=create attr:class="flex flex-col gap-3 sm:flex-row sm:items-start" attr:novalidate=true>
                <div class="flex-1">
                    <Field name="name" label="Key name" placeholder="e.g. Claude Desktop" required=true error=action_field_error(created_value, "name") />
                </div>
                <button type="submit" class=format!("{BUTTON_PRIMARY} sm:mt-7") disabled=move || create.pending().get()>
                    <Icon path=icon::KEY class="h-4 w-4" />
                    {move || if create.pending().get() { "Creating…" } else { "Create key" }}
                </button>
            </ActionForm>
            <FormAlert message=action_form_error(created_value) />
            <Suspense>
                {move || Suspend::new(async move {
                    let flashed = flashed.await.ok().flatten();
                    view! { <NewKey key=Signal::derive(move || new_key.get().or_else(|| flashed.clone())) /> }
                })}
            </Suspense>
            <FormAlert message=action_form_error(revoke.value()) />
            <div class="mt-6">
                <Suspense fallback=|| view! { <p class="py-6 text-sm text-slate-500">"Loading keys…"</p> }>
                    {move || Suspend::new(async move {
                        match keys.await {
                            Ok(list) if list.is_empty() => view! {
                                <div class="rounded-xl border border-dashed border-slate-300 px-6 py-10 text-center" data-testid="keys-empty">
                                    <span class="mx-auto inline-flex h-10 w-10 items-center justify-center rounded-full bg-slate-100 text-slate-500"><Icon path=icon::KEY /></span>
                                    <p class="mt-3 text-sm font-medium text-slate-900">"No API keys yet"</p>
                                    <p class="mt-1 text-sm text-slate-500">"Create one to connect an MCP client."</p>
                                </div>
                            }.into_any(),
                            Ok(list) => view! { <KeyTable keys=list revoke=revoke /> }.into_any(),
                            Err(e) => view! {
                                <p class="rounded-lg bg-rose-50 px-4 py-3 text-sm text-rose-800" role="alert">{format!("Could not load your keys: {}", e.message)}</p>
                            }.into_any(),
                        }
                    })}
                </Suspense>
            </div>
        </Card>
    }
}

/// Applications the user authorized with OAuth (claude.ai, ChatGPT, IDEs):
/// each with what it reaches and when it was last used, revocable at once.
#[component]
fn ConnectedApps() -> impl IntoView {
    let revoke = ServerAction::<RevokeConnectedApp>::new();
    let apps = Resource::new(move || revoke.version().get(), |_| connected_apps());
    view! {
        <div id="connected-apps">
            <Card title="Connected applications" description="Applications you signed in to OmniMCP with OAuth. Revoking one ends its access at once.">
                <FormAlert message=action_form_error(revoke.value()) />
                <Suspense fallback=|| view! { <p class="py-6 text-sm text-slate-500">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match apps.await {
                            Ok(list) if list.is_empty() => view! {
                                <p class="rounded-xl border border-dashed border-slate-300 px-6 py-6 text-center text-sm text-slate-500" data-testid="apps-empty">
                                    "No application is connected. Add this platform's /mcp URL to claude.ai, ChatGPT or your IDE and sign in."
                                </p>
                            }.into_any(),
                            Ok(list) => view! { <AppTable apps=list revoke=revoke /> }.into_any(),
                            Err(e) => view! {
                                <p class="rounded-lg bg-rose-50 px-4 py-3 text-sm text-rose-800" role="alert">{format!("Could not load your applications: {}", e.message)}</p>
                            }.into_any(),
                        }
                    })}
                </Suspense>
            </Card>
        </div>
    }
}

#[component]
fn AppTable(apps: Vec<ConnectedAppView>, revoke: ServerAction<RevokeConnectedApp>) -> impl IntoView {
    view! {
        <div class="overflow-x-auto rounded-xl ring-1 ring-slate-200">
            <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid="apps-table">
                <thead class="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
                    <tr>
                        <th scope="col" class="px-4 py-3">"Application"</th>
                        <th scope="col" class="px-4 py-3">"May"</th>
                        <th scope="col" class="px-4 py-3">"Connected"</th>
                        <th scope="col" class="px-4 py-3">"Last used"</th>
                        <th scope="col" class="px-4 py-3"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 bg-white">
                    {apps.into_iter().map(|a| view! {
                        <tr data-testid="app-row">
                            <td class="px-4 py-3">
                                <p class="font-medium text-slate-900">{a.client_name.clone()}</p>
                                <p class="max-w-xs truncate text-xs text-slate-500" title=a.identified_by.clone()>{a.identified_by.clone()}</p>
                            </td>
                            <td class="px-4 py-3 text-slate-600">
                                <p>{a.reach.clone()}</p>
                                <p class="font-mono text-xs text-slate-500">{a.scopes.clone()}</p>
                            </td>
                            <td class="px-4 py-3 text-slate-600">{short_date(&a.created_at)}</td>
                            <td class="px-4 py-3 text-slate-600">{a.last_used_at.as_deref().map(short_date).unwrap_or_else(|| "Never".into())}</td>
                            <td class="px-4 py-3 text-right">
                                <ActionForm action=revoke>
                                    <input type="hidden" name="id" value=a.id.clone() />
                                    <button type="submit" class=BUTTON_DANGER aria-label=format!("Revoke {}", a.client_name)>"Revoke"</button>
                                </ActionForm>
                            </td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// Changing the password: works as a plain form post; success lands on
/// `/settings?password=changed`.
#[component]
fn PasswordChange() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let value = change.value();
    let query = leptos_router::hooks::use_query_map();
    let changed = move || query.with(|q| q.get("password").as_deref() == Some("changed"));
    let keys_revoked = move || query.with(|q| q.get("keys").as_deref() == Some("revoked"));
    view! {
        <Card title="Change password" description="You stay signed in here; every other session is signed out.">
            <ActionForm action=change attr:class="space-y-4 max-w-md" attr:novalidate=true>
                <Field name="current_password" label="Current password" kind="password" autocomplete="current-password" required=true error=action_field_error(value, "current_password") />
                <Field name="new_password" label="New password" kind="password" autocomplete="new-password" hint="At least 10 characters." required=true error=action_field_error(value, "new_password") />
                <label class="flex items-start gap-3 text-sm text-slate-700">
                    <input type="checkbox" name="revoke_api_keys" value="on" checked=true class="mt-0.5 h-4 w-4 rounded border-slate-300 text-indigo-600 focus:ring-indigo-500" data-testid="revoke-api-keys" />
                    <span>"Also revoke all my API keys"<span class="block text-slate-500">"Recommended if someone else may have known your password: keys they created stop working."</span></span>
                </label>
                <button type="submit" class=BUTTON_PRIMARY disabled=move || change.pending().get()>
                    {move || if change.pending().get() { "Changing…" } else { "Change password" }}
                </button>
            </ActionForm>
            <FormAlert message=action_form_error(value) />
            <Show when=changed>
                <p class="mt-4 rounded-lg bg-emerald-50 px-4 py-3 text-sm text-emerald-800" role="status" data-testid="password-changed">
                    "Password changed. Other sessions have been signed out"
                    {move || if keys_revoked() { " and your API keys have been revoked." } else { "." }}
                </p>
            </Show>
        </Card>
    }
}

/// The one-time display of a new key.
#[component]
fn NewKey(key: Signal<Option<CreatedApiKey>>) -> impl IntoView {
    view! {
        {move || key.get().map(|k| view! {
            <ShownOnce id="new-key" title=format!("Key “{}” created", k.meta.name)
                message="Copy it now: for your security it will not be shown again."
                label="New API key" value=k.key />
        })}
    }
}

#[component]
fn KeyTable(keys: Vec<ApiKeyView>, revoke: ServerAction<RevokeApiKey>) -> impl IntoView {
    view! {
        <div class="overflow-x-auto rounded-xl ring-1 ring-slate-200">
            <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid="keys-table">
                <thead class="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
                    <tr>
                        <th scope="col" class="px-4 py-3">"Name"</th>
                        <th scope="col" class="px-4 py-3">"Key"</th>
                        <th scope="col" class="px-4 py-3">"Created"</th>
                        <th scope="col" class="px-4 py-3">"Last used"</th>
                        <th scope="col" class="px-4 py-3"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 bg-white">
                    {keys.into_iter().map(|k| view! {
                        <tr data-testid="key-row">
                            <td class="px-4 py-3 font-medium text-slate-900">{k.name.clone()}</td>
                            <td class="px-4 py-3 font-mono text-slate-600">{format!("{}…", k.prefix)}</td>
                            <td class="px-4 py-3 text-slate-600">{short_date(&k.created_at)}</td>
                            <td class="px-4 py-3 text-slate-600">{k.last_used_at.as_deref().map(short_date).unwrap_or_else(|| "Never".into())}</td>
                            <td class="px-4 py-3 text-right">
                                <ActionForm action=revoke>
                                    <input type="hidden" name="id" value=k.id.clone() />
                                    <button type="submit" class=BUTTON_DANGER aria-label=format!("Revoke key {}", k.name)>"Revoke"</button>
                                </ActionForm>
                            </td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
