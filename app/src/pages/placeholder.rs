//! Pages that later issues build. Each says what will live there, so the
//! navigation is honest about the product's state.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::{Icon, icon};

#[component]
pub fn PageHeader(#[prop(into)] title: String, #[prop(into)] description: String) -> impl IntoView {
    view! {
        <header class="mb-8">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">{title}</h1>
            <p class="mt-1.5 text-sm text-slate-600">{description}</p>
        </header>
    }
}

#[component]
fn ComingSoon(
    #[prop(into)] title: String,
    #[prop(into)] description: String,
    #[prop(into)] icon_path: String,
    items: Vec<&'static str>,
) -> impl IntoView {
    view! {
        <Title text=title.clone() />
        <PageHeader title=title description=description />
        <div class="rounded-2xl border border-dashed border-slate-300 bg-white px-6 py-12 text-center">
            <span class="mx-auto inline-flex h-12 w-12 items-center justify-center rounded-xl bg-indigo-50 text-indigo-600">
                <Icon path=icon_path class="h-6 w-6" />
            </span>
            <p class="mt-4 text-sm font-semibold text-slate-900">"Coming soon"</p>
            <ul class="mx-auto mt-3 max-w-md space-y-1.5 text-sm text-slate-600">
                {items.into_iter().map(|i| view! { <li>{i}</li> }).collect_view()}
            </ul>
            <a href="/settings" class="mt-6 inline-flex items-center gap-1.5 text-sm font-semibold text-indigo-600 hover:text-indigo-500">
                <Icon path=icon::KEY class="h-4 w-4" />
                "Meanwhile, create an API key"
            </a>
        </div>
    }
}

#[component]
pub fn BuilderPage() -> impl IntoView {
    view! {
        <ComingSoon
            title="Builder"
            description="Turn an HTTP API into an MCP tool without code."
            icon_path=icon::BUILDER
            items=vec!["Describe a request, map the response", "Test it live", "Publish it as a tool"]
        />
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found" />
        <div class="flex min-h-full flex-col items-center justify-center px-6 py-24 text-center">
            <p class="text-sm font-semibold text-indigo-600">"404"</p>
            <h1 class="mt-2 text-3xl font-semibold tracking-tight">"Page not found"</h1>
            <p class="mt-3 text-sm text-slate-600">"The page you asked for does not exist."</p>
            <a href="/" class="mt-8 text-sm font-semibold text-indigo-600 hover:text-indigo-500">"Go home →"</a>
        </div>
    }
}
