#![recursion_limit = "512"]
//! The eReferral UI, shared by server rendering (feature `ssr`) and hydration (feature `hydrate`).
//!
//! Pages reach server services only through [`backend::AppBackend`] (provided as context by the
//! server), never through SQL or HTTP clients of their own.

pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod components;
pub mod error;
pub mod pages;
pub mod referral;
pub mod wizard_api;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};

/// The HTML document around the app. Server-only: it also sets the page's Content-Security-Policy
/// with the per-response nonce that Leptos puts on its inline hydration script.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    backend::set_page_security_headers();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="referrer" content="same-origin"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Set once the WASM has taken over the server-rendered page: tests and styles can rely on it.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <Stylesheet id="leptos" href="/pkg/ereferral.css"/>
        <Title text="eReferral"/>
        <Router>
            <main id="main" data-hydrated=move || if hydrated.get() { "true" } else { "false" }>
                <Routes fallback=pages::not_found::NotFound>
                    <Route path=path!("/") view=pages::home::HomePage/>
                    // Async: the whole page is rendered before it is sent, so it works without
                    // scripts (streamed Suspense fragments need JavaScript to be put in place).
                    <Route path=path!("/l/:launch") view=pages::wizard::WizardPage ssr=SsrMode::Async/>
                    <Route path=path!("/l/:launch/:step") view=pages::wizard::WizardPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
