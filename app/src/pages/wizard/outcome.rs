//! The pages after the wizard: sent, abandoned, moved to another window; and the cancel confirmation.

use crate::wizard_api::{CloseView, DeliveryView, DraftStatusView, WizardView};
use leptos::prelude::*;

/// What the browser glue needs to hand control back to the EHR (see `frontend/src/close.rs`).
/// `manual`: the EHR is asked to close only when the clinician presses the button (so a delivery
/// problem stays on screen); otherwise at once.
#[component]
fn CloseRequest(
    close: CloseView,
    outcome: &'static str,
    service_request: Option<String>,
    #[prop(optional)] manual: bool,
) -> impl IntoView {
    let return_url = close.return_url.clone();
    let return_attr = close.return_url.clone();
    let ehr = ehr_name(&close);
    view! {
        <div
            id="close-request"
            data-outcome=outcome
            data-manual=manual.then_some("true")
            data-service-request=service_request
            data-messaging-handle=close.messaging_handle.clone()
            data-messaging-origin=close.messaging_origin.clone()
            data-ehr-origins=close.ehr_origins.join(" ")
            data-return-url=return_attr
        >
            <p id="close-status" aria-live="polite" data-testid="close-status">
                {if return_url.is_some() {
                    format!("You can return to {ehr} now.")
                } else {
                    "You can now close this window or tab.".to_string()
                }}
            </p>
            {return_url.map(|u| view! { <p><a href=u class="button" rel="external" data-testid="return-link">{format!("Return to {ehr}")}</a></p> })}
            {manual.then(|| view! {
                <p><button type="button" id="close-now" class="secondary" hidden data-testid="close-now">"Close this window"</button></p>
            })}
        </div>
    }
}

fn ehr_name(close: &CloseView) -> String {
    if close.ehr_name.is_empty() {
        "your EHR".to_string()
    } else {
        close.ehr_name.clone()
    }
}

/// Where the message to the EHR stands; the glue refreshes it from `data-status-url` while it
/// is not final.
#[component]
fn DeliveryStatus(delivery: DeliveryView, ehr: String, status_url: String) -> impl IntoView {
    let class = format!("delivery delivery-{}", delivery.slug());
    let pending = matches!(delivery, DeliveryView::Retrying { .. });
    view! {
        <p
            id="delivery-status"
            class=class
            role="status"
            data-testid="delivery-status"
            data-state=delivery.slug()
            data-status-url=pending.then_some(status_url)
        >
            {delivery.sentence(&ehr)}
        </p>
    }
}

#[component]
pub fn OutcomePage(v: WizardView) -> impl IntoView {
    match v.status.clone() {
        DraftStatusView::Submitted { referral_number, service_request_id, delivery } => {
            let manual = delivery != DeliveryView::Delivered;
            let ehr = ehr_name(&v.close);
            let status_url = format!("/l/{}/do/delivery", v.launch);
            // Never "accepted" beside the EHR's refusal: the service has the referral, the EHR
            // may not.
            let heading = match &delivery {
                DeliveryView::Rejected { .. } => "Referral recorded: your EHR refused its notification",
                _ => "Referral sent",
            };
            view! {
                <section class="card done" data-testid="referral-sent">
                    <h1 tabindex="-1" id="outcome-heading">{heading}</h1>
                    <p>
                        "Your referral to "<strong>{v.chosen.map(|c| c.name).unwrap_or_default()}</strong>" for "
                        <strong>{v.header.patient.name.clone()}</strong>" is recorded with the service."
                    </p>
                    <p>"Referral number: "<strong class="ref-number" data-testid="referral-number">{referral_number}</strong></p>
                    <DeliveryStatus delivery ehr status_url/>
                    <p class="muted">
                        "The service will review it; its status is sent back to your EHR. "
                        <a href=format!("/l/{}/referrals", v.launch) rel="external" data-testid="status-link">"See this patient's referrals"</a>
                    </p>
                    <CloseRequest close=v.close outcome="submitted" service_request=Some(format!("ServiceRequest/{service_request_id}")) manual/>
                </section>
            }
            .into_any()
        }
        DraftStatusView::Cancelled | DraftStatusView::TimedOut => {
            let timed_out = v.status == DraftStatusView::TimedOut;
            view! {
                <section class="card done" data-testid="referral-abandoned">
                    <h1 tabindex="-1" id="outcome-heading">"Referral not sent"</h1>
                    <p>
                        {if timed_out {
                            "The referral was closed after a period of inactivity. Nothing was sent to the service or to your EHR. \
                             If you launch a referral for this patient again, you can pick up where you left off."
                        } else {
                            "You cancelled this referral. Nothing was sent to the service or to your EHR."
                        }}
                    </p>
                    <CloseRequest close=v.close outcome="abandoned" service_request=None/>
                </section>
            }
            .into_any()
        }
        DraftStatusView::Revoked { referral_number } => view! {
            <section class="card" data-testid="referral-revoked">
                <h1 tabindex="-1" id="outcome-heading">"This referral was revoked"</h1>
                <p>
                    "Referral "<strong class="ref-number">{referral_number}</strong>" was withdrawn by "{ehr_name(&v.close)}
                    " because the patient withdrew consent. Its details have been deleted and the service will not act on it."
                </p>
            </section>
        }
        .into_any(),
        DraftStatusView::MovedElsewhere => view! {
            <section class="card" data-testid="referral-moved">
                <h1>"This referral continues in another window"</h1>
                <p>"It was resumed from a later launch. Continue it there, or launch the app again from your EHR."</p>
            </section>
        }
        .into_any(),
        DraftStatusView::Editing => ().into_any(),
    }
}

#[component]
pub fn CancelConfirm(v: WizardView) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="cancel-heading">
            <h1 id="cancel-heading">"Cancel this referral?"</h1>
            <p>"Nothing will be sent to the service or to your EHR, and what you entered for this referral will be discarded."</p>
            <div class="actions">
                <form method="post" action=format!("/l/{}/do/cancel", v.launch) class="inline-form">
                    <input type="hidden" name="reason" value="cancel"/>
                    <button type="submit" class="danger" data-testid="confirm-cancel">"Yes, cancel the referral"</button>
                </form>
                <a class="button secondary" href=format!("/l/{}/{}", v.launch, v.step.slug()) rel="external" data-testid="keep-working">
                    "No, keep working"
                </a>
            </div>
        </section>
    }
}
