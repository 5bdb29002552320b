//! `/dashboard`: the user's usage at a glance. Calls today and this month
//! against the quota, error rate, latency percentiles, calls per day and
//! per server as SVG charts drawn on the server (no chart script), the
//! latest requests and the health of installed servers.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    components::{BUTTON_PRIMARY, BUTTON_SECONDARY, Chip, HealthBadge, Icon, LoadError, icon, short_date, thousands},
    model::{CallStatus, DashboardView, DayUsage, RecentRequest, ServerHealth, ServerUsage},
    pages::placeholder::PageHeader,
    server_fns::dashboard,
};

#[component]
pub fn DashboardPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| dashboard());
    view! {
        <Title text="Dashboard" />
        <PageHeader title="Dashboard" description="Your calls, errors and latency over the last 30 days, and the health of your servers." />
        <Suspense fallback=|| view! { <Loading /> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <Overview data=d /> }.into_any(),
                    Err(e) => view! { <LoadError what="your usage" error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Loading() -> impl IntoView {
    view! {
        <p class="sr-only" role="status">"Loading your usage…"</p>
        <div class="grid gap-4 sm:grid-cols-2 lg:grid-cols-4" aria-hidden="true">
            {(0..4).map(|_| view! { <div class="h-28 animate-pulse rounded-2xl bg-white ring-1 ring-slate-200/80"></div> }).collect_view()}
        </div>
        <div class="mt-6 h-64 animate-pulse rounded-2xl bg-white ring-1 ring-slate-200/80" aria-hidden="true"></div>
    }
}

#[component]
fn Overview(data: DashboardView) -> impl IntoView {
    let used = if data.monthly_quota > 0 {
        (data.calls_this_month as f64 / data.monthly_quota as f64 * 100.0).min(100.0)
    } else {
        0.0
    };
    let error_rate = if data.calls_30d > 0 {
        format!("{:.1}%", data.errors_30d as f64 * 100.0 / data.calls_30d as f64)
    } else {
        "–".to_string()
    };
    let ms = |v: Option<i64>| v.map(|v| format!("{} ms", thousands(v))).unwrap_or_else(|| "–".into());
    let fresh = data.calls_30d == 0 && data.servers.is_empty();
    view! {
        {fresh.then(|| view! { <GetStarted /> })}
        <dl class="grid gap-4 sm:grid-cols-2 lg:grid-cols-4" data-testid="stats">
            <Stat label="Calls today" value=thousands(data.calls_today) note="Since midnight UTC" test_id="calls-today" />
            <div class="rounded-2xl bg-white p-5 shadow-sm ring-1 ring-slate-200/80" data-testid="calls-month">
                <dt class="text-sm text-slate-500">"This month"</dt>
                <dd class="mt-1 text-2xl font-semibold tabular-nums text-slate-900">{thousands(data.calls_this_month)}</dd>
                <dd class="mt-3">
                    // A native <progress>: no inline style, which the
                    // Content-Security-Policy refuses.
                    <progress
                        class={if used >= 90.0 {
                            "block h-1.5 w-full appearance-none overflow-hidden rounded-full bg-slate-100 [&::-webkit-progress-bar]:bg-slate-100 [&::-webkit-progress-value]:bg-rose-500 [&::-moz-progress-bar]:bg-rose-500"
                        } else {
                            "block h-1.5 w-full appearance-none overflow-hidden rounded-full bg-slate-100 [&::-webkit-progress-bar]:bg-slate-100 [&::-webkit-progress-value]:bg-indigo-500 [&::-moz-progress-bar]:bg-indigo-500"
                        }}
                        aria-label="Monthly quota used" max="100" value=format!("{used:.1}")
                    >
                        {format!("{used:.0}%")}
                    </progress>
                    <p class="mt-1.5 text-xs text-slate-500">{format!("of {} a month ({used:.0}% used)", thousands(data.monthly_quota))}</p>
                </dd>
            </div>
            <Stat label="Error rate" value=error_rate note=format!("{} failed of {} in 30 days", thousands(data.errors_30d), thousands(data.calls_30d)) test_id="error-rate" />
            <Stat label="Latency p50 / p95" value=format!("{} / {}", ms(data.p50_ms), ms(data.p95_ms)) note="Over the last 30 days" test_id="latency" />
        </dl>
        <div class="mt-6 grid gap-6 lg:grid-cols-3">
            <section class="rounded-2xl bg-white p-5 shadow-sm ring-1 ring-slate-200/80 lg:col-span-2" aria-labelledby="daily-heading">
                <div class="flex items-baseline justify-between">
                    <h2 id="daily-heading" class="text-base font-semibold text-slate-900">"Calls per day"</h2>
                    <p class="flex items-center gap-3 text-xs text-slate-500">
                        <span class="inline-flex items-center gap-1"><span class="h-2 w-2 rounded-sm bg-indigo-500"></span>"Succeeded"</span>
                        <span class="inline-flex items-center gap-1"><span class="h-2 w-2 rounded-sm bg-rose-500"></span>"Failed"</span>
                    </p>
                </div>
                <DailyChart days=data.daily.clone() />
            </section>
            <section class="rounded-2xl bg-white p-5 shadow-sm ring-1 ring-slate-200/80" aria-labelledby="health-heading">
                <h2 id="health-heading" class="text-base font-semibold text-slate-900">"Server health"</h2>
                <Health servers=data.servers.clone() />
            </section>
        </div>
        <div class="mt-6 grid gap-6 lg:grid-cols-3">
            <section class="rounded-2xl bg-white p-5 shadow-sm ring-1 ring-slate-200/80" aria-labelledby="servers-heading">
                <h2 id="servers-heading" class="text-base font-semibold text-slate-900">"Calls per server"</h2>
                <p class="text-xs text-slate-500">"Last 30 days"</p>
                <ServerChart servers=data.per_server.clone() />
            </section>
            <section class="rounded-2xl bg-white p-5 shadow-sm ring-1 ring-slate-200/80 lg:col-span-2" aria-labelledby="recent-heading">
                <h2 id="recent-heading" class="text-base font-semibold text-slate-900">"Recent requests"</h2>
                <Recent requests=data.recent.clone() />
            </section>
        </div>
    }
}

#[component]
fn Stat(
    #[prop(into)] label: String,
    #[prop(into)] value: String,
    #[prop(into)] note: String,
    #[prop(into)] test_id: String,
) -> impl IntoView {
    view! {
        <div class="rounded-2xl bg-white p-5 shadow-sm ring-1 ring-slate-200/80" data-testid=test_id>
            <dt class="text-sm text-slate-500">{label}</dt>
            <dd class="mt-1 text-2xl font-semibold tabular-nums text-slate-900">{value}</dd>
            <dd class="mt-3 text-xs text-slate-500">{note}</dd>
        </div>
    }
}

#[component]
fn GetStarted() -> impl IntoView {
    let steps = [
        ("1", "Install a server", "Calculator needs no setup.", "/marketplace"),
        ("2", "Create an API key", "Your MCP client sends it.", "/settings"),
        ("3", "Connect a client", "Claude Desktop, Cursor, VS Code or code.", "/installed"),
    ];
    view! {
        <section class="mb-6 rounded-2xl bg-gradient-to-br from-indigo-600 to-violet-600 p-6 text-white shadow-sm" aria-labelledby="start-heading" data-testid="get-started">
            <h2 id="start-heading" class="text-base font-semibold">"Get started in three steps"</h2>
            <ol class="mt-4 grid gap-3 sm:grid-cols-3">
                {steps.into_iter().map(|(n, title, text, href)| view! {
                    <li>
                        <a href=href class="block h-full rounded-xl bg-white/10 p-4 ring-1 ring-white/20 transition hover:bg-white/15 focus-visible:outline focus-visible:outline-2 focus-visible:outline-white">
                            <span class="text-xs font-semibold text-indigo-200">{format!("Step {n}")}</span>
                            <span class="mt-1 block text-sm font-semibold">{title}</span>
                            <span class="mt-0.5 block text-xs text-indigo-100">{text}</span>
                        </a>
                    </li>
                }).collect_view()}
            </ol>
        </section>
    }
}

/// Rounds a chart's top up to 1, 2 or 5 times a power of ten.
fn nice_max(max: i64) -> i64 {
    let max = max.max(1);
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if m * step >= max {
                return m * step;
            }
        }
        step *= 10;
    }
}

/// "24 Nov" from `2026-11-24`.
fn day_label(date: &str) -> String {
    let full = short_date(date);
    full.rsplit_once(' ').map(|(d, _)| d.to_string()).unwrap_or(full)
}

/// 30 stacked bars (succeeded, failed), drawn as SVG on the server, with
/// the numbers in a table for screen readers.
#[component]
fn DailyChart(days: Vec<DayUsage>) -> impl IntoView {
    const W: f64 = 720.0;
    const H: f64 = 220.0;
    const LEFT: f64 = 40.0;
    const BOTTOM: f64 = 4.0;
    const TOP: f64 = 8.0;
    let top = nice_max(days.iter().map(|d| d.calls).max().unwrap_or(0));
    let plot_h = H - BOTTOM - TOP;
    let slot = (W - LEFT) / days.len().max(1) as f64;
    let y = move |v: i64| TOP + plot_h - (v as f64 / top as f64) * plot_h;
    let total: i64 = days.iter().map(|d| d.calls).sum();
    let grid = if top >= 2 { vec![0, top / 2, top] } else { vec![0, top] };
    // First, middle and last day, in HTML under the chart so they stay
    // legible when the SVG shrinks on a phone.
    let labels: Vec<String> = [0, days.len() / 2, days.len().saturating_sub(1)]
        .into_iter()
        .filter_map(|i| days.get(i).map(|d| day_label(&d.date)))
        .collect();
    view! {
        <svg viewBox=format!("0 0 {W} {H}") class="mt-4 h-auto w-full" role="img" aria-labelledby="daily-title daily-desc" data-testid="daily-chart">
            <title id="daily-title">"Calls per day, last 30 days"</title>
            <desc id="daily-desc">{format!("{} calls in the last 30 days.", thousands(total))}</desc>
            {grid.into_iter().map(|g| view! {
                <line x1=LEFT x2=W y1=y(g) y2=y(g) class="stroke-slate-200" stroke-dasharray={if g == 0 { "" } else { "4 4" }} />
                <text x={LEFT - 6.0} y={y(g) + 4.0} text-anchor="end" class="fill-slate-400 text-[11px]">{thousands(g)}</text>
            }).collect_view()}
            {days.iter().enumerate().map(|(i, d)| {
                let x = LEFT + slot * i as f64 + slot * 0.15;
                let w = slot * 0.7;
                let ok = d.calls - d.errors;
                let tip = format!("{}: {} calls, {} failed", short_date(&d.date), thousands(d.calls), thousands(d.errors));
                view! {
                    <g data-date=d.date.clone() data-calls=d.calls>
                        <title>{tip}</title>
                        <rect x=x width=w y=y(ok) height={y(0) - y(ok)} rx="2" class="fill-indigo-500" />
                        <rect x=x width=w y=y(d.calls) height={y(ok) - y(d.calls)} rx="2" class="fill-rose-500" />
                        // An invisible full-height target so short bars still show their tooltip.
                        <rect x=x width=w y=TOP height=plot_h fill="transparent" />
                    </g>
                }
            }).collect_view()}
        </svg>
        <div class="mt-1 flex justify-between pl-[5.5%] text-xs text-slate-400" aria-hidden="true">
            {labels.into_iter().map(|label| view! { <span>{label}</span> }).collect_view()}
        </div>
        <table class="sr-only">
            <caption>"Calls per day"</caption>
            <thead><tr><th scope="col">"Day"</th><th scope="col">"Calls"</th><th scope="col">"Failed"</th></tr></thead>
            <tbody>
                {days.iter().filter(|d| d.calls > 0).map(|d| view! {
                    <tr><td>{short_date(&d.date)}</td><td>{d.calls}</td><td>{d.errors}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
        {(total == 0).then(|| view! {
            <p class="mt-2 text-center text-sm text-slate-500" data-testid="daily-empty">
                "No calls yet. Connect a client to your endpoint and they appear here."
            </p>
        })}
    }
}

/// Horizontal bars, one per server, as SVG.
#[component]
fn ServerChart(servers: Vec<ServerUsage>) -> impl IntoView {
    if servers.is_empty() {
        return view! {
            <p class="mt-6 text-sm text-slate-500" data-testid="per-server-empty">"No calls in the last 30 days."</p>
        }
        .into_any();
    }
    const W: f64 = 320.0;
    const ROW: f64 = 36.0;
    let shown: Vec<ServerUsage> = servers.into_iter().take(8).collect();
    let top = shown.iter().map(|s| s.calls).max().unwrap_or(1).max(1) as f64;
    let h = ROW * shown.len() as f64;
    view! {
        <svg viewBox=format!("0 0 {W} {h}") class="mt-4 h-auto w-full" role="img" aria-label="Calls per server, last 30 days" data-testid="server-chart">
            {shown.into_iter().enumerate().map(|(i, s)| {
                let y0 = ROW * i as f64;
                let w = ((s.calls as f64 / top) * (W - 60.0)).max(2.0);
                let label = if s.name.is_empty() { "Removed server".to_string() } else { s.name.clone() };
                view! {
                    <g data-slug=s.slug.clone()>
                        <title>{format!("{label}: {} calls, {} failed", thousands(s.calls), thousands(s.errors))}</title>
                        <text x="0" y={y0 + 12.0} class="fill-slate-700 text-[12px] font-medium">{label.clone()}</text>
                        <rect x="0" y={y0 + 17.0} width=w height="10" rx="3" class="fill-indigo-500" />
                        <text x={w + 6.0} y={y0 + 26.0} class="fill-slate-500 text-[11px]">{thousands(s.calls)}</text>
                    </g>
                }
            }).collect_view()}
        </svg>
    }
    .into_any()
}

#[component]
fn Health(servers: Vec<ServerHealth>) -> impl IntoView {
    if servers.is_empty() {
        return view! {
            <div class="mt-6 text-center" data-testid="health-empty">
                <p class="text-sm text-slate-500">"No servers installed yet."</p>
                <a href="/marketplace" class=format!("{BUTTON_PRIMARY} mt-4")>"Browse the marketplace"</a>
            </div>
        }
        .into_any();
    }
    view! {
        <ul class="mt-4 divide-y divide-slate-100" data-testid="health">
            {servers.into_iter().map(|s| view! {
                <li class="flex items-center justify-between gap-3 py-2.5">
                    <a href=format!("/marketplace/{}", s.server_id) class="min-w-0 truncate text-sm font-medium text-slate-900 hover:underline">{s.name.clone()}</a>
                    <span class="flex shrink-0 items-center gap-2">
                        {(!s.enabled).then(|| view! { <Chip text="Disabled" /> })}
                        <HealthBadge status=s.health_status />
                    </span>
                </li>
            }).collect_view()}
        </ul>
        <a href="/installed" class=format!("{BUTTON_SECONDARY} mt-4 w-full")>"Manage servers"</a>
    }
    .into_any()
}

#[component]
fn Recent(requests: Vec<RecentRequest>) -> impl IntoView {
    if requests.is_empty() {
        return view! {
            <div class="mt-6 flex items-center gap-3 rounded-xl border border-dashed border-slate-300 px-4 py-6 text-sm text-slate-500" data-testid="recent-empty">
                <Icon path=icon::DASHBOARD class="h-5 w-5 shrink-0 text-slate-400" />
                "Calls from your MCP clients show up here, newest first."
            </div>
        }
        .into_any();
    }
    view! {
        <div class="mt-4 overflow-x-auto">
            <table class="min-w-full text-sm" data-testid="recent">
                <thead class="text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
                    <tr>
                        <th scope="col" class="py-2 pr-4">"When (UTC)"</th>
                        <th scope="col" class="py-2 pr-4">"Call"</th>
                        <th scope="col" class="py-2 pr-4">"Status"</th>
                        <th scope="col" class="py-2 text-right">"Time"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {requests.into_iter().map(|r| {
                        let what = match (&r.tool, r.server.is_empty()) {
                            (Some(t), false) => format!("{}.{t}", r.server),
                            (Some(t), true) => t.clone(),
                            (None, _) => format!("{} {}", r.server, r.request_type),
                        };
                        let ok = r.status == CallStatus::Ok;
                        view! {
                            <tr data-testid="recent-row">
                                <td class="whitespace-nowrap py-2.5 pr-4 text-slate-600">{format!("{} {}", short_date(&r.at), r.at.get(11..19).unwrap_or_default())}</td>
                                <td class="py-2.5 pr-4 font-mono text-xs text-slate-900">{what}</td>
                                <td class="py-2.5 pr-4">
                                    {if ok {
                                        view! { <span class="rounded-full bg-emerald-50 px-2 py-0.5 text-xs font-medium text-emerald-700 ring-1 ring-inset ring-emerald-200">"OK"</span> }.into_any()
                                    } else {
                                        view! { <span class="rounded-full bg-rose-50 px-2 py-0.5 text-xs font-medium text-rose-700 ring-1 ring-inset ring-rose-200">{r.error_class.clone().unwrap_or_else(|| "error".into())}</span> }.into_any()
                                    }}
                                </td>
                                <td class="py-2.5 text-right tabular-nums text-slate-600">{format!("{} ms", thousands(r.response_time_ms))}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
