//! Review step: everything entered, each part with a "Change" button, and "Send referral".

use crate::{
    referral::{
        form::{label_of, PATIENT_LOCATIONS, PRIORITIES, RELATIONSHIPS, ROUTING_OPTIONS},
        steps::Step,
    },
    wizard_api::WizardView,
};
use leptos::prelude::*;

fn or_none(s: &str) -> String {
    if s.trim().is_empty() {
        "Not given".into()
    } else {
        s.trim().to_string()
    }
}

#[component]
fn Row(label: &'static str, value: String, #[prop(optional)] testid: &'static str) -> impl IntoView {
    view! { <div class="row"><dt>{label}</dt><dd data-testid=testid>{value}</dd></div> }
}

#[component]
fn Section(title: &'static str, step: Step, children: Children) -> impl IntoView {
    view! {
        <section class="review-section">
            <div class="review-head">
                <h2 class="sub">{title}</h2>
                <button type="submit" form="step-form" name="nav" value=format!("goto:{}", step.slug()) class="link-button"
                    aria-label=format!("Change {}", title.to_lowercase())>"Change"</button>
            </div>
            <dl>{children()}</dl>
        </section>
    }
}

#[component]
pub fn ReviewStep(v: WizardView) -> impl IntoView {
    let f = v.form.clone();
    let service = v.chosen.clone();
    let code_display = service
        .as_ref()
        .and_then(|s| s.codes.iter().find(|(t, _)| *t == f.code).map(|(_, d)| d.clone()))
        .unwrap_or_default();
    let consent = match f.consent_decision.as_str() {
        "permit" => "The patient agrees",
        "deny" => "The patient does not agree",
        _ => "Not recorded",
    };
    let given_by = match f.consent_by.as_str() {
        "patient" => "The patient".to_string(),
        "related" => format!(
            "{} ({})",
            or_none(&f.consent_related_name),
            label_of(RELATIONSHIPS, &f.consent_related_relationship).unwrap_or("relationship not given")
        ),
        _ => "Not recorded".into(),
    };
    let authorizer = match f.authorizer.as_str() {
        "draft" => v.draft_requester.clone().unwrap_or_default(),
        "other" => {
            let licence = f.authorizer_licence.trim();
            if licence.is_empty() {
                or_none(&f.authorizer_name)
            } else {
                format!("{} (licence {licence})", or_none(&f.authorizer_name))
            }
        }
        _ => v.self_name.clone(),
    };
    let routing = label_of(ROUTING_OPTIONS, &f.routing).unwrap_or("").to_string()
        + &if f.routing_note.trim().is_empty() { String::new() } else { format!(": {}", f.routing_note.trim()) };
    let service_name = service.as_ref().map(|s| s.name.clone()).unwrap_or_else(|| "Not chosen".into());
    let reason = or_none(&f.reason);
    let priority = label_of(PRIORITIES, f.priority_or_default()).unwrap_or("Routine").to_string();
    let notes = or_none(&f.notes);
    let files = if v.attachments.is_empty() {
        "None".to_string()
    } else {
        v.attachments.iter().map(|a| a.filename.clone()).collect::<Vec<_>>().join(", ")
    };
    let consent_date = or_none(&f.consent_date);
    let location = label_of(PATIENT_LOCATIONS, &f.patient_location).unwrap_or("").to_string();
    let code_display = or_none(&code_display);
    let self_name = v.self_name.clone();
    let blockers = v.blockers.clone();
    let ready = blockers.is_empty();
    view! {
        <Section title="Service" step=Step::Service>
            <Row label="Service" value=service_name testid="review-service"/>
            <Row label="Requesting" value=code_display/>
        </Section>
        <Section title="Reason" step=Step::Details>
            <Row label="Reason" value=reason testid="review-reason"/>
            <Row label="Priority" value=priority testid="review-priority"/>
            <Row label="Clinical notes" value=notes/>
        </Section>
        <Section title="Attachments" step=Step::Attachments>
            <Row label="Files" value=files testid="review-attachments"/>
        </Section>
        <Section title="Consent" step=Step::Consent>
            <Row label="Decision" value=consent.to_string() testid="review-consent"/>
            <Row label="Given by" value=given_by/>
            <Row label="Date" value=consent_date/>
        </Section>
        <Section title="Routing and authorization" step=Step::Routing>
            <Row label="Routing" value=routing/>
            <Row label="Patient is" value=location/>
            <Row label="Authorized by" value=authorizer testid="review-authorizer"/>
            <Row label="Sent by" value=self_name/>
        </Section>
        {(!ready).then(|| view! {
            <div class="error-summary" role="alert" data-testid="submit-blockers">
                <h2>"Before you can send this referral"</h2>
                <ul>{blockers.into_iter().map(|b| view! { <li>{b}</li> }).collect_view()}</ul>
            </div>
        })}
        <form method="post" action=format!("/l/{}/do/submit", v.launch) class="submit-form" data-submit-once="true">
            <input type="hidden" name="revision" value=v.revision.to_string()/>
            <button type="submit" class="primary" disabled=!ready data-testid="send-referral">"Send referral"</button>
        </form>
    }
}
