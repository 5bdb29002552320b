//! `/api-reference`: the REST API's reference, rendered from the same
//! OpenAPI document `/api/openapi.json` serves (so it needs no internet
//! access and cannot disagree with it): operations by tag, each with its
//! parameters, body and every response, then the shapes they name.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    components::{Card, LoadError},
    model::{ApiField, ApiOperation, ApiReference, ApiShape},
    pages::placeholder::PageHeader,
    server_fns::get_api_reference,
};

#[component]
pub fn ApiReferencePage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_api_reference());
    view! {
        <Title text="API reference" />
        <PageHeader title="API reference" description="The REST API: accounts, keys, the marketplace, installations, publishing and tool calls. MCP clients connect to /mcp instead." />
        <Suspense fallback=|| view! { <p class="py-10 text-sm text-slate-500" role="status">"Loading the reference…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(r) => view! { <Reference reference=r /> }.into_any(),
                    Err(e) => view! { <LoadError what="the API reference" error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Reference(reference: ApiReference) -> impl IntoView {
    view! {
        <div class="space-y-8">
            <p class="text-sm text-slate-600">
                {reference.description}
                " The machine-readable document (OpenAPI 3.1) is "
                <a href="/api/openapi.json" class="font-semibold text-indigo-600 hover:text-indigo-500" data-testid="openapi-link">"/api/openapi.json"</a>"."
            </p>
            <nav aria-label="Sections" class="flex flex-wrap gap-2">
                {reference.groups.iter().map(|g| view! {
                    <a href=format!("#{}", g.tag) class="rounded-full bg-white px-3 py-1 text-sm font-medium text-slate-700 ring-1 ring-slate-200 hover:bg-slate-50">{g.tag.clone()}</a>
                }).collect_view()}
                <a href="#shapes" class="rounded-full bg-white px-3 py-1 text-sm font-medium text-slate-700 ring-1 ring-slate-200 hover:bg-slate-50">"shapes"</a>
            </nav>
            {reference.groups.into_iter().map(|g| { let id = g.tag.clone(); view! {
                <section id=id class="space-y-4">
                    <h2 class="text-lg font-semibold text-slate-900">{g.tag}</h2>
                    <p class="text-sm text-slate-600">{g.description}</p>
                    {g.operations.into_iter().map(|op| view! { <Operation op=op /> }).collect_view()}
                </section>
            }}).collect_view()}
            <section id="shapes" class="space-y-4">
                <h2 class="text-lg font-semibold text-slate-900">"Shapes"</h2>
                {reference.shapes.into_iter().map(|s| view! { <Shape shape=s /> }).collect_view()}
            </section>
        </div>
    }
}

fn method_class(method: &str) -> &'static str {
    match method {
        "GET" => "bg-sky-100 text-sky-800",
        "POST" => "bg-emerald-100 text-emerald-800",
        "PATCH" => "bg-amber-100 text-amber-800",
        "DELETE" => "bg-rose-100 text-rose-800",
        _ => "bg-slate-100 text-slate-800",
    }
}

#[component]
fn Operation(op: ApiOperation) -> impl IntoView {
    let id = format!("{} {}", op.method, op.path);
    view! {
        <article class="rounded-2xl bg-white p-5 shadow-sm ring-1 ring-slate-200/80" data-testid="operation" data-operation=id>
            <h3 class="flex flex-wrap items-center gap-2 font-mono text-sm">
                <span class=format!("rounded px-2 py-0.5 text-xs font-bold {}", method_class(&op.method))>{op.method.clone()}</span>
                <span class="font-semibold text-slate-900">{op.path.clone()}</span>
                {op.public.then(|| view! { <span class="rounded bg-slate-100 px-2 py-0.5 font-sans text-xs text-slate-600">"public"</span> })}
            </h3>
            <p class="mt-2 text-sm text-slate-800">{op.summary}</p>
            {(!op.description.is_empty()).then(|| view! { <p class="mt-1 text-sm text-slate-600">{op.description}</p> })}
            {(!op.parameters.is_empty()).then(|| view! { <Fields title="Parameters" fields=op.parameters /> })}
            {op.body.map(|b| view! {
                <p class="mt-3 text-sm"><span class="font-medium text-slate-700">"Body: "</span><ShapeLink kind=b /></p>
            })}
            <table class="mt-3 w-full text-left text-sm">
                <caption class="sr-only">"Responses"</caption>
                <thead><tr class="text-xs uppercase text-slate-500"><th class="py-1 pr-4">"Status"</th><th class="py-1 pr-4">"Meaning"</th><th class="py-1">"Body"</th></tr></thead>
                <tbody>
                    {op.responses.into_iter().map(|r| view! {
                        <tr class="border-t border-slate-100 align-top">
                            <td class="py-1.5 pr-4 font-mono">{r.status}</td>
                            <td class="py-1.5 pr-4 text-slate-700">{r.description}</td>
                            <td class="py-1.5">{r.body.map(|b| view! { <ShapeLink kind=b /> })}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </article>
    }
}

/// A type, linked to its shape when it names one.
#[component]
fn ShapeLink(kind: String) -> impl IntoView {
    let named = kind.chars().next().is_some_and(char::is_uppercase) && kind.chars().all(char::is_alphanumeric);
    if named {
        let href = format!("#shape-{kind}");
        view! { <a href=href class="font-mono text-indigo-600 hover:text-indigo-500">{kind}</a> }.into_any()
    } else {
        view! { <span class="font-mono text-slate-700">{kind}</span> }.into_any()
    }
}

#[component]
fn Fields(#[prop(into)] title: String, fields: Vec<ApiField>) -> impl IntoView {
    view! {
        <table class="mt-3 w-full text-left text-sm">
            <caption class="mb-1 text-left text-xs font-semibold uppercase text-slate-500">{title}</caption>
            <tbody>
                {fields.into_iter().map(|f| view! {
                    <tr class="border-t border-slate-100 align-top">
                        <td class="py-1.5 pr-4 font-mono text-slate-900">{f.name}{f.required.then_some(" *")}</td>
                        <td class="py-1.5 pr-4"><ShapeLink kind=f.kind /></td>
                        <td class="py-1.5 text-slate-600">{f.description}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn Shape(shape: ApiShape) -> impl IntoView {
    let id = format!("shape-{}", shape.name);
    let name = shape.name.clone();
    view! {
        <div id=id data-testid="shape" data-shape=name>
            <Card title=shape.name description=shape.description>
                <Fields title="Fields (* required)" fields=shape.fields />
            </Card>
        </div>
    }
}
