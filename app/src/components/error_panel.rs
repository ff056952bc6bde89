use crate::error::AppError;
use leptos::prelude::*;

/// A plain-words error for the clinician, announced to screen readers.
#[component]
pub fn ErrorPanel(error: AppError) -> impl IntoView {
    view! {
        <section class="card error" role="alert">
            <h1>"We could not open this referral"</h1>
            <p>{error.to_string()}</p>
        </section>
    }
}
