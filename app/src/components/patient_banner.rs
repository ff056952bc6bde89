use crate::api::PatientBanner as Banner;
use leptos::prelude::*;

/// The launched patient: name, birth date, gender and main identifier; further identifiers on demand.
#[component]
pub fn PatientBanner(patient: Banner) -> impl IntoView {
    let expanded = RwSignal::new(false);
    let has_more = !patient.other_identifiers.is_empty();
    let others = patient.other_identifiers.clone();
    view! {
        <section class="patient-banner" aria-label="Patient" data-testid="patient-banner">
            <div class="patient-main">
                <span class="patient-name" data-testid="patient-name">{patient.name.clone()}</span>
                <dl class="patient-facts">
                    <div><dt>"Born"</dt><dd data-testid="patient-birth-date">{patient.birth_date.clone().unwrap_or_else(|| "not recorded".into())}</dd></div>
                    <div><dt>"Gender"</dt><dd data-testid="patient-gender">{patient.gender.clone()}</dd></div>
                    {patient.identifier.clone().map(|(label, value)| view! {
                        <div><dt>{label}</dt><dd data-testid="patient-identifier">{value}</dd></div>
                    })}
                </dl>
            </div>
            <Show when=move || has_more>
                <button
                    type="button"
                    class="link-button"
                    aria-expanded=move || if expanded.get() { "true" } else { "false" }
                    aria-controls="patient-more-ids"
                    data-testid="patient-more-toggle"
                    on:click=move |_| expanded.update(|e| *e = !*e)
                >
                    {move || if expanded.get() { "Hide other identifiers" } else { "Show other identifiers" }}
                </button>
            </Show>
            <ul id="patient-more-ids" class="patient-more" hidden=move || !expanded.get() data-testid="patient-more-ids">
                {others.into_iter().map(|(label, value)| view! { <li>{label}": "{value}</li> }).collect_view()}
            </ul>
        </section>
    }
}
