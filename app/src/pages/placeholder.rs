//! The page header every page shares, and the 404 page.

use leptos::prelude::*;
use leptos_meta::Title;

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
