use crate::error::AppError;
use leptos::prelude::*;

/// A plain-words error for the clinician, announced to screen readers. On the server it also sets
/// the page's status (410 for a launch that is gone, 400, 500…), so an error page never answers 200.
#[component]
pub fn ErrorPanel(error: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(http::StatusCode::from_u16(error.status()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR));
    }
    view! {
        <section class="card error" role="alert">
            <h1>{error.title()}</h1>
            <p>{error.to_string()}</p>
        </section>
    }
}
