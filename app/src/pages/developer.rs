//! `/developer`: the servers the user publishes (health, installs, calls
//! and errors from every user, tools, latest calls) and how to deploy.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    components::{
        BUTTON_DANGER, Card, Chip, EmptyState, FormAlert, HealthBadge, LoadError, ServerMark, ShownOnce,
        action_form_error, count_of, icon, short_date,
    },
    model::{CallStatus, DeployedServer, DeveloperView, HostingType, RotatedSecret},
    pages::placeholder::PageHeader,
    server_fns::{RotateWebhookSecret, developer, take_rotated_secret},
};

#[component]
pub fn DeveloperPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| developer());
    view! {
        <Title text="Developer" />
        <PageHeader title="Developer" description="The MCP servers you publish: their health and traffic, and how to deploy another." />
        <Suspense fallback=|| view! { <p class="py-10 text-sm text-slate-500" role="status">"Loading your servers…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <Servers data=d /> }.into_any(),
                    Err(e) => view! { <LoadError what="your servers" error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The deploy call, for this platform.
fn deploy_snippet(url: &str) -> String {
    format!(
        r#"curl -s {url} -H "authorization: Bearer $OMNI_KEY" \
  -H 'content-type: application/json' -d '{{
    "name": "my-tools", "hostingType": "developer_hosted",
    "callbackUrl": "https://tools.example.com/omnimcp",
    "tools": [{{"name": "hello", "description": "Say hello",
               "inputSchema": {{"type": "object", "properties": {{"name": {{"type": "string"}}}}}}}}]}}'"#
    )
}

#[component]
fn Servers(data: DeveloperView) -> impl IntoView {
    let snippet = deploy_snippet(&data.deploy_url);
    let rotate = ServerAction::<RotateWebhookSecret>::new();
    // A secret rotated by a plain form post (before hydration) arrives here.
    let flashed = Resource::new(|| (), |_| take_rotated_secret());
    let rotated_value = rotate.value();
    view! {
        <div class="space-y-6">
            {(!data.can_publish).then(|| view! {
                <p class="rounded-xl bg-amber-50 px-4 py-3 text-sm text-amber-900 ring-1 ring-amber-200" role="status">
                    "Your plan cannot publish servers. "<a href="/settings#plan" class="font-semibold underline">"See your plan"</a>
                </p>
            })}
            {if data.servers.is_empty() {
                view! {
                    <EmptyState title="No published servers yet" message="Deploy a server with the Rust SDK or the deploy API below; it appears here and in the marketplace." icon_path=icon::DEVELOPER test_id="developer-empty" />
                }.into_any()
            } else {
                view! {
                    <ul class="space-y-4" data-testid="deployed">
                        {data.servers.into_iter().map(|s| view! { <Deployed server=s rotate=rotate /> }).collect_view()}
                    </ul>
                    <FormAlert message=action_form_error(rotated_value) />
                    <Suspense>
                        {move || Suspend::new(async move {
                            let flashed = flashed.await.ok().flatten();
                            let secret = Signal::derive(move || {
                                rotated_value.get().and_then(Result::ok).or_else(|| flashed.clone())
                            });
                            view! { <NewSecret secret=secret /> }
                        })}
                    </Suspense>
                }.into_any()
            }}
            <Card title="Deploy a server" description="With an API key from Settings. The webhook secret is in the answer to the first deploy only: keep it; your service checks every call with it.">
                <pre class="overflow-x-auto rounded-lg bg-slate-950 p-4 font-mono text-xs leading-5 text-slate-100"><code>{snippet}</code></pre>
                <p class="mt-3 text-sm text-slate-600">
                    "To rotate a webhook secret, use a server's “Rotate secret” button above (or "
                    <code class="rounded bg-slate-100 px-1 font-mono text-xs">"POST /api/servers/{id}/rotate-secret"</code>
                    "): the new secret is shown once, and the old one stops working at once."
                </p>
            </Card>
        </div>
    }
}

/// The one-time display of a rotated webhook secret.
#[component]
fn NewSecret(secret: Signal<Option<RotatedSecret>>) -> impl IntoView {
    view! {
        {move || secret.get().map(|r| view! {
            <ShownOnce id="new-secret" title="New webhook secret" data_server_id=r.server_id
                message="Copy it into your service now: it will not be shown again, and the old secret no longer works."
                label="New webhook secret" value=r.webhook_secret />
        })}
    }
}

#[component]
fn Deployed(server: DeployedServer, rotate: ServerAction<RotateWebhookSecret>) -> impl IntoView {
    let s = server.summary.clone();
    let error_rate = if server.calls_30d > 0 {
        format!("{:.1}%", server.errors_30d as f64 * 100.0 / server.calls_30d as f64)
    } else {
        "–".to_string()
    };
    let stats = [
        ("Installs", count_of(s.install_count, "install")),
        ("Calls, 30 days", count_of(server.calls_30d, "call")),
        ("Errors, 30 days", format!("{} ({error_rate})", server.errors_30d)),
        ("All-time calls", count_of(s.request_count, "call")),
    ];
    view! {
        <li class="rounded-2xl bg-white p-5 shadow-sm ring-1 ring-slate-200/80" data-testid="deployed-server" data-slug=s.slug.clone()>
            <div class="flex items-start gap-4">
                <ServerMark name=s.name.clone() />
                <div class="min-w-0 flex-1">
                    <div class="flex flex-wrap items-center gap-2">
                        <h2 class="text-base font-semibold text-slate-900">
                            <a href=format!("/marketplace/{}", s.id) class="hover:underline">{s.name.clone()}</a>
                        </h2>
                        <Chip text=s.hosting_type.label() />
                        <HealthBadge status=s.health_status />
                    </div>
                    <p class="mt-0.5 font-mono text-xs text-slate-500">
                        {format!("{} · v{}", s.slug, s.version)}
                        {server.last_health_check_at.as_deref().map(|t| format!(" · checked {}", short_date(t)))}
                    </p>
                    {server.endpoint.clone().map(|e| view! { <p class="mt-1 break-all font-mono text-xs text-slate-600">{e}</p> })}
                </div>
                {(s.hosting_type == HostingType::DeveloperHosted).then(|| {
                    let (id, label) = (s.id.clone(), format!("Rotate the webhook secret of {}", s.name));
                    view! {
                    <ActionForm action=rotate>
                        <input type="hidden" name="server_id" value=id />
                        <button type="submit" class=BUTTON_DANGER aria-label=label>"Rotate secret"</button>
                    </ActionForm>
                    }
                })}
            </div>
            <dl class="mt-4 grid grid-cols-2 gap-3 sm:grid-cols-4">
                {stats.into_iter().map(|(k, v)| view! {
                    <div class="rounded-xl bg-slate-50 px-3 py-2.5 ring-1 ring-slate-200/80">
                        <dt class="text-xs text-slate-500">{k}</dt>
                        <dd class="mt-0.5 text-sm font-semibold tabular-nums text-slate-900">{v}</dd>
                    </div>
                }).collect_view()}
            </dl>
            <div class="mt-4 flex flex-wrap gap-1.5">
                {server.tools.iter().map(|t| view! { <Chip text=format!("{}.{t}", s.slug) /> }).collect_view()}
            </div>
            {if server.recent.is_empty() {
                view! { <p class="mt-4 text-sm text-slate-500">"No calls yet."</p> }.into_any()
            } else {
                view! {
                    <div class="mt-4 overflow-x-auto">
                    <table class="min-w-full text-sm" data-testid="deployed-recent">
                        <caption class="sr-only">{format!("Latest calls to {}", s.name)}</caption>
                        <thead class="text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
                            <tr><th scope="col" class="py-1.5 pr-4">"When (UTC)"</th><th scope="col" class="py-1.5 pr-4">"Tool"</th><th scope="col" class="py-1.5 pr-4">"Status"</th><th scope="col" class="py-1.5 text-right">"Time"</th></tr>
                        </thead>
                        <tbody class="divide-y divide-slate-100">
                            {server.recent.iter().map(|r| view! {
                                <tr>
                                    <td class="whitespace-nowrap py-2 pr-4 text-slate-600">{format!("{} {}", short_date(&r.at), r.at.get(11..19).unwrap_or_default())}</td>
                                    <td class="py-2 pr-4 font-mono text-xs">{r.tool.clone().unwrap_or_else(|| r.request_type.clone())}</td>
                                    <td class="py-2 pr-4">{if r.status == CallStatus::Ok { "OK".to_string() } else { r.error_class.clone().unwrap_or_else(|| "error".into()) }}</td>
                                    <td class="py-2 text-right tabular-nums text-slate-600">{format!("{} ms", r.response_time_ms)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }.into_any()
            }}
        </li>
    }
}
