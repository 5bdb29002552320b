//! Building blocks shared by pages: icons, the brand mark, form fields
//! with their error line, cards and alerts.

use leptos::prelude::*;

use crate::model::{FormError, HealthStatus, SchemaField};

/// SVG paths of the icons we use (24x24, stroke), after Heroicons (MIT).
pub mod icon {
    pub const DASHBOARD: &str = "M3.75 3v11.25A2.25 2.25 0 006 16.5h12a2.25 2.25 0 002.25-2.25V3M3.75 3h16.5M3.75 3H2.25m18 0h1.5M7.5 21l4.5-4.5 4.5 4.5M9 9.75v3M12 7.5v5.25M15 11.25V12.75";
    pub const MARKETPLACE: &str = "M13.5 21v-7.5a.75.75 0 01.75-.75h3a.75.75 0 01.75.75V21m-4.5 0H2.36m11.14 0H18m0 0h3.64m-1.39 0V9.349m-16.5 11.65V9.35m0 0a3.001 3.001 0 003.75-.615A2.993 2.993 0 009.75 9.75c.896 0 1.7-.393 2.25-1.016a2.993 2.993 0 002.25 1.016c.896 0 1.7-.393 2.25-1.016a3.001 3.001 0 003.75.614m-16.5 0a3.004 3.004 0 01-.621-4.72L4.318 3.44A1.5 1.5 0 015.378 3h13.243a1.5 1.5 0 011.06.44l1.19 1.189a3 3 0 01-.621 4.72";
    pub const INSTALLED: &str = "M20.25 7.5l-.625 10.632a2.25 2.25 0 01-2.247 2.118H6.622a2.25 2.25 0 01-2.247-2.118L3.75 7.5m8.25 3v6.75m0 0l-3-3m3 3l3-3M3.375 7.5h17.25c.621 0 1.125-.504 1.125-1.125v-1.5c0-.621-.504-1.125-1.125-1.125H3.375c-.621 0-1.125.504-1.125 1.125v1.5c0 .621.504 1.125 1.125 1.125z";
    pub const DEVELOPER: &str = "M17.25 6.75L22.5 12l-5.25 5.25m-10.5 0L1.5 12l5.25-5.25m7.5-3l-4.5 16.5";
    pub const SETTINGS: &str = "M10.343 3.94c.09-.542.56-.94 1.11-.94h1.093c.55 0 1.02.398 1.11.94l.149.894c.07.424.384.764.78.93.398.164.855.142 1.205-.108l.737-.527a1.125 1.125 0 011.45.12l.773.774c.39.389.44 1.002.12 1.45l-.527.737c-.25.35-.272.806-.107 1.204.165.397.505.71.93.78l.893.15c.543.09.94.559.94 1.109v1.094c0 .55-.397 1.02-.94 1.11l-.894.149c-.424.07-.764.383-.929.78-.165.398-.143.854.107 1.204l.527.738c.32.447.269 1.06-.12 1.45l-.774.773a1.125 1.125 0 01-1.449.12l-.738-.527c-.35-.25-.806-.272-1.203-.107-.398.165-.71.505-.781.929l-.149.894c-.09.542-.56.94-1.11.94h-1.094c-.55 0-1.019-.398-1.11-.94l-.148-.894c-.071-.424-.384-.764-.781-.93-.398-.164-.854-.142-1.204.108l-.738.527c-.447.32-1.06.269-1.45-.12l-.773-.774a1.125 1.125 0 01-.12-1.45l.527-.737c.25-.35.272-.806.108-1.204-.165-.397-.506-.71-.93-.78l-.894-.15c-.542-.09-.94-.56-.94-1.109v-1.094c0-.55.398-1.02.94-1.11l.894-.149c.424-.07.765-.383.93-.78.165-.398.143-.854-.108-1.204l-.526-.738a1.125 1.125 0 01.12-1.45l.773-.773a1.125 1.125 0 011.45-.12l.737.527c.35.25.807.272 1.204.107.397-.165.71-.505.78-.929l.15-.894zM15 12a3 3 0 11-6 0 3 3 0 016 0z";
    pub const BUILDER: &str = "M11.42 15.17L17.25 21A2.652 2.652 0 0021 17.25l-5.877-5.877M11.42 15.17l2.496-3.03c.317-.384.74-.626 1.208-.766M11.42 15.17l-4.655 5.653a2.548 2.548 0 11-3.586-3.586l6.837-5.63m5.108-.233c.55-.164 1.163-.188 1.743-.14a4.5 4.5 0 004.486-6.336l-3.276 3.277a3.004 3.004 0 01-2.25-2.25l3.276-3.276a4.5 4.5 0 00-6.336 4.486c.091 1.076-.071 2.264-.904 2.95l-.102.085m-1.745 1.437L5.909 7.5H4.5L2.25 3.75l1.5-1.5L7.5 4.5v1.409l4.26 4.26m-1.745 1.437l1.745-1.437m6.615 8.206L15.75 15.75M4.867 19.125h.008v.008h-.008v-.008z";
    pub const KEY: &str = "M15.75 5.25a3 3 0 013 3m3 0a6 6 0 01-7.029 5.912c-.563-.097-1.159.026-1.563.43L10.5 17.25H8.25v2.25H6v2.25H2.25v-2.818c0-.597.237-1.17.659-1.591l6.499-6.499c.404-.404.527-1 .43-1.563A6 6 0 1121.75 8.25z";
    pub const LOGOUT: &str = "M15.75 9V5.25A2.25 2.25 0 0013.5 3h-6a2.25 2.25 0 00-2.25 2.25v13.5A2.25 2.25 0 007.5 21h6a2.25 2.25 0 002.25-2.25V15m3 0l3-3m0 0l-3-3m3 3H9";
    pub const BOOK: &str = "M12 6.042A8.967 8.967 0 006 3.75c-1.052 0-2.062.18-3 .512v14.25A8.987 8.987 0 016 18c2.305 0 4.408.867 6 2.292m0-14.25a8.966 8.966 0 016-2.292c1.052 0 2.062.18 3 .512v14.25A8.987 8.987 0 0018 18a8.967 8.967 0 00-6 2.292m0-14.25v14.25";
    pub const CHECK: &str = "M4.5 12.75l6 6 9-13.5";
    pub const CLOCK: &str = "M12 6v6h4.5m4.5 0a9 9 0 11-18 0 9 9 0 0118 0z";
    pub const SEARCH: &str = "M21 21l-5.197-5.197m0 0A7.5 7.5 0 105.196 5.196a7.5 7.5 0 0010.607 10.607z";
    pub const ARROW_LEFT: &str = "M10.5 19.5L3 12m0 0l7.5-7.5M3 12h18";
    pub const ARROW_RIGHT: &str = "M13.5 4.5L21 12m0 0l-7.5 7.5M21 12H3";
    pub const LOCK: &str = "M16.5 10.5V6.75a4.5 4.5 0 10-9 0v3.75m-.75 11.25h10.5a2.25 2.25 0 002.25-2.25v-6.75a2.25 2.25 0 00-2.25-2.25H6.75a2.25 2.25 0 00-2.25 2.25v6.75a2.25 2.25 0 002.25 2.25z";
    pub const WARNING: &str = "M12 9v3.75m-9.303 3.376c-.866 1.5.217 3.374 1.948 3.374h14.71c1.73 0 2.813-1.874 1.948-3.374L13.949 3.378c-.866-1.5-3.032-1.5-3.898 0L2.697 16.126zM12 15.75h.007v.008H12v-.008z";
}

#[component]
pub fn Icon(#[prop(into)] path: String, #[prop(optional, into)] class: String) -> impl IntoView {
    let class = if class.is_empty() { "h-5 w-5".to_string() } else { class };
    view! {
        <svg class=class fill="none" viewBox="0 0 24 24" stroke-width="1.5" stroke="currentColor" aria-hidden="true">
            <path stroke-linecap="round" stroke-linejoin="round" d=path />
        </svg>
    }
}

/// The OmniMCP mark: a hub joining many spokes.
#[component]
pub fn Logo(#[prop(optional)] large: bool) -> impl IntoView {
    let size = if large { "h-10 w-10" } else { "h-8 w-8" };
    view! {
        <span class="inline-flex items-center gap-2.5">
            <span class=format!("{size} inline-flex items-center justify-center rounded-xl bg-gradient-to-br from-indigo-500 via-violet-500 to-fuchsia-500 shadow-lg shadow-indigo-500/30")>
                <svg class="h-5 w-5 text-white" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true">
                    <circle cx="12" cy="12" r="3" />
                    <path d="M12 2v4M12 18v4M2 12h4M18 12h4M4.9 4.9l2.8 2.8M16.3 16.3l2.8 2.8M4.9 19.1l2.8-2.8M16.3 7.7l2.8-2.8" stroke-linecap="round" />
                </svg>
            </span>
            <span class="text-lg font-semibold tracking-tight">"OmniMCP"</span>
        </span>
    }
}

/// A labelled input with its error line. The error line is always in the
/// DOM (empty when there is no error) so screen readers can announce it.
#[component]
pub fn Field(
    #[prop(into)] name: String,
    #[prop(into)] label: String,
    #[prop(into, default = "text".to_string())] kind: String,
    #[prop(into, optional)] autocomplete: String,
    #[prop(into, optional)] placeholder: String,
    #[prop(into, optional)] hint: String,
    #[prop(optional)] required: bool,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let err_id = format!("{id}-error");
    let has_hint = !hint.is_empty();
    view! {
        <div class="space-y-1.5">
            <label for=id.clone() class="block text-sm font-medium text-slate-700">{label}</label>
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                placeholder=placeholder
                required=required
                aria-invalid=move || if error.get().is_some() { "true" } else { "false" }
                aria-describedby=err_id.clone()
                class=move || {
                    let base = "block w-full rounded-lg border bg-white px-3.5 py-2.5 text-sm shadow-sm outline-none transition placeholder:text-slate-400 focus:ring-4";
                    if error.get().is_some() {
                        format!("{base} border-rose-400 focus:border-rose-500 focus:ring-rose-100")
                    } else {
                        format!("{base} border-slate-300 focus:border-indigo-500 focus:ring-indigo-100")
                    }
                }
            />
            {has_hint.then(|| view! { <p class="text-xs text-slate-500">{hint.clone()}</p> })}
            <p id=err_id class="min-h-4 text-xs font-medium text-rose-600" role="alert">
                {move || error.get()}
            </p>
        </div>
    }
}

/// A message for the whole form (errors not tied to a field).
#[component]
pub fn FormAlert(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <Show when=move || message.get().is_some()>
            <div class="flex items-start gap-2 rounded-lg border border-rose-200 bg-rose-50 px-3.5 py-3 text-sm text-rose-800" role="alert">
                <Icon path=icon::WARNING class="mt-0.5 h-4 w-4 shrink-0" />
                <span>{move || message.get()}</span>
            </div>
        </Show>
    }
}

/// A white card with a title and optional description.
#[component]
pub fn Card(
    #[prop(into)] title: String,
    #[prop(into, optional)] description: String,
    children: Children,
) -> impl IntoView {
    let has_description = !description.is_empty();
    view! {
        <section class="rounded-2xl bg-white p-6 shadow-sm ring-1 ring-slate-200/80">
            <header class="mb-5">
                <h2 class="text-base font-semibold text-slate-900">{title}</h2>
                {has_description.then(|| view! { <p class="mt-1 text-sm text-slate-500">{description.clone()}</p> })}
            </header>
            {children()}
        </section>
    }
}

pub const BUTTON_PRIMARY: &str = "inline-flex items-center justify-center gap-2 rounded-lg bg-indigo-600 px-4 py-2.5 text-sm font-semibold text-white shadow-sm transition hover:bg-indigo-500 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600 disabled:cursor-not-allowed disabled:opacity-60";
pub const BUTTON_SECONDARY: &str = "inline-flex items-center justify-center gap-2 rounded-lg bg-white px-3 py-2 text-sm font-medium text-slate-700 shadow-sm ring-1 ring-inset ring-slate-300 transition hover:bg-slate-50 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600";
pub const BUTTON_DANGER: &str = "inline-flex items-center justify-center gap-1.5 rounded-lg px-3 py-1.5 text-sm font-medium text-rose-700 ring-1 ring-inset ring-rose-200 transition hover:bg-rose-50 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-rose-600";

/// A button that copies `text` to the clipboard once the page is hydrated
/// (before that, the text beside it is selectable).
#[component]
pub fn CopyButton(#[prop(into)] text: String, #[prop(into)] label: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(w) = web_sys::window() {
            let _ = w.navigator().clipboard().write_text(&text);
            copied.set(true);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &text;
    };
    view! {
        <button type="button" class=BUTTON_SECONDARY on:click=copy aria-label=label>
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
    }
}

/// A secret shown this once (a new API key, a rotated webhook secret):
/// read-only, selected on focus, with a copy button. `id` names the input
/// and prefixes the test ids (`{id}`, `{id}-value`).
#[component]
pub fn ShownOnce(
    #[prop(into)] id: String,
    #[prop(into)] title: String,
    #[prop(into)] message: String,
    #[prop(into)] label: String,
    #[prop(into)] value: String,
    #[prop(optional, into)] data_server_id: Option<String>,
) -> impl IntoView {
    let input_id = format!("{id}-value");
    view! {
        <div class="mt-5 rounded-xl border border-emerald-200 bg-emerald-50 p-4" data-testid=id.clone() data-server-id=data_server_id role="status">
            <div class="flex items-center gap-2 text-sm font-semibold text-emerald-900">
                <Icon path=icon::CHECK class="h-4 w-4" />
                {title}
            </div>
            <p class="mt-1 text-sm text-emerald-800">{message}</p>
            <div class="mt-3 flex gap-2">
                <label for=input_id.clone() class="sr-only">{label.clone()}</label>
                <input id=input_id.clone() readonly value=value.clone() data-testid=input_id
                    class="block w-full rounded-lg border border-emerald-300 bg-white px-3 py-2 font-mono text-sm text-slate-900"
                    on:focus=select_all />
                <CopyButton text=value label=format!("Copy the {}", label.to_lowercase()) />
            </div>
        </div>
    }
}

/// "3 Nov 2026" from an RFC 3339 timestamp (server and browser agree, so
/// hydration matches).
pub fn short_date(rfc3339: &str) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let date = rfc3339.get(..10).unwrap_or(rfc3339);
    let mut parts = date.split('-');
    match (
        parts.next(),
        parts.next().and_then(|m| m.parse::<usize>().ok()),
        parts.next().and_then(|d| d.parse::<u32>().ok()),
    ) {
        (Some(y), Some(m @ 1..=12), Some(d)) => format!("{d} {} {y}", MONTHS[m - 1]),
        _ => rfc3339.to_string(),
    }
}

/// 10000 -> "10,000".
pub fn thousands(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// "1 install", "1,204 installs".
pub fn count_of(n: i64, noun: &str) -> String {
    format!("{} {noun}{}", thousands(n), if n == 1 { "" } else { "s" })
}

/// The error for one field, from an action's last result.
pub fn action_field_error<T: Send + Sync + 'static>(
    value: MappedSignal<Option<Result<T, FormError>>>,
    field: impl Into<String>,
) -> Signal<Option<String>> {
    let field = field.into();
    Signal::derive(move || value.with(|v| v.as_ref().and_then(|r| r.as_ref().err()).and_then(|e| e.for_field(&field))))
}

/// The error not tied to a field.
pub fn action_form_error<T: Send + Sync + 'static>(
    value: MappedSignal<Option<Result<T, FormError>>>,
) -> Signal<Option<String>> {
    Signal::derive(move || {
        value.with(|v| {
            v.as_ref().and_then(|r| r.as_ref().err()).filter(|e| e.field.is_none()).map(|e| e.message.clone())
        })
    })
}

/// A server's health as a coloured dot and a word.
#[component]
pub fn HealthBadge(status: HealthStatus) -> impl IntoView {
    let (dot, text) = match status {
        HealthStatus::Healthy => ("bg-emerald-500", "text-emerald-700"),
        HealthStatus::Unhealthy => ("bg-rose-500", "text-rose-700"),
        HealthStatus::Unknown => ("bg-slate-300", "text-slate-500"),
    };
    let label = status.label();
    view! {
        <span class=format!("inline-flex items-center gap-1.5 text-xs font-medium {text}") data-health=status.as_str()>
            <span class=format!("h-2 w-2 rounded-full {dot}") aria-hidden="true"></span>
            {label}
        </span>
    }
}

/// A small grey label (category, hosting type, version).
#[component]
pub fn Chip(#[prop(into)] text: String) -> impl IntoView {
    view! {
        <span class="inline-flex items-center rounded-md bg-slate-100 px-2 py-0.5 text-xs font-medium text-slate-600 ring-1 ring-inset ring-slate-200">{text}</span>
    }
}

/// The first letter of a name on a coloured tile, as a server's mark.
#[component]
pub fn ServerMark(#[prop(into)] name: String, #[prop(optional)] large: bool) -> impl IntoView {
    const TILES: [&str; 6] = [
        "from-indigo-500 to-violet-500",
        "from-sky-500 to-indigo-500",
        "from-emerald-500 to-teal-500",
        "from-amber-500 to-orange-500",
        "from-fuchsia-500 to-pink-500",
        "from-violet-500 to-fuchsia-500",
    ];
    let tile = TILES[name.bytes().map(usize::from).sum::<usize>() % TILES.len()];
    let size = if large { "h-14 w-14 text-2xl" } else { "h-10 w-10 text-base" };
    let initial = name.chars().next().unwrap_or('?').to_uppercase().to_string();
    view! {
        <span class=format!("inline-flex shrink-0 items-center justify-center rounded-xl bg-gradient-to-br font-semibold text-white shadow-sm {tile} {size}") aria-hidden="true">
            {initial}
        </span>
    }
}

/// A dashed box saying there is nothing here yet, and what to do about it.
#[component]
pub fn EmptyState(
    #[prop(into)] title: String,
    #[prop(into)] message: String,
    #[prop(into)] icon_path: String,
    #[prop(into, optional)] test_id: String,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <div class="rounded-2xl border border-dashed border-slate-300 bg-white px-6 py-12 text-center" data-testid=test_id>
            <span class="mx-auto inline-flex h-12 w-12 items-center justify-center rounded-xl bg-indigo-50 text-indigo-600">
                <Icon path=icon_path class="h-6 w-6" />
            </span>
            <p class="mt-4 text-sm font-semibold text-slate-900">{title}</p>
            <p class="mx-auto mt-1 max-w-md text-sm text-slate-500">{message}</p>
            {children.map(|c| view! { <div class="mt-6">{c()}</div> })}
        </div>
    }
}

/// A failed load, in words.
#[component]
pub fn LoadError(#[prop(into)] what: String, error: FormError) -> impl IntoView {
    view! {
        <div class="flex items-start gap-2 rounded-xl border border-rose-200 bg-rose-50 px-4 py-3 text-sm text-rose-800" role="alert" data-testid="load-error">
            <Icon path=icon::WARNING class="mt-0.5 h-4 w-4 shrink-0" />
            <span>{format!("Could not load {what}: {}", error.message)}</span>
        </div>
    }
}

const INPUT: &str = "block w-full rounded-lg border bg-white px-3.5 py-2.5 text-sm shadow-sm outline-none transition placeholder:text-slate-400 focus:ring-4";

fn input_class(error: Option<String>) -> String {
    if error.is_some() {
        format!("{INPUT} border-rose-400 focus:border-rose-500 focus:ring-rose-100")
    } else {
        format!("{INPUT} border-slate-300 focus:border-indigo-500 focus:ring-indigo-100")
    }
}

/// One input of a config form generated from a JSON Schema property. It
/// posts as `config[name]`; secrets are masked and never pre-filled
/// (`secret_saved` says a value exists and a blank input keeps it).
#[component]
pub fn ConfigField(
    field: SchemaField,
    /// The saved value (never given for secrets).
    #[prop(default = None)]
    value: Option<String>,
    #[prop(optional)] secret_saved: bool,
    #[prop(into)] error: Signal<Option<String>>,
    /// Keeps ids unique when one page has several forms.
    #[prop(into, optional)]
    form_id: String,
) -> impl IntoView {
    let id = format!("config-{form_id}{}", field.name);
    let err_id = format!("{id}-error");
    let name = format!("config[{}]", field.name);
    let value = value.or_else(|| {
        field
            .default
            .as_ref()
            .filter(|_| !field.secret)
            .map(|d| d.as_str().map(str::to_string).unwrap_or_else(|| d.to_string()))
    });
    let hint = match (field.secret, secret_saved) {
        (true, true) => "Saved and encrypted. Leave blank to keep it; it is never shown again.".to_string(),
        (true, false) => "Stored encrypted and never shown again.".to_string(),
        _ => String::new(),
    };
    let label = view! {
        <label for=id.clone() class="flex items-center gap-1.5 text-sm font-medium text-slate-700">
            {field.label.clone()}
            {field.required.then(|| view! { <span class="text-rose-600" aria-hidden="true">"*"</span><span class="sr-only">"(required)"</span> })}
            {field.secret.then(|| view! { <Icon path=icon::LOCK class="h-3.5 w-3.5 text-slate-400" /> })}
        </label>
    };
    let control = if field.kind == "boolean" {
        let checked = value.as_deref() == Some("true");
        view! {
            <input id=id.clone() name=name type="checkbox" checked=checked value="true" aria-describedby=err_id.clone()
                class="h-4 w-4 rounded border-slate-300 text-indigo-600 focus:ring-indigo-500" />
        }
        .into_any()
    } else if !field.choices.is_empty() {
        let current = value.clone().unwrap_or_default();
        view! {
            <select id=id.clone() name=name aria-describedby=err_id.clone() aria-invalid=move || error.get().is_some().to_string()
                class=move || input_class(error.get())>
                {(!field.required).then(|| view! { <option value="">"Not set"</option> })}
                {field.choices.iter().map(|c| view! { <option value=c.clone() selected={*c == current}>{c.clone()}</option> }).collect_view()}
            </select>
        }
        .into_any()
    } else if matches!(field.kind.as_str(), "object" | "array") {
        view! {
            <textarea id=id.clone() name=name rows="3" aria-describedby=err_id.clone() placeholder="JSON"
                aria-invalid=move || error.get().is_some().to_string()
                class=move || format!("{} font-mono", input_class(error.get()))>{value.clone().unwrap_or_default()}</textarea>
        }
        .into_any()
    } else {
        let kind = match (field.secret, field.kind.as_str()) {
            (true, _) => "password",
            (false, "integer" | "number") => "number",
            _ => "text",
        };
        let placeholder = if secret_saved { "••••••••  (saved)" } else { "" };
        view! {
            <input id=id.clone() name=name type=kind
                value={if field.secret { None } else { value.clone() }}
                step={(field.kind == "number").then_some("any")}
                placeholder=placeholder
                autocomplete={if field.secret { "off" } else { "on" }}
                spellcheck="false"
                aria-describedby=err_id.clone()
                aria-invalid=move || error.get().is_some().to_string()
                class=move || input_class(error.get()) />
        }
        .into_any()
    };
    let description = field.description.clone();
    view! {
        <div class="space-y-1.5">
            {label}
            {control}
            {(!description.is_empty()).then(|| view! { <p class="text-xs text-slate-500">{description.clone()}</p> })}
            {(!hint.is_empty()).then(|| view! { <p class="text-xs text-slate-500">{hint.clone()}</p> })}
            <p id=err_id class="min-h-4 text-xs font-medium text-rose-600" role="alert">{move || error.get()}</p>
        </div>
    }
}

/// Selects a read-only field's whole text when it gets focus, ready to
/// copy. (An event handler, not an `onfocus` attribute: the
/// Content-Security-Policy refuses inline handlers.)
pub fn select_all(ev: leptos::ev::FocusEvent) {
    event_target::<leptos::web_sys::HtmlInputElement>(&ev).select();
}

/// Percent-encodes a query parameter's value (everything but unreserved
/// characters).
pub fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
