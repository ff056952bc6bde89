use leptos::prelude::*;
use leptos_meta::Title;

/// Where someone lands without a launch: explains how the app is used.
#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text="eReferral"/>
        <section class="card">
            <h1>"eReferral"</h1>
            <p>"This app is opened from your EHR: choose a patient there and select "<strong>"Refer"</strong>"."</p>
            <p>"If you reached this page from a bookmark, return to your EHR and start the referral from the patient's chart."</p>
        </section>
    }
}
