//! `/builder`: HTTP APIs turned into MCP tools without code.
//!
//! - `/builder` lists the user's builder servers, creates one (empty, or
//!   from a pasted definition: the design document's JSON works as is) and
//!   imports an OpenAPI document's chosen operations;
//! - `/builder/:id` edits one in the flow editor (`flow_editor`), with the
//!   definition as JSON beside it (export, import), the publisher's
//!   secrets and publishing.
//!
//! The list, create, import, JSON, secrets and publish forms work before
//! hydration (plain posts); the flow editor needs JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    components::{
        BUTTON_DANGER, BUTTON_PRIMARY, BUTTON_SECONDARY, Card, Chip, EmptyState, Field, FormAlert, LoadError,
        action_field_error, action_form_error, count_of, icon, short_date,
    },
    model::{BuilderDetail, BuilderSummary, BuilderTestView, ImportPreviewView},
    pages::{
        flow_editor::{Ed, FlowEditor},
        placeholder::PageHeader,
    },
    server_fns::{
        CreateBuilder, DeleteBuilder, ImportOpenapi, PreviewOpenapi, PublishBuilder, SaveBuilder, SetBuilderSecret,
        UnpublishBuilder, builder_server, builder_servers,
    },
};

const TEXTAREA: &str = "block w-full rounded-lg border border-slate-300 bg-white px-3.5 py-2.5 font-mono text-xs leading-5 shadow-sm outline-none transition focus:border-indigo-500 focus:ring-4 focus:ring-indigo-100";
const INPUT: &str = "block w-full rounded-lg border border-slate-300 bg-white px-3.5 py-2 text-sm shadow-sm outline-none transition focus:border-indigo-500 focus:ring-4 focus:ring-indigo-100";

/// The example the empty state offers: the design document's weather tool
/// against Open-Meteo (no key needed).
const EXAMPLE: &str = r#"{
  "tools": [{
    "name": "get_weather",
    "description": "The weather now at a place",
    "inputSchema": {"type": "object",
      "properties": {"latitude": {"type": "number"}, "longitude": {"type": "number"}},
      "required": ["latitude", "longitude"]},
    "action": {"type": "http_request", "config": {"method": "GET",
      "url": "https://api.open-meteo.com/v1/forecast",
      "params": {"latitude": "{{latitude}}", "longitude": "{{longitude}}", "current": "temperature_2m,weather_code"}}},
    "responseMapping": {"temperature": "{{data.current.temperature_2m}}", "code": "$.current.weather_code"}
  }]
}"#;

fn state_chip(state: &str) -> &'static str {
    match state {
        "published" => "bg-emerald-50 text-emerald-700 ring-emerald-200",
        "unpublished" => "bg-amber-50 text-amber-800 ring-amber-200",
        _ => "bg-slate-100 text-slate-700 ring-slate-200",
    }
}

#[component]
fn StateChip(#[prop(into)] state: String) -> impl IntoView {
    view! {
        <span class=format!("inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset {}", state_chip(&state))
            data-testid="builder-state">{state.clone()}</span>
    }
}

#[component]
pub fn BuilderPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| builder_servers());
    view! {
        <Title text="Builder" />
        <PageHeader title="Builder" description="Turn any HTTP API into MCP tools without code: describe the requests, map the response, test it live, publish it." />
        <div class="space-y-6">
            <Suspense fallback=|| view! { <p class="py-10 text-sm text-slate-500" role="status">"Loading your builder servers…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(list) => view! { <BuilderList list=list /> }.into_any(),
                        Err(e) => view! { <LoadError what="your builder servers" error=e /> }.into_any(),
                    }
                })}
            </Suspense>
            <NewBuilder />
            <ImportOpenApi />
        </div>
    }
}

#[component]
fn BuilderList(list: Vec<BuilderSummary>) -> impl IntoView {
    if list.is_empty() {
        return view! {
            <EmptyState title="No builder servers yet" message="Create one below, from nothing, from a definition, or from an OpenAPI document." icon_path=icon::BUILDER test_id="builder-empty" />
        }
        .into_any();
    }
    view! {
        <ul class="grid gap-4 sm:grid-cols-2" data-testid="builder-list">
            {list.into_iter().map(|s| view! {
                <li class="rounded-2xl bg-white p-5 shadow-sm ring-1 ring-slate-200/80" data-testid="builder-server" data-name=s.name.clone()>
                    <div class="flex items-center gap-2">
                        <h2 class="text-base font-semibold text-slate-900">
                            <a href=format!("/builder/{}", s.id) class="hover:underline">{s.name.clone()}</a>
                        </h2>
                        <StateChip state=s.state.clone() />
                        {s.published_version.clone().map(|v| view! { <Chip text=format!("v{v}") /> })}
                    </div>
                    <p class="mt-1 text-sm text-slate-600">{s.description.clone()}</p>
                    <p class="mt-2 text-xs text-slate-500">
                        {format!("{} · {} · {} · edited {}", count_of(s.tools.len() as i64, "tool"), count_of(s.install_count, "install"),
                            count_of(s.request_count, "call"), short_date(&s.updated_at))}
                    </p>
                    {(!s.problems.is_empty()).then(|| view! {
                        <p class="mt-2 text-xs text-amber-800">{format!("Not ready: {}", s.problems[0].1)}</p>
                    })}
                </li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn NewBuilder() -> impl IntoView {
    let create = ServerAction::<CreateBuilder>::new();
    let value = create.value();
    view! {
        <Card title="New builder server" description="A name, and optionally a definition to start from (the design document's JSON works as is; an exported definition too).">
            <ActionForm action=create attr:data-testid="new-builder">
                <div class="space-y-3">
                    <Field name="name" label="Name" placeholder="weather-tools" required=true error=action_field_error(value, "name") />
                    <div class="space-y-1.5">
                        <label for="new-definition" class="block text-sm font-medium text-slate-700">"Definition (optional)"</label>
                        <textarea id="new-definition" name="definition" rows="8" class=TEXTAREA placeholder=EXAMPLE></textarea>
                        <p class="text-xs font-medium text-rose-600" role="alert">{move || action_field_error(value, "definition").get()}</p>
                    </div>
                    <FormAlert message=action_form_error(value) />
                    <button type="submit" class=BUTTON_PRIMARY>"Create"</button>
                </div>
            </ActionForm>
        </Card>
    }
}

#[component]
fn ImportOpenApi() -> impl IntoView {
    let preview = ServerAction::<PreviewOpenapi>::new();
    let value = preview.value();
    let (document, set_document) = signal(String::new());
    let (url, set_url) = signal(String::new());
    view! {
        <Card title="Import from OpenAPI" description="An OpenAPI 3.0 or 3.1 document, JSON or YAML: paste it or give its URL, then choose the operations that become tools.">
            <ActionForm action=preview attr:data-testid="openapi-preview">
                <div class="space-y-3">
                    <div class="space-y-1.5">
                        <label for="openapi-document" class="block text-sm font-medium text-slate-700">"Document"</label>
                        <textarea id="openapi-document" name="document" rows="6" class=TEXTAREA
                            on:input=move |ev| set_document.set(event_target_value(&ev))
                            placeholder="openapi: 3.0.0 …"></textarea>
                    </div>
                    <div class="space-y-1.5">
                        <label for="openapi-url" class="block text-sm font-medium text-slate-700">"…or its URL"</label>
                        <input id="openapi-url" name="url" type="url" class=INPUT placeholder="https://api.example.com/openapi.json"
                            on:input=move |ev| set_url.set(event_target_value(&ev)) />
                    </div>
                    <p class="text-xs font-medium text-rose-600" role="alert">{move || {
                        action_field_error(value, "document").get().or_else(|| action_field_error(value, "url").get())
                    }}</p>
                    <FormAlert message=action_form_error(value) />
                    <button type="submit" class=BUTTON_SECONDARY>"Show operations"</button>
                </div>
            </ActionForm>
            {move || value.get().and_then(Result::ok).map(|p| view! {
                <ChooseOperations preview=p document=document.get_untracked() url=url.get_untracked() />
            })}
        </Card>
    }
}

#[component]
fn ChooseOperations(preview: ImportPreviewView, document: String, url: String) -> impl IntoView {
    let import = ServerAction::<ImportOpenapi>::new();
    let value = import.value();
    let (query, set_query) = signal(String::new());
    let base = preview.base_url.clone().unwrap_or_default();
    view! {
        <div class="mt-6 border-t border-slate-200 pt-5" data-testid="openapi-import">
        <ActionForm action=import>
            <input type="hidden" name="document" value=document />
            <input type="hidden" name="url" value=url />
            <h3 class="text-sm font-semibold text-slate-900">{format!("{}: {} operations", preview.title, preview.operations.len())}</h3>
            {preview.problems.iter().map(|p| view! { <p class="mt-1 text-xs text-amber-800">{p.clone()}</p> }).collect_view()}
            <label for="operation-search" class="sr-only">"Search operations"</label>
            <input id="operation-search" type="search" class=format!("{INPUT} mt-3") placeholder="Search operations"
                on:input=move |ev| set_query.set(event_target_value(&ev).to_lowercase()) />
            <ul class="mt-3 max-h-72 space-y-1 overflow-y-auto rounded-lg ring-1 ring-slate-200 p-2" data-testid="operations">
                {preview.operations.into_iter().enumerate().map(|(i, (name, method, path, summary))| {
                    let haystack = format!("{name} {method} {path} {summary}").to_lowercase();
                    let (label_for, id) = (format!("op-{i}"), format!("op-{i}"));
                    view! {
                        <li class:hidden=move || { let q = query.get(); !q.is_empty() && !haystack.contains(&q) }>
                            <label for=label_for class="flex items-start gap-2 rounded px-2 py-1 text-sm hover:bg-slate-50">
                                <input id=id type="checkbox" name=format!("operations[{i}]") value=name.clone() class="mt-1" />
                                <span>
                                    <span class="font-mono text-xs font-semibold">{format!("{method} {path}")}</span>
                                    <span class="ml-2 font-mono text-xs text-indigo-700">{name.clone()}</span>
                                    <span class="block text-xs text-slate-500">{summary}</span>
                                </span>
                            </label>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <div class="mt-4 grid gap-3 sm:grid-cols-2">
                <div class="space-y-1.5">
                    <label for="import-name" class="block text-sm font-medium text-slate-700">"Server name"</label>
                    <input id="import-name" name="name" required=true class=INPUT />
                    <p class="text-xs font-medium text-rose-600" role="alert">{move || action_field_error(value, "name").get()}</p>
                </div>
                <div class="space-y-1.5">
                    <label for="import-base" class="block text-sm font-medium text-slate-700">"Base URL"</label>
                    <input id="import-base" name="base_url" class=INPUT value=base />
                    <p class="text-xs font-medium text-rose-600" role="alert">{move || action_field_error(value, "baseUrl").get()}</p>
                </div>
            </div>
            <p class="text-xs font-medium text-rose-600" role="alert">{move || action_field_error(value, "operations").get()}</p>
            <FormAlert message=action_form_error(value) />
            <button type="submit" class=format!("{BUTTON_PRIMARY} mt-2")>"Create server from the chosen operations"</button>
        </ActionForm>
        </div>
    }
}

#[component]
pub fn BuilderEditorPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let save = ServerAction::<SaveBuilder>::new();
    let secret = ServerAction::<SetBuilderSecret>::new();
    let publish = ServerAction::<PublishBuilder>::new();
    let unpublish = ServerAction::<UnpublishBuilder>::new();
    let detail = Resource::new(
        move || {
            (id(), save.version().get(), secret.version().get(), publish.version().get(), unpublish.version().get())
        },
        |(id, ..)| builder_server(id),
    );
    view! {
        <Title text="Builder" />
        <Suspense fallback=|| view! { <p class="py-10 text-sm text-slate-500" role="status">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! { <Editor detail=d save=save secret=secret publish=publish unpublish=unpublish /> }.into_any(),
                    Err(e) => view! { <LoadError what="this builder server" error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Editor(
    detail: BuilderDetail,
    save: ServerAction<SaveBuilder>,
    secret: ServerAction<SetBuilderSecret>,
    publish: ServerAction<PublishBuilder>,
    unpublish: ServerAction<UnpublishBuilder>,
) -> impl IntoView {
    let s = detail.summary.clone();
    let id = s.id.clone();
    let (id_save, id_publish, id_unpublish, id_delete) = (id.clone(), id.clone(), id.clone(), id.clone());
    let delete = ServerAction::<DeleteBuilder>::new();
    let export = format!("data:application/json;charset=utf-8,{}", js_uri_encode(&detail.definition));
    let saved = save.value();
    let published = publish.value();
    let ed = Ed::new(&detail.definition);
    let download = format!("{}.json", s.name);
    let confirm = format!("Yes, delete {} and its installations", s.name);
    view! {
        <header class="mb-6 flex flex-wrap items-center gap-3">
            <a href="/builder" class="text-sm text-indigo-600 hover:underline">"← Builder"</a>
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900" data-testid="builder-name">{s.name.clone()}</h1>
            <StateChip state=s.state.clone() />
            {s.published_version.clone().map(|v| view! { <Chip text=format!("v{v}") /> })}
            {detail.server_url.clone().map(|u| view! { <a href=u class="text-sm text-indigo-600 hover:underline">"Marketplace page"</a> })}
        </header>
        <div class="space-y-6">
            {(!s.problems.is_empty()).then(|| view! {
                <div class="rounded-xl bg-amber-50 px-4 py-3 text-sm text-amber-900 ring-1 ring-amber-200" role="status" data-testid="builder-problems">
                    <p class="font-semibold">"Not ready to test or publish"</p>
                    {s.problems.iter().map(|(f, m)| view! { <p><code class="font-mono text-xs">{f.clone()}</code>": "{m.clone()}</p> }).collect_view()}
                </div>
            })}
            <FlowEditor id=id.clone() ed=ed />
            <details class="rounded-2xl bg-white p-6 shadow-sm ring-1 ring-slate-200/80">
                <summary class="cursor-pointer text-sm font-semibold text-slate-900">"Edit as JSON, export, import"</summary>
                <p class="mt-2 text-sm text-slate-500">"The tools as data: steps, templates ({{argument}}, {{config.NAME}}, {{secrets.NAME}}, {{steps.ID.x}}) and the response mapping ({{data.x}} or a JSONPath such as $.x[0].y). Paste a definition to import it."</p>
                <ActionForm action=save attr:data-testid="builder-save">
                    <input type="hidden" name="id" value=id_save />
                    <label for="definition" class="sr-only">"Definition"</label>
                    <textarea id="definition" name="definition" rows="22" class=format!("{TEXTAREA} mt-3") spellcheck="false">{detail.definition.clone()}</textarea>
                    <p class="mt-1 text-xs font-medium text-rose-600" role="alert">{move || {
                        saved.get().and_then(Result::err).map(|e| match e.field { Some(f) => format!("{f}: {}", e.message), None => e.message })
                    }}</p>
                    <div class="mt-3 flex flex-wrap items-center gap-3">
                        <button type="submit" class=BUTTON_SECONDARY>"Save this JSON"</button>
                        <a class=BUTTON_SECONDARY href=export download=download>"Export JSON"</a>
                    </div>
                </ActionForm>
            </details>
            {(!detail.secrets.is_empty()).then(|| view! { <Secrets id=id.clone() secrets=detail.secrets.clone() action=secret /> })}
            <Card title="Publish" description="Publishing lists the server in the marketplace; each new version reaches the users who installed it at once (their clients are told the tools changed).">
                <ActionForm action=publish attr:data-testid="builder-publish">
                    <input type="hidden" name="id" value=id_publish />
                    <div class="flex flex-wrap items-end gap-3">
                        <div class="space-y-1.5">
                            <label for="publish-version" class="block text-sm font-medium text-slate-700">"Version"</label>
                            <input id="publish-version" name="version" class=INPUT placeholder="next" />
                        </div>
                        <button type="submit" class=BUTTON_PRIMARY>"Publish"</button>
                    </div>
                    {move || ed.dirty.get().then(|| view! { <p class="mt-2 text-sm text-amber-800">"You have unsaved changes: publishing takes the saved draft."</p> })}
                    <p class="mt-2 text-sm" role="status">{move || published.get().map(|r| match r {
                        Ok(v) => view! { <span class="text-emerald-700" data-testid="published-version">{format!("Published version {v}.")}</span> }.into_any(),
                        Err(e) => view! { <span class="text-rose-700">{e.message}</span> }.into_any(),
                    })}</p>
                </ActionForm>
                {(s.state == "published").then(|| view! {
                    <div class="mt-4">
                    <ActionForm action=unpublish>
                        <input type="hidden" name="id" value=id_unpublish />
                        <button type="submit" class=BUTTON_DANGER>"Unpublish"</button>
                    </ActionForm>
                    </div>
                })}
                {(!detail.versions.is_empty()).then(|| view! {
                    <ul class="mt-4 text-xs text-slate-500" data-testid="builder-versions">
                        {detail.versions.iter().map(|(v, at)| view! { <li>{format!("v{v} · {}", short_date(at))}</li> }).collect_view()}
                    </ul>
                })}
            </Card>
            <Card title="Delete" description="Deletes the server for good: its draft, its versions and, once published, everyone's installations of it.">
                <ActionForm action=delete attr:data-testid="builder-delete">
                    <input type="hidden" name="id" value=id_delete />
                    <label class="flex items-center gap-2 text-sm text-slate-700">
                        <input type="checkbox" required=true />
                        {confirm}
                    </label>
                    <button type="submit" class=format!("{BUTTON_DANGER} mt-3")>"Delete this server"</button>
                    <FormAlert message=action_form_error(delete.value()) />
                </ActionForm>
            </Card>
        </div>
    }
}

/// `encodeURIComponent`, for the export link.
fn js_uri_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
fn Secrets(id: String, secrets: Vec<(String, bool)>, action: ServerAction<SetBuilderSecret>) -> impl IntoView {
    let value = action.value();
    view! {
        <Card title="Secrets" description="Your API keys for the tools ({{secrets.NAME}}): sealed, never shown again, never sent to the people who install the server.">
            <ul class="space-y-3">
                {secrets.into_iter().map(|(name, set)| {
                    let field = format!("secret-{name}");
                    let id = id.clone();
                    view! {
                        <li>
                            <ActionForm action=action attr:data-testid="builder-secret">
                                <div class="flex flex-wrap items-end gap-3">
                                <input type="hidden" name="id" value=id />
                                <input type="hidden" name="name" value=name.clone() />
                                <div class="space-y-1.5">
                                    <label for=field.clone() class="block font-mono text-sm font-medium text-slate-700">{name.clone()}</label>
                                    <input id=field type="password" name="value" autocomplete="off" class=INPUT
                                        placeholder=if set { "set (type to replace, empty to remove)" } else { "not set" } />
                                </div>
                                <button type="submit" class=BUTTON_SECONDARY>"Save secret"</button>
                                <span class="text-xs text-slate-500" data-testid="secret-state">{if set { "set" } else { "not set" }}</span>
                                </div>
                            </ActionForm>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <FormAlert message=action_form_error(value) />
        </Card>
    }
}

#[component]
pub fn TestResult(result: BuilderTestView) -> impl IntoView {
    let (label, tone) = if result.is_error { ("Tool error", "text-rose-700") } else { ("Success", "text-emerald-700") };
    view! {
        <div class="mt-5 space-y-4" data-testid="test-result" data-error=result.is_error.to_string()>
            <p class=format!("text-sm font-semibold {tone}")>{format!("{label} · {} ms", result.elapsed_ms)}</p>
            {result.exchanges.into_iter().map(|e| view! {
                <div class="rounded-lg ring-1 ring-slate-200" data-testid="exchange">
                    <p class="border-b border-slate-200 bg-slate-50 px-3 py-2 font-mono text-xs">
                        <span class="font-semibold">{format!("{} · {} ", e.step, e.method)}</span>
                        <span class="break-all">{e.url}</span>
                        <span class="ml-2 text-slate-500">{format!("→ {} · {} ms", e.status.map(|s| s.to_string()).unwrap_or_else(|| "no answer".into()), e.elapsed_ms)}</span>
                    </p>
                    <pre class="max-h-64 overflow-auto px-3 py-2 font-mono text-xs leading-5">{e.response}</pre>
                </div>
            }).collect_view()}
            <div>
                <p class="text-xs font-semibold uppercase tracking-wide text-slate-500">"Result, as a client gets it"</p>
                <pre class="mt-1 max-h-80 overflow-auto rounded-lg bg-slate-950 p-3 font-mono text-xs leading-5 text-slate-100" data-testid="test-output">{result.result}</pre>
            </div>
        </div>
    }
}
