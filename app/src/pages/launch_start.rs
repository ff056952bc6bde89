use crate::{
    api::get_launch_view,
    components::{error_panel::ErrorPanel, patient_banner::PatientBanner},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// The referral start page a launch lands on: who the referral is for and who is referring.
#[component]
pub fn LaunchStartPage() -> impl IntoView {
    let params = use_params_map();
    let launch = move || params.read().get("launch").unwrap_or_default();
    let view_data = Resource::new(launch, get_launch_view);

    view! {
        <Title text="New referral · eReferral"/>
        <Suspense fallback=|| view! { <p class="loading" aria-live="polite">"Loading the patient from your EHR…"</p> }>
            {move || Suspend::new(async move {
                match view_data.await {
                    Ok(v) => view! {
                        <div class="launch">
                            {v.show_patient_banner.then(|| view! { <PatientBanner patient=v.patient.clone()/> })}
                            <section class="card">
                                <h1>"New referral"</h1>
                                <p data-testid="referral-for">"For "<strong>{v.patient.name.clone()}</strong></p>
                                <p class="muted" data-testid="signed-in-as">"Signed in as "{v.signed_in_as.clone()}" · "{v.ehr_name.clone()}</p>
                            </section>
                        </div>
                    }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
