//! `/marketplace` (search, filters, sort, pages of server cards) and
//! `/marketplace/{id}` (what a server offers, and the install form
//! generated from its config schema).
//!
//! The filters are a plain `GET` form: the URL is the state, so a search
//! works before hydration, survives a reload and can be shared. Installing
//! is an `ActionForm` that posts as HTML first.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{A, Form},
    hooks::{use_params_map, use_query_map},
};

use crate::{
    components::{
        BUTTON_PRIMARY, BUTTON_SECONDARY, Chip, ConfigField, EmptyState, FormAlert, HealthBadge, Icon, LoadError,
        ServerMark, action_field_error, action_form_error, count_of, icon,
    },
    model::{
        HostingType, MarketplaceQuery, PromptView, ResourceView, ServerDetail, ServerSummary, ToolView, schema_fields,
    },
    pages::placeholder::PageHeader,
    server_fns::{InstallServer, get_server, marketplace},
};

const SELECT: &str = "block w-full rounded-lg border border-slate-300 bg-white px-3 py-2.5 text-sm shadow-sm outline-none transition focus:border-indigo-500 focus:ring-4 focus:ring-indigo-100";

#[component]
pub fn MarketplacePage() -> impl IntoView {
    let params = use_query_map();
    let query = move || {
        params.with(|p| MarketplaceQuery {
            q: p.get("q"),
            category: p.get("category"),
            hosting_type: p.get("hostingType"),
            sort: p.get("sort"),
            cursor: p.get("cursor"),
        })
    };
    let page = Resource::new(query, |q| marketplace(q.q, q.category, q.hosting_type, q.sort, q.cursor));
    view! {
        <Title text="Marketplace" />
        <PageHeader title="Marketplace" description="MCP servers you can add to your endpoint: official ones the platform runs, and servers developers publish." />
        <Transition fallback=|| view! { <LoadingCards /> }>
            {move || Suspend::new(async move {
                let q = query();
                match page.await {
                    Ok(result) => view! {
                        <Filters query=q.clone() categories=result.categories.clone() />
                        <Results query=q servers=result.servers next_cursor=result.next_cursor />
                    }.into_any(),
                    Err(e) => view! {
                        <Filters query=MarketplaceQuery::default() categories=vec![] />
                        <LoadError what="the marketplace" error=e />
                        <a href="/marketplace" class="mt-4 inline-block text-sm font-semibold text-indigo-600 hover:text-indigo-500">"Start over"</a>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Search, category, hosting type and sort, as a `GET` form.
#[component]
fn Filters(query: MarketplaceQuery, categories: Vec<String>) -> impl IntoView {
    let category = query.category.clone().unwrap_or_default();
    let hosting = query.hosting_type.clone().unwrap_or_default();
    let sort = query.sort.clone().unwrap_or_default();
    view! {
        <Form method="GET" action="/marketplace" attr:class="mb-8 grid gap-3 rounded-2xl bg-white p-4 shadow-sm ring-1 ring-slate-200/80 sm:grid-cols-2 lg:grid-cols-[1fr_auto_auto_auto_auto] lg:items-end" attr:role="search">
            <div class="sm:col-span-2 lg:col-span-1">
                <label for="filter-q" class="mb-1.5 block text-xs font-semibold uppercase tracking-wide text-slate-500">"Search"</label>
                <div class="relative">
                    <span class="pointer-events-none absolute inset-y-0 left-3 flex items-center text-slate-400"><Icon path=icon::SEARCH class="h-4 w-4" /></span>
                    <input id="filter-q" name="q" type="search" value=query.q.clone().unwrap_or_default() placeholder="Name or description"
                        class="block w-full rounded-lg border border-slate-300 bg-white py-2.5 pl-9 pr-3 text-sm shadow-sm outline-none transition placeholder:text-slate-400 focus:border-indigo-500 focus:ring-4 focus:ring-indigo-100" />
                </div>
            </div>
            <div>
                <label for="filter-category" class="mb-1.5 block text-xs font-semibold uppercase tracking-wide text-slate-500">"Category"</label>
                <select id="filter-category" name="category" class=SELECT>
                    <option value="">"All categories"</option>
                    {categories.into_iter().map(|c| {
                        let selected = c == category;
                        view! { <option value=c.clone() selected=selected>{c.clone()}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div>
                <label for="filter-hosting" class="mb-1.5 block text-xs font-semibold uppercase tracking-wide text-slate-500">"Hosting"</label>
                <select id="filter-hosting" name="hostingType" class=SELECT>
                    <option value="">"Any hosting"</option>
                    {HostingType::ALL.iter().map(|h| view! { <option value=h.as_str() selected={h.as_str() == hosting}>{h.label()}</option> }).collect_view()}
                </select>
            </div>
            <div>
                <label for="filter-sort" class="mb-1.5 block text-xs font-semibold uppercase tracking-wide text-slate-500">"Sort by"</label>
                <select id="filter-sort" name="sort" class=SELECT>
                    <option value="popular" selected={sort != "newest"}>"Most used"</option>
                    <option value="newest" selected={sort == "newest"}>"Newest"</option>
                </select>
            </div>
            <button type="submit" class=BUTTON_PRIMARY>"Apply"</button>
        </Form>
    }
}

/// The cards, or the empty state, and the page links.
#[component]
fn Results(query: MarketplaceQuery, servers: Vec<ServerSummary>, next_cursor: Option<String>) -> impl IntoView {
    let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
    let filtered = set(&query.q) || set(&query.category) || set(&query.hosting_type);
    let has_cursor = set(&query.cursor);
    if servers.is_empty() {
        let message = if filtered {
            "No server matches these filters. Try other words or fewer filters."
        } else {
            "No servers are published yet. Deploy one with the SDK or the deploy API."
        };
        return view! {
            <EmptyState title="No servers found" message=message icon_path=icon::MARKETPLACE test_id="marketplace-empty">
                <a href="/marketplace" class=BUTTON_SECONDARY>"Clear filters"</a>
            </EmptyState>
        }
        .into_any();
    }
    let link_with = move |cursor: Option<&str>| {
        let mut parts = vec![];
        for (k, v) in [
            ("q", &query.q),
            ("category", &query.category),
            ("hostingType", &query.hosting_type),
            ("sort", &query.sort),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                parts.push(format!("{k}={}", encode(v)));
            }
        }
        if let Some(c) = cursor {
            parts.push(format!("cursor={}", encode(c)));
        }
        if parts.is_empty() { "/marketplace".to_string() } else { format!("/marketplace?{}", parts.join("&")) }
    };
    let first = has_cursor.then(|| link_with(None));
    let next = next_cursor.as_deref().map(|c| link_with(Some(c)));
    view! {
        <ul class="grid gap-4 sm:grid-cols-2 lg:grid-cols-3" data-testid="server-cards">
            {servers.into_iter().map(|s| view! { <ServerCard server=s /> }).collect_view()}
        </ul>
        <nav class="mt-8 flex items-center justify-between" aria-label="Pages">
            <div>{first.map(|href| view! {
                <a href=href class=BUTTON_SECONDARY><Icon path=icon::ARROW_LEFT class="h-4 w-4" />"First page"</a>
            })}</div>
            <div>{next.map(|href| view! {
                <a href=href class=BUTTON_SECONDARY rel="next">"Next page"<Icon path=icon::ARROW_RIGHT class="h-4 w-4" /></a>
            })}</div>
        </nav>
    }
    .into_any()
}

/// Percent-encodes a query value (what `URLSearchParams` would do).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
fn ServerCard(server: ServerSummary) -> impl IntoView {
    let href = format!("/marketplace/{}", server.id);
    view! {
        <li class="group relative flex flex-col rounded-2xl bg-white p-5 shadow-sm ring-1 ring-slate-200/80 transition hover:-translate-y-0.5 hover:shadow-md hover:ring-indigo-200 focus-within:ring-2 focus-within:ring-indigo-500" data-testid="server-card">
            <div class="flex items-start gap-3">
                <ServerMark name=server.name.clone() />
                <div class="min-w-0 flex-1">
                    <h2 class="truncate text-sm font-semibold text-slate-900">
                        // The whole card is the link's hit area; the name is its text.
                        <A href=href attr:class="outline-none after:absolute after:inset-0 after:rounded-2xl">{server.name.clone()}</A>
                    </h2>
                    <p class="truncate font-mono text-xs text-slate-500">{server.slug.clone()}</p>
                </div>
            </div>
            <p class="mt-3 line-clamp-3 flex-1 text-sm leading-6 text-slate-600">{server.description.clone()}</p>
            <div class="mt-4 flex flex-wrap gap-1.5">
                {(!server.category.is_empty()).then(|| view! { <Chip text=server.category.clone() /> })}
                <Chip text=server.hosting_type.label() />
            </div>
            <dl class="mt-4 flex items-center gap-5 border-t border-slate-100 pt-3 text-xs text-slate-500">
                <div><dt class="sr-only">"Installs"</dt><dd class="tabular-nums">{count_of(server.install_count, "install")}</dd></div>
                <div><dt class="sr-only">"Calls"</dt><dd class="tabular-nums">{count_of(server.request_count, "call")}</dd></div>
                <div class="ml-auto"><dt class="sr-only">"Health"</dt><dd><HealthBadge status=server.health_status /></dd></div>
            </dl>
        </li>
    }
}

/// Grey cards while the first page loads.
#[component]
fn LoadingCards() -> impl IntoView {
    view! {
        <p class="sr-only" role="status">"Loading servers…"</p>
        <ul class="grid gap-4 sm:grid-cols-2 lg:grid-cols-3" aria-hidden="true">
            {(0..6).map(|_| view! {
                <li class="h-48 animate-pulse rounded-2xl bg-white p-5 ring-1 ring-slate-200/80">
                    <div class="flex gap-3"><div class="h-10 w-10 rounded-xl bg-slate-200"></div><div class="flex-1 space-y-2"><div class="h-3 w-1/2 rounded bg-slate-200"></div><div class="h-3 w-1/3 rounded bg-slate-100"></div></div></div>
                    <div class="mt-5 space-y-2"><div class="h-3 rounded bg-slate-100"></div><div class="h-3 w-5/6 rounded bg-slate-100"></div></div>
                </li>
            }).collect_view()}
        </ul>
    }
}

// ---- /marketplace/{id} -----------------------------------------------------

#[component]
pub fn ServerPage() -> impl IntoView {
    let params = use_params_map();
    let install = ServerAction::<InstallServer>::new();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let detail = Resource::new(move || (id(), install.version().get()), |(id, _)| get_server(id));
    view! {
        <a href="/marketplace" class="mb-6 inline-flex items-center gap-1.5 text-sm font-medium text-slate-500 hover:text-slate-900">
            <Icon path=icon::ARROW_LEFT class="h-4 w-4" />"Marketplace"
        </a>
        <Transition fallback=|| view! { <p class="py-10 text-sm text-slate-500" role="status">"Loading server…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(server) => view! { <ServerDetailView server=server install=install /> }.into_any(),
                    Err(e) if e.code == "not_found" => {
                        #[cfg(feature = "ssr")]
                        if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
                            res.set_status(http::StatusCode::NOT_FOUND);
                        }
                        view! {
                            <Title text="Server not found" />
                            <EmptyState title="Server not found" message="It may have been removed, or the link is wrong." icon_path=icon::MARKETPLACE test_id="server-not-found">
                                <a href="/marketplace" class=BUTTON_SECONDARY>"Browse the marketplace"</a>
                            </EmptyState>
                        }.into_any()
                    }
                    Err(e) => view! { <LoadError what="this server" error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ServerDetailView(server: ServerDetail, install: ServerAction<InstallServer>) -> impl IntoView {
    let s = server.summary.clone();
    let slug = s.slug.clone();
    view! {
        <Title text=s.name.clone() />
        <header class="flex flex-col gap-5 sm:flex-row sm:items-start">
            <ServerMark name=s.name.clone() large=true />
            <div class="min-w-0 flex-1">
                <div class="flex flex-wrap items-center gap-x-3 gap-y-1">
                    <h1 class="text-2xl font-semibold tracking-tight text-slate-900">{s.name.clone()}</h1>
                    <HealthBadge status=s.health_status />
                </div>
                <p class="mt-1 font-mono text-xs text-slate-500">{format!("{} · v{}", s.slug, s.version)}</p>
                <p class="mt-3 max-w-2xl text-sm leading-6 text-slate-600">{s.description.clone()}</p>
                <div class="mt-4 flex flex-wrap items-center gap-2 text-xs text-slate-500">
                    {(!s.category.is_empty()).then(|| view! { <Chip text=s.category.clone() /> })}
                    <Chip text=s.hosting_type.label() />
                    {s.tags.iter().map(|t| view! { <Chip text=format!("#{t}") /> }).collect_view()}
                    <span class="ml-1" data-testid="install-count">{format!("{} · {}", count_of(s.install_count, "install"), count_of(s.request_count, "call"))}</span>
                </div>
            </div>
        </header>
        <div class="mt-8 grid gap-6 lg:grid-cols-[1fr_20rem]">
            <div class="space-y-6 lg:order-1">
                <section aria-labelledby="tools-heading">
                    <h2 id="tools-heading" class="mb-3 text-base font-semibold text-slate-900">{format!("Tools ({})", server.tools.len())}</h2>
                    {if server.tools.is_empty() {
                        view! { <p class="text-sm text-slate-500">"This server offers no tools."</p> }.into_any()
                    } else {
                        view! { <div class="space-y-3">{server.tools.iter().cloned().map(|t| view! { <ToolCard slug=slug.clone() tool=t /> }).collect_view()}</div> }.into_any()
                    }}
                </section>
                {(!server.resources.is_empty()).then(|| view! { <Resources resources=server.resources.clone() /> })}
                {(!server.prompts.is_empty()).then(|| view! { <Prompts prompts=server.prompts.clone() /> })}
            </div>
            <aside class="lg:order-2">
                <InstallPanel server=server.clone() install=install />
            </aside>
        </div>
    }
}

/// The install form (from the config schema), or "installed".
#[component]
fn InstallPanel(server: ServerDetail, install: ServerAction<InstallServer>) -> impl IntoView {
    let value = install.value();
    let fields = server.config_schema.as_ref().map(schema_fields).unwrap_or_default();
    let body = match server.installation_id {
        Some(_) => view! {
            <div class="rounded-xl bg-emerald-50 p-4 ring-1 ring-emerald-200" role="status" data-testid="installed">
                <p class="flex items-center gap-2 text-sm font-semibold text-emerald-900"><Icon path=icon::CHECK class="h-4 w-4" />"Installed"</p>
                <p class="mt-1 text-sm text-emerald-800">{format!("Its tools are on your MCP endpoint as {}.<tool>.", server.summary.slug)}</p>
                <a href="/installed" class="mt-3 inline-flex items-center gap-1 text-sm font-semibold text-emerald-900 hover:underline">"Manage installed servers"<Icon path=icon::ARROW_RIGHT class="h-4 w-4" /></a>
            </div>
        }
        .into_any(),
        None => view! {
            {server.connect.clone().map(|c| view! {
                <a href=c.url.clone() rel="external" class=format!("{BUTTON_PRIMARY} w-full") data-testid="connect">{format!("Connect with {}", c.provider)}</a>
                <p class="my-4 text-center text-xs text-slate-500">{if fields.is_empty() {
                    format!("Installs {} and signs you in to it.", server.summary.name)
                } else {
                    format!("Installs {} with your {} account, or paste a token below.", server.summary.name, c.provider)
                }}</p>
            })}
            <ActionForm action=install attr:class="space-y-4" attr:novalidate=true attr:aria-label="Install">
                <input type="hidden" name="server_id" value=server.summary.id.clone() />
                <FormAlert message=action_form_error(value) />
                {if fields.is_empty() {
                    view! { <p class="text-sm text-slate-600">"No configuration needed: install it and call its tools."</p> }.into_any()
                } else {
                    fields.into_iter().map(|f| {
                        let error = action_field_error(value, format!("config.{}", f.name));
                        view! { <ConfigField field=f error=error /> }
                    }).collect_view().into_any()
                }}
                <button type="submit" class=format!("{BUTTON_PRIMARY} w-full") disabled=move || install.pending().get()>
                    {move || if install.pending().get() { "Installing…" } else { "Install" }}
                </button>
            </ActionForm>
        }
        .into_any(),
    };
    view! {
        <section class="rounded-2xl bg-white p-5 shadow-sm ring-1 ring-slate-200/80 lg:sticky lg:top-24" aria-labelledby="install-heading">
            <h2 id="install-heading" class="mb-4 text-base font-semibold text-slate-900">"Install"</h2>
            {body}
        </section>
    }
}

/// A tool and its input schema, read as the form a client fills in.
#[component]
fn ToolCard(slug: String, tool: ToolView) -> impl IntoView {
    let params = schema_fields(&tool.input_schema);
    view! {
        <article class="rounded-2xl bg-white p-5 shadow-sm ring-1 ring-slate-200/80" data-testid="tool">
            <h3 class="font-mono text-sm font-semibold text-slate-900">{format!("{slug}.{}", tool.name)}</h3>
            {(!tool.description.is_empty()).then(|| view! { <p class="mt-1 text-sm leading-6 text-slate-600">{tool.description.clone()}</p> })}
            {if params.is_empty() {
                view! { <p class="mt-3 text-xs text-slate-500">"Takes no arguments."</p> }.into_any()
            } else {
                view! {
                    <dl class="mt-4 divide-y divide-slate-100 rounded-xl bg-slate-50 ring-1 ring-slate-200/80">
                        {params.into_iter().map(|p| view! {
                            <div class="grid gap-1 px-4 py-3 sm:grid-cols-[10rem_1fr]">
                                <dt class="flex flex-wrap items-center gap-1.5">
                                    <span class="font-mono text-xs font-semibold text-slate-900">{p.name.clone()}</span>
                                    {p.required.then(|| view! { <span class="text-[10px] font-semibold uppercase tracking-wide text-rose-600">"required"</span> })}
                                </dt>
                                <dd class="text-sm text-slate-600">
                                    <span class="mr-2 rounded bg-white px-1.5 py-0.5 font-mono text-xs text-indigo-700 ring-1 ring-slate-200">{p.kind.clone()}</span>
                                    {p.description.clone()}
                                    {(!p.choices.is_empty()).then(|| view! { <span class="block pt-1 text-xs text-slate-500">{format!("One of: {}", p.choices.join(", "))}</span> })}
                                    {p.default.clone().map(|d| view! { <span class="block pt-1 text-xs text-slate-500">{format!("Default: {d}")}</span> })}
                                </dd>
                            </div>
                        }).collect_view()}
                    </dl>
                }.into_any()
            }}
        </article>
    }
}

#[component]
fn Resources(resources: Vec<ResourceView>) -> impl IntoView {
    view! {
        <section aria-labelledby="resources-heading">
            <h2 id="resources-heading" class="mb-3 text-base font-semibold text-slate-900">{format!("Resources ({})", resources.len())}</h2>
            <ul class="divide-y divide-slate-100 rounded-2xl bg-white shadow-sm ring-1 ring-slate-200/80">
                {resources.into_iter().map(|r| view! {
                    <li class="px-5 py-3">
                        <p class="text-sm font-medium text-slate-900">{r.name.clone()}</p>
                        <p class="break-all font-mono text-xs text-slate-500">{r.uri.clone()}{r.mime_type.clone().map(|m| format!(" · {m}"))}</p>
                        {(!r.description.is_empty()).then(|| view! { <p class="mt-1 text-sm text-slate-600">{r.description.clone()}</p> })}
                    </li>
                }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
fn Prompts(prompts: Vec<PromptView>) -> impl IntoView {
    view! {
        <section aria-labelledby="prompts-heading">
            <h2 id="prompts-heading" class="mb-3 text-base font-semibold text-slate-900">{format!("Prompts ({})", prompts.len())}</h2>
            <ul class="divide-y divide-slate-100 rounded-2xl bg-white shadow-sm ring-1 ring-slate-200/80">
                {prompts.into_iter().map(|p| {
                    let args: Vec<String> = p.arguments.as_array().map(|a| a.iter().filter_map(|x| x.get("name").and_then(|n| n.as_str()).map(str::to_string)).collect()).unwrap_or_default();
                    view! {
                        <li class="px-5 py-3">
                            <p class="font-mono text-sm font-medium text-slate-900">{p.name.clone()}</p>
                            {(!p.description.is_empty()).then(|| view! { <p class="mt-1 text-sm text-slate-600">{p.description.clone()}</p> })}
                            {(!args.is_empty()).then(|| view! { <p class="mt-1 text-xs text-slate-500">{format!("Arguments: {}", args.join(", "))}</p> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}
