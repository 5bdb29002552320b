//! # OmniMCP pages
//!
//! The Leptos application: rendered on the server (feature `ssr`, linked
//! into the `omnimcp` binary) and hydrated in the browser (feature
//! `hydrate`, compiled to WASM). Pages call the server only through the
//! typed server functions in [`server_fns`]; the server implements them via
//! [`backend::Backend`].
//!
//! - [`domain`]: the closed vocabularies (hosting type, statuses) as enums.
//! - [`model`]: data shapes shared with the server and the REST API.
//! - [`server_fns`]: the server functions.
//! - `components`: building blocks (form fields, cards, icons).
//! - `pages`: one module per page, plus the signed-in shell.

#![recursion_limit = "256"]

#[cfg(feature = "ssr")]
pub mod backend;
mod components;
pub mod domain;
pub mod model;
mod pages;
pub mod server_fns;

use leptos::prelude::*;
use leptos_meta::{Link, Meta, MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{ParentRoute, Route, Router, Routes},
    path,
};

use pages::{
    auth::{LoginPage, RegisterPage},
    builder::BuilderPage,
    dashboard::DashboardPage,
    developer::DeveloperPage,
    installed::InstalledPage,
    marketplace::{MarketplacePage, ServerPage},
    placeholder::NotFound,
    reference::ApiReferencePage,
    settings::SettingsPage,
    shell::{AppShell, Home},
};

/// The HTML document around every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en" class="h-full">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body class="h-full bg-slate-50 text-slate-900 antialiased">
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/omnimcp.css" />
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Meta name="description" content="OmniMCP: one MCP endpoint for every tool your AI uses." />
        <Title formatter=|page: String| if page.is_empty() { "OmniMCP".to_string() } else { format!("{page} · OmniMCP") } />
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/") view=Home ssr=SsrMode::Async />
                <Route path=path!("/login") view=LoginPage />
                <Route path=path!("/register") view=RegisterPage />
                <Route path=path!("/oauth/consent") view=pages::consent::ConsentPage ssr=SsrMode::Async />
                <ParentRoute path=path!("") view=AppShell ssr=SsrMode::Async>
                    <Route path=path!("/dashboard") view=DashboardPage />
                    <Route path=path!("/marketplace") view=MarketplacePage />
                    <Route path=path!("/marketplace/:id") view=ServerPage />
                    <Route path=path!("/installed") view=InstalledPage />
                    <Route path=path!("/developer") view=DeveloperPage />
                    <Route path=path!("/settings") view=SettingsPage />
                    <Route path=path!("/builder") view=BuilderPage />
                    <Route path=path!("/builder/:id") view=pages::builder::BuilderEditorPage />
                    <Route path=path!("/api-reference") view=ApiReferencePage />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Entry point of the WASM bundle: attaches to the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
    // A marker for browser tests (and curious people): the page is live.
    if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}
