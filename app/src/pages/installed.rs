//! `/installed`: the user's servers (enable, disable, configure with
//! write-only secrets, uninstall; health and 30-day usage), their MCP
//! endpoint with copyable client configs, and a "try it" panel that calls a
//! tool through the same pipeline as any MCP client.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    components::{
        BUTTON_DANGER, BUTTON_PRIMARY, BUTTON_SECONDARY, Card, Chip, ConfigField, CopyButton, EmptyState, FormAlert,
        HealthBadge, Icon, LoadError, ServerMark, action_form_error, count_of, icon, short_date,
    },
    model::{FormError, InstalledServer, TryOutcome, TryResult, schema_fields},
    pages::placeholder::PageHeader,
    server_fns::{SetInstallationEnabled, TryTool, Uninstall, UpdateInstallationConfig, installed, take_try_result},
};

/// The actions every row shares (one instance each, so their results and
/// errors survive the list's reload; errors name the installation).
#[derive(Clone, Copy)]
struct RowActions {
    toggle: ServerAction<SetInstallationEnabled>,
    save: ServerAction<UpdateInstallationConfig>,
    uninstall: ServerAction<Uninstall>,
}

#[component]
pub fn InstalledPage() -> impl IntoView {
    let actions = RowActions { toggle: ServerAction::new(), save: ServerAction::new(), uninstall: ServerAction::new() };
    let overview = Resource::new(
        move || (actions.toggle.version().get(), actions.save.version().get(), actions.uninstall.version().get()),
        |_| installed(),
    );
    // A "try it" call made by a plain form post (before hydration) arrives here.
    let flashed = Resource::new(|| (), |_| take_try_result());
    view! {
        <Title text="Installed" />
        <PageHeader title="Installed" description="The servers your MCP endpoint exposes, and how to connect a client to it." />
        <FormAlert message=action_form_error(actions.toggle.value()) />
        <FormAlert message=action_form_error(actions.uninstall.value()) />
        <Transition fallback=|| view! { <p class="py-10 text-sm text-slate-500" role="status">"Loading your servers…"</p> }>
            {move || Suspend::new(async move {
                let flashed = flashed.await.ok().flatten();
                match overview.await {
                    Ok(o) => {
                        let (servers, endpoint_url) = (o.servers, o.endpoint_url);
                        let tools: Vec<String> = servers.iter()
                            .filter(|s| s.installation.enabled)
                            .flat_map(|s| s.tools.iter().map(|t| format!("{}.{t}", s.installation.server_slug)).collect::<Vec<_>>())
                            .collect();
                        view! {
                            <div class="space-y-6">
                                {if servers.is_empty() {
                                    view! {
                                        <EmptyState title="No servers installed yet" message="Install servers from the marketplace; their tools appear on your MCP endpoint at once." icon_path=icon::INSTALLED test_id="installed-empty">
                                            <a href="/marketplace" class=BUTTON_PRIMARY>"Browse the marketplace"</a>
                                        </EmptyState>
                                    }.into_any()
                                } else {
                                    view! {
                                        <ul class="space-y-4" data-testid="installations">
                                            {servers.into_iter().map(|s| view! { <ServerRow server=s actions=actions /> }).collect_view()}
                                        </ul>
                                    }.into_any()
                                }}
                                <Endpoint url=endpoint_url />
                                {(!tools.is_empty()).then(|| view! { <TryPanel tools=tools.clone() flashed=flashed.clone() /> })}
                            </div>
                        }.into_any()
                    }
                    Err(e) => view! { <LoadError what="your servers" error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The error of the last save, if it was about this installation: the
/// server function names it as `{id}` or `{id}/config.field`.
fn row_error(value: Option<Result<crate::model::InstallationView, FormError>>, id: &str) -> Option<FormError> {
    value
        .and_then(Result::err)
        .filter(|e| e.field.as_deref().is_some_and(|f| f == id || f.starts_with(&format!("{id}/"))))
}

#[component]
fn ServerRow(server: InstalledServer, actions: RowActions) -> impl IntoView {
    let inst = server.installation.clone();
    let id = inst.id.clone();
    let name = inst.server_name.clone();
    let fields = server.config_schema.as_ref().map(schema_fields).unwrap_or_default();
    let save_value = actions.save.value();
    let saved_here = {
        let id = id.clone();
        move || save_value.with(|v| matches!(v, Some(Ok(i)) if i.id == id))
    };
    let error_here = {
        let id = id.clone();
        move || row_error(save_value.get(), &id)
    };
    let open = saved_here() || error_here().is_some();
    let status = if inst.enabled {
        view! { <span class="rounded-full bg-emerald-50 px-2 py-0.5 text-xs font-medium text-emerald-700 ring-1 ring-inset ring-emerald-200">"Enabled"</span> }.into_any()
    } else {
        view! { <span class="rounded-full bg-slate-100 px-2 py-0.5 text-xs font-medium text-slate-600 ring-1 ring-inset ring-slate-200">"Disabled"</span> }.into_any()
    };
    let error_rate = if server.calls_30d > 0 {
        format!("{:.1}% errors", server.errors_30d as f64 * 100.0 / server.calls_30d as f64)
    } else {
        "no errors".to_string()
    };
    // ActionForm children are `move` closures: each gets its own copies.
    let (toggle_id, uninstall_id) = (id.clone(), id.clone());
    let toggle_label = format!("{} {name}", if inst.enabled { "Disable" } else { "Enable" });
    let uninstall_label = format!("Uninstall {name}");
    let next_enabled = if inst.enabled { "false" } else { "true" };
    let config_form = (!fields.is_empty()).then(|| {
        let form_error = Signal::derive({
            let (error_here, row_id) = (error_here.clone(), id.clone());
            move || error_here().filter(|e| e.field.as_deref() == Some(row_id.as_str())).map(|e| e.message)
        });
        let inputs = fields
            .into_iter()
            .map(|f| {
                let value = inst.config.get(&f.name).map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
                let saved = inst.secrets_set.contains(&f.name);
                let key = format!("{id}/config.{}", f.name);
                let error_here = error_here.clone();
                let error = Signal::derive(move || error_here().filter(|e| e.field.as_deref() == Some(key.as_str())).map(|e| e.message));
                view! { <ConfigField field=f value=value secret_saved=saved error=error form_id=format!("{}-", inst.server_slug) /> }
            })
            .collect_view();
        let saved = saved_here().then(|| view! { <span class="inline-flex items-center gap-1 text-sm text-emerald-700" role="status"><Icon path=icon::CHECK class="h-4 w-4" />"Saved"</span> });
        let save_id = id.clone();
        view! {
            <details class="group mt-4 rounded-xl bg-slate-50 ring-1 ring-slate-200/80" open=open>
                <summary class="cursor-pointer select-none rounded-xl px-4 py-3 text-sm font-medium text-slate-700 hover:text-slate-900 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-600">
                    {format!("Configuration of {name}")}
                </summary>
                <ActionForm action=actions.save attr:class="space-y-3 px-4 pb-4" attr:novalidate=true>
                    <input type="hidden" name="id" value=save_id />
                    <FormAlert message=form_error />
                    {inputs}
                    <div class="flex items-center gap-3">
                        <button type="submit" class=BUTTON_PRIMARY>"Save settings"</button>
                        {saved}
                    </div>
                </ActionForm>
            </details>
        }
    });
    view! {
        <li class="rounded-2xl bg-white p-5 shadow-sm ring-1 ring-slate-200/80" data-testid="installation" data-slug=inst.server_slug.clone()>
            <div class="flex flex-col gap-4 sm:flex-row sm:items-start">
                <ServerMark name=name.clone() />
                <div class="min-w-0 flex-1">
                    <div class="flex flex-wrap items-center gap-2">
                        <h2 class="text-base font-semibold text-slate-900">
                            <a href=format!("/marketplace/{}", inst.server_id) class="hover:underline">{name.clone()}</a>
                        </h2>
                        {status}
                        <HealthBadge status=server.health_status />
                    </div>
                    <p class="mt-0.5 font-mono text-xs text-slate-500">{format!("{} · installed {}", inst.server_slug, short_date(&inst.created_at))}</p>
                    <p class="mt-2 text-sm text-slate-600" data-testid="usage">
                        <span class="font-semibold tabular-nums text-slate-900">{count_of(server.calls_30d, "call")}</span>
                        {format!(" in the last 30 days · {error_rate}")}
                    </p>
                    {server.connect.clone().map(|c| view! {
                        <p class="mt-2 text-sm" data-testid="connection">
                            {if c.connected {
                                view! { <span class="text-emerald-700">{format!("Connected to {}", c.provider)}</span>" · "<a href=c.url.clone() rel="external" class="font-semibold text-indigo-600 hover:underline">"Reconnect"</a> }.into_any()
                            } else {
                                view! { <span class="text-amber-700">"Not connected"</span>" · "<a href=c.url.clone() rel="external" class="font-semibold text-indigo-600 hover:underline" data-testid="connect">{format!("Connect {}", c.provider)}</a> }.into_any()
                            }}
                        </p>
                    })}
                    {(!server.tools.is_empty()).then(|| view! {
                        <div class="mt-3 flex flex-wrap gap-1.5">
                            {server.tools.iter().map(|t| view! { <Chip text=format!("{}.{t}", inst.server_slug) /> }).collect_view()}
                        </div>
                    })}
                </div>
                <div class="flex shrink-0 gap-2">
                    <ActionForm action=actions.toggle>
                        <input type="hidden" name="id" value=toggle_id />
                        <input type="hidden" name="enabled" value=next_enabled />
                        <button type="submit" class=BUTTON_SECONDARY aria-label=toggle_label>
                            {if inst.enabled { "Disable" } else { "Enable" }}
                        </button>
                    </ActionForm>
                    <ActionForm action=actions.uninstall>
                        <input type="hidden" name="id" value=uninstall_id />
                        <button type="submit" class=BUTTON_DANGER aria-label=uninstall_label>"Uninstall"</button>
                    </ActionForm>
                </div>
            </div>
            {config_form}
        </li>
    }
}

/// The client configurations, each for this endpoint.
fn client_configs(url: &str) -> Vec<(&'static str, &'static str, String)> {
    let stdio = serde_json::json!({
        "mcpServers": {
            "omnimcp": {
                "command": "omnimcp",
                "args": ["connect", "--url", url],
                "env": { "OMNIMCP_API_KEY": "omni_..." }
            }
        }
    });
    let vscode = serde_json::json!({
        "inputs": [{ "type": "promptString", "id": "omnimcp-key", "description": "OmniMCP API key", "password": true }],
        "servers": {
            "omnimcp": {
                "type": "http",
                "url": url,
                "headers": { "Authorization": "Bearer ${input:omnimcp-key}" }
            }
        }
    });
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let python = PYTHON.replace("{URL}", url);
    vec![
        ("claude", "Claude Desktop", pretty(&stdio)),
        ("cursor", "Cursor", pretty(&stdio)),
        ("vscode", "VS Code", pretty(&vscode)),
        ("python", "Python SDK", python),
    ]
}

const PYTHON: &str = r#"import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

http = httpx2.AsyncClient(headers={"Authorization": "Bearer omni_..."})
async with Client(streamable_http_client("{URL}", http_client=http)) as client:
    print(await client.call_tool("calculator.evaluate", {"expression": "2^10"}))"#;

/// Where each client's config goes.
fn config_hint(client: &str) -> &'static str {
    match client {
        "claude" => "claude_desktop_config.json. The omnimcp binary bridges stdio to the endpoint (omnimcp connect).",
        "cursor" => "~/.cursor/mcp.json, through the same omnimcp connect bridge.",
        "vscode" => ".vscode/mcp.json. VS Code speaks Streamable HTTP and asks for the key once.",
        _ => "The official MCP Python SDK, straight to the endpoint over Streamable HTTP.",
    }
}

#[component]
fn Endpoint(url: String) -> impl IntoView {
    view! {
        <Card title="Your MCP endpoint" description="Every enabled server's tools, behind one URL. Clients send an API key as Authorization: Bearer.">
            <div class="flex gap-2">
                <label for="endpoint-url" class="sr-only">"MCP endpoint URL"</label>
                <input id="endpoint-url" readonly value=url.clone() data-testid="endpoint-url" on:focus=crate::components::select_all
                    class="block w-full rounded-lg border border-slate-300 bg-slate-50 px-3 py-2 font-mono text-sm text-slate-900" />
                <CopyButton text=url.clone() label="Copy the endpoint URL" />
            </div>
            <p class="mt-2 text-sm text-slate-500">
                "Replace omni_... with a key from "<a href="/settings" class="font-semibold text-indigo-600 hover:text-indigo-500">"Settings"</a>"."
            </p>
            <div class="mt-5 space-y-2">
                {client_configs(&url).into_iter().enumerate().map(|(i, (id, label, text))| view! {
                    <details class="rounded-xl ring-1 ring-slate-200" open={i == 0} data-testid=format!("client-{id}")>
                        <summary class="cursor-pointer select-none rounded-xl px-4 py-3 text-sm font-medium text-slate-800 hover:bg-slate-50 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-600">{label}</summary>
                        <div class="border-t border-slate-200 px-4 py-3">
                            <div class="flex items-start justify-between gap-3">
                                <p class="text-xs text-slate-500">{config_hint(id)}</p>
                                <CopyButton text=text.clone() label=format!("Copy the {label} configuration") />
                            </div>
                            <pre class="mt-3 overflow-x-auto rounded-lg bg-slate-950 p-4 font-mono text-xs leading-5 text-slate-100"><code>{text.clone()}</code></pre>
                        </div>
                    </details>
                }).collect_view()}
            </div>
        </Card>
    }
}

/// Calls a tool as an MCP client would; the call counts and is logged. A
/// plain form post works too: its outcome arrives as `flashed` (see
/// `take_try_result`), with the tool and arguments it was made with.
#[component]
fn TryPanel(tools: Vec<String>, flashed: Option<TryResult>) -> impl IntoView {
    let run = ServerAction::<TryTool>::new();
    let value = run.value();
    let (sent_tool, sent_arguments) =
        flashed.as_ref().map_or((String::new(), "{}".to_string()), |r| (r.tool.clone(), r.arguments.clone()));
    // The latest call's outcome: this page's, else the plain post's.
    let result = move || match value.get() {
        Some(Ok(r)) => Some(r),
        Some(Err(_)) => None,
        None => flashed.clone(),
    };
    // Input mistakes show here, the argument errors included.
    let error =
        Signal::derive(move || value.with(|v| v.as_ref().and_then(|r| r.as_ref().err()).map(|e| e.message.clone())));
    view! {
        <div id="try-it" class="scroll-mt-24">
            <Card title="Try it" description="Call a tool through your endpoint's pipeline: limits, checks and the request log apply.">
                <ActionForm action=run attr:class="space-y-4" attr:novalidate=true>
                    <div>
                        <label for="try-tool" class="mb-1.5 block text-sm font-medium text-slate-700">"Tool"</label>
                        <select id="try-tool" name="tool" class="block w-full rounded-lg border border-slate-300 bg-white px-3 py-2.5 font-mono text-sm shadow-sm outline-none focus:border-indigo-500 focus:ring-4 focus:ring-indigo-100">
                            {tools.into_iter().map(|t| view! { <option value=t.clone() selected=t == sent_tool>{t.clone()}</option> }).collect_view()}
                        </select>
                    </div>
                    <div>
                        <label for="try-arguments" class="mb-1.5 block text-sm font-medium text-slate-700">"Arguments (JSON)"</label>
                        <textarea id="try-arguments" name="arguments" rows="3" spellcheck="false"
                            class="block w-full rounded-lg border border-slate-300 bg-white px-3.5 py-2.5 font-mono text-sm shadow-sm outline-none focus:border-indigo-500 focus:ring-4 focus:ring-indigo-100">{sent_arguments}</textarea>
                    </div>
                    <FormAlert message=error />
                    <button type="submit" class=BUTTON_PRIMARY disabled=move || run.pending().get()>
                        {move || if run.pending().get() { "Calling…" } else { "Call tool" }}
                    </button>
                </ActionForm>
                {move || result().map(|r| view! { <TryOutcomeView result=r /> })}
            </Card>
        </div>
    }
}

/// One call's outcome: the result, the tool's own error, a limit the call
/// ran into (and when to retry), or a server that failed.
#[component]
fn TryOutcomeView(result: TryResult) -> impl IntoView {
    let tool = result.tool;
    let success = matches!(result.outcome, TryOutcome::Success { .. });
    match result.outcome {
        TryOutcome::Success { output } | TryOutcome::ToolError { output } => {
            let (outcome, class, icon_path, title) = if success {
                ("success", "text-emerald-700", icon::CHECK, format!("Result of {tool}"))
            } else {
                ("tool-error", "text-rose-700", icon::WARNING, format!("{tool} reported an error"))
            };
            view! {
                <div class="mt-5" role="status" data-testid="try-result" data-outcome=outcome>
                    <p class=format!("flex items-center gap-1.5 text-sm font-semibold {class}")>
                        <Icon path=icon_path class="h-4 w-4" />{title}
                    </p>
                    <pre class="mt-2 max-h-80 overflow-auto rounded-lg bg-slate-950 p-4 font-mono text-xs leading-5 text-slate-100"><code>{output}</code></pre>
                </div>
            }
            .into_any()
        }
        TryOutcome::Limited { message, retry_after_secs, retry_at } => view! {
            <div class="mt-5 flex gap-3 rounded-xl border border-amber-200 bg-amber-50 p-4" role="alert" data-testid="try-result" data-outcome="limited">
                <Icon path=icon::CLOCK class="mt-0.5 h-5 w-5 shrink-0 text-amber-600" />
                <div class="text-sm text-amber-900">
                    <p class="font-semibold">"Limit reached: the call was not made"</p>
                    <p class="mt-1">{message}</p>
                    <p class="mt-2" data-testid="retry-at" data-retry-after=retry_after_secs>
                        "You can call again at "<strong class="font-semibold">{retry_at}</strong>". "
                        "Refused calls do not count; your plan's limits are on "
                        <a href="/settings" class="font-semibold underline decoration-amber-400 underline-offset-2 hover:text-amber-700">"Settings"</a>"."
                    </p>
                </div>
            </div>
        }
        .into_any(),
        TryOutcome::Unavailable { message, timed_out } => view! {
            <div class="mt-5 flex gap-3 rounded-xl border border-rose-200 bg-rose-50 p-4" role="alert" data-testid="try-result" data-outcome="unavailable">
                <Icon path=icon::WARNING class="mt-0.5 h-5 w-5 shrink-0 text-rose-600" />
                <div class="min-w-0 text-sm text-rose-900">
                    <p class="font-semibold">
                        {if timed_out { "The server did not answer in time" } else { "The server could not complete the call" }}
                    </p>
                    <p class="mt-1 break-words">{message}</p>
                    <p class="mt-2">
                        {format!("The call to {tool} is in your request log as an error. See the server's health on the ")}
                        <a href="/dashboard" class="font-semibold underline decoration-rose-300 underline-offset-2 hover:text-rose-700">"Dashboard"</a>
                        ", or try again later; if it keeps failing, its developer has to fix it."
                    </p>
                </div>
            </div>
        }
        .into_any(),
    }
}
