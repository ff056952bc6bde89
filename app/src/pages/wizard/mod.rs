//! The referral wizard: one route, `/l/{launch}/{step}`, server-rendered as plain HTML forms that
//! work without scripts. After hydration the browser glue (`frontend/`) adds autosave, inline
//! validation, the unsaved-changes warning, the inactivity timeout and closing the app.

mod attachments;
mod fields;
mod outcome;
mod progress;
mod review;
mod steps;

use crate::{
    components::{error_panel::ErrorPanel, patient_banner::PatientBanner},
    referral::steps::Step,
    wizard_api::{get_wizard, DraftStatusView, ServiceSearch, WizardView},
};
use fields::ErrorSummary;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

const FORM_ID: &str = "step-form";

#[component]
pub fn WizardPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let request = move || {
        let p = params.read();
        let q = query.read();
        (
            p.get("launch").unwrap_or_default(),
            p.get("step").unwrap_or_default(),
            ServiceSearch {
                text: q.get("q").unwrap_or_default(),
                category: q.get("category").unwrap_or_default(),
                accepting_only: q.get("accepting").is_some_and(|v| v == "true"),
            },
        )
    };
    let page = Resource::new(request, |(launch, step, search)| get_wizard(launch, step, search));
    view! {
        <Suspense fallback=|| view! { <p class="loading" aria-live="polite">"Loading the referral…"</p> }>
            {move || Suspend::new(async move {
                let requested = params.read_untracked().get("step").unwrap_or_default();
                match page.await {
                    Ok(v) => view! { <Wizard v requested/> }.into_any(),
                    Err(e) => view! { <Title text="eReferral"/><ErrorPanel error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Wizard(v: WizardView, requested: String) -> impl IntoView {
    let banner = v.header.show_patient_banner.then(|| view! { <PatientBanner patient=v.header.patient.clone()/> });
    let title = match (&v.status, requested.as_str()) {
        (DraftStatusView::Editing, "cancel") => "Cancel referral".to_string(),
        (DraftStatusView::Editing, _) => format!("{} · New referral", v.step.heading()),
        (DraftStatusView::Submitted { .. }, _) => "Referral sent".into(),
        (DraftStatusView::Revoked { .. }, _) => "Referral revoked".into(),
        _ => "Referral not sent".into(),
    };
    let body = match (&v.status, requested.as_str()) {
        (DraftStatusView::Editing, "cancel") => view! { <outcome::CancelConfirm v=v.clone()/> }.into_any(),
        (DraftStatusView::Editing, _) => view! { <StepPage v=v.clone()/> }.into_any(),
        _ => view! { <outcome::OutcomePage v=v.clone()/> }.into_any(),
    };
    view! {
        <Title text=format!("{title} · eReferral")/>
        <div class="wizard" id="wizard" data-launch=v.launch.clone()>
            {banner}
            {body}
        </div>
    }
}

#[component]
fn StepPage(v: WizardView) -> impl IntoView {
    let step = v.step;
    let launch = v.launch.clone();
    let action = format!("/l/{launch}/do/step/{}", step.slug());
    let autosave =
        (!matches!(step, Step::Attachments | Step::Review)).then(|| format!("/l/{launch}/do/autosave/{}", step.slug()));
    let errors = v.errors.clone();
    let fields = match step {
        Step::Service => view! { <steps::ServiceStep v=v.clone()/> }.into_any(),
        Step::Details => view! { <steps::DetailsStep v=v.clone()/> }.into_any(),
        Step::Consent => view! { <steps::ConsentStep v=v.clone()/> }.into_any(),
        Step::Routing => view! { <steps::RoutingStep v=v.clone()/> }.into_any(),
        Step::Attachments | Step::Review => ().into_any(),
    };
    let outside_form = match step {
        Step::Attachments => view! { <attachments::AttachmentsStep v=v.clone()/> }.into_any(),
        Step::Review => view! { <review::ReviewStep v=v.clone()/> }.into_any(),
        _ => ().into_any(),
    };
    let search = (step == Step::Service).then(|| view! { <steps::ServiceSearchForm v=v.clone()/> });
    let resume = v.resume.clone().map(|r| {
        let when = r.updated_at;
        view! {
            <section class="card notice" aria-labelledby="resume-heading" data-testid="resume-offer">
                <h2 id="resume-heading" class="sub">"You have an unfinished referral for this patient"</h2>
                <p>
                    "Last changed "<time data-unix=when.to_string()>{crate::pages::format_utc(when)}</time>
                    {r.service_name.map(|s| format!(" · {s}"))}
                    {r.reason_preview.map(|p| format!(" · “{p}”"))}
                    {(r.attachments > 0).then(|| format!(" · {} attachment(s)", r.attachments))}
                </p>
                <div class="actions">
                    <form method="post" action=format!("/l/{}/do/resume/{}", launch, r.draft_id) class="inline-form">
                        <button type="submit" data-testid="resume-draft">"Resume it"</button>
                    </form>
                    <form method="post" action=format!("/l/{launch}/do/fresh") class="inline-form">
                        <button type="submit" class="secondary" data-testid="start-fresh">"Start a new referral"</button>
                    </form>
                </div>
            </section>
        }
    });
    let prefilled = (v.prefilled_from_ehr && step == Step::Service).then(|| {
        view! { <p class="muted">"Some fields are pre-filled from the draft in your EHR. Check them as you go."</p> }
    });
    let has_prev = step.prev().is_some();
    let has_next = step.next().is_some();
    view! {
        <div
            class="step"
            data-step=step.slug()
            data-autosave-url=autosave
            data-inactivity-warn-secs=v.inactivity_warn_secs.to_string()
            data-inactivity-timeout-secs=v.inactivity_timeout_secs.to_string()
            data-delegate=v.validation.delegate.to_string()
            data-draft-requester=v.validation.has_draft_requester.to_string()
            data-today=v.validation.today.clone()
        >
            <header class="step-head">
                <p class="for muted" data-testid="referral-for">
                    "Referral for "<strong>{v.header.patient.name.clone()}</strong>" · "
                    <span data-testid="signed-in-as">{v.header.signed_in_as.clone()}" · "{v.header.ehr_name.clone()}</span>
                </p>
                <progress::Progress current=step complete=v.complete.clone() form_id=FORM_ID/>
            </header>
            {resume}
            <section class="card" aria-labelledby="step-heading">
                <h1 id="step-heading" tabindex="-1">{step.heading()}</h1>
                {prefilled}
                <ErrorSummary errors=errors/>
                {search}
                <form id=FORM_ID method="post" action=action novalidate=true data-step-form="true">
                    {fields}
                    <div class="actions">
                        // First in the form so Enter in a field continues rather than goes back.
                        {has_next.then(|| view! { <button type="submit" name="nav" value="next" class="primary" data-testid="continue">"Save and continue"</button> })}
                        {has_prev.then(|| view! { <button type="submit" name="nav" value="back" class="secondary" data-testid="back">"Back"</button> })}
                        <span class="save-status muted" id="save-status" aria-live="polite" data-testid="save-status"></span>
                    </div>
                </form>
                {outside_form}
            </section>
            <p class="cancel-link">
                <a href=format!("/l/{launch}/cancel") rel="external" data-testid="cancel-referral">"Cancel referral"</a>
            </p>
            <dialog id="inactivity-dialog" aria-labelledby="inactivity-heading" data-testid="inactivity-dialog">
                <h2 id="inactivity-heading">"Are you still working on this referral?"</h2>
                <p id="inactivity-text">"For the patient's privacy, this referral will close soon if nothing happens. Your work so far is saved."</p>
                <button type="button" id="inactivity-continue" class="primary">"Continue working"</button>
            </dialog>
            <form id="timeout-form" method="post" action=format!("/l/{launch}/do/cancel") hidden=true>
                <input type="hidden" name="reason" value="timeout"/>
            </form>
        </div>
    }
}
