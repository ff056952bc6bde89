//! What the referral wizard's pages show (DTOs) and the server function that loads them. Plain
//! HTML forms post to the server's `/l/{launch}/do/...` handlers (autosave posts the same forms).

use crate::{
    api::LaunchView,
    error::AppError,
    referral::{form::ReferralForm, steps::Step, validation::FieldError, validation::ValidationContext},
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Everything a wizard page needs. Never carries tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WizardView {
    pub launch: String,
    pub header: LaunchView,
    pub status: DraftStatusView,
    /// The step shown (the requested one, else where the clinician left off).
    pub step: Step,
    pub form: ReferralForm,
    /// Errors from the last post of this step, shown next to their fields.
    pub errors: Vec<FieldError>,
    pub validation: ValidationContext,
    /// Which steps are complete (in [`Step::ALL`] order).
    pub complete: Vec<bool>,
    /// Service step: the search results. Other steps: empty.
    pub services: Vec<ServiceOption>,
    pub categories: Vec<(String, String)>,
    pub search: ServiceSearch,
    /// The chosen service, when one is chosen.
    pub chosen: Option<ServiceOption>,
    pub attachments: Vec<AttachmentView>,
    pub max_attachment_mb: u64,
    pub max_attachments: u32,
    /// The launched user, as shown ("Dr. Sarah Chen (Family physician)").
    pub self_name: String,
    /// The requester on the EHR's draft, offered as the authorizer.
    pub draft_requester: Option<String>,
    pub prefilled_from_ehr: bool,
    pub resume: Option<ResumeOffer>,
    /// Review step: why the referral cannot be sent yet.
    pub blockers: Vec<String>,
    pub revision: i64,
    pub inactivity_warn_secs: u64,
    pub inactivity_timeout_secs: u64,
    pub close: CloseView,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DraftStatusView {
    Editing,
    Submitted {
        referral_number: String,
        service_request_id: String,
        /// Where the `notify-add-service-request` message to the EHR stands.
        delivery: DeliveryView,
    },
    Cancelled,
    TimedOut,
    /// The draft was resumed in a later launch.
    MovedElsewhere,
    /// Sent, then revoked by the EHR (the patient withdrew consent): its details are gone.
    Revoked {
        referral_number: String,
    },
}

/// The delivery of a message to the EHR, as the clinician who sent the referral sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryView {
    Delivered,
    /// Not yet delivered; `attempts` made so far (0: the first is under way).
    Retrying {
        attempts: i64,
    },
    /// The EHR refused the message; `reason` is its own explanation.
    Rejected {
        reason: String,
    },
}

impl DeliveryView {
    /// `delivered` | `retrying` | `rejected`, for `data-` attributes and the status endpoint.
    pub fn slug(&self) -> &'static str {
        match self {
            DeliveryView::Delivered => "delivered",
            DeliveryView::Retrying { .. } => "retrying",
            DeliveryView::Rejected { .. } => "rejected",
        }
    }

    /// One plain sentence for the clinician.
    pub fn sentence(&self, ehr: &str) -> String {
        match self {
            DeliveryView::Delivered => format!("Delivered to {ehr}."),
            DeliveryView::Retrying { attempts: 0 } => format!("Delivering to {ehr}…"),
            DeliveryView::Retrying { .. } => format!(
                "Waiting to deliver to {ehr} (retrying). The referral is saved and will be delivered automatically; you do not need to send it again."
            ),
            DeliveryView::Rejected { reason } => format!(
                "{ehr} rejected the referral's notification: {reason}. The referral is saved; contact your EHR support team with the referral number."
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceOption {
    pub id: String,
    pub name: String,
    pub provided_by: Option<String>,
    pub category: Option<String>,
    /// `(system|code, display)`.
    pub codes: Vec<(String, String)>,
    pub eligibility: Vec<String>,
    pub comment: Option<String>,
    pub accepting: bool,
    pub typical_wait: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceSearch {
    pub text: String,
    pub category: String,
    pub accepting_only: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachmentView {
    pub id: String,
    pub filename: String,
    pub content_type: String,
    /// "240 KB".
    pub size: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeOffer {
    pub draft_id: String,
    /// Unix seconds of its last change (the page formats it in the clinician's time zone).
    pub updated_at: i64,
    pub service_name: Option<String>,
    pub reason_preview: Option<String>,
    pub attachments: i64,
}

/// How to hand control back to the EHR when the referral is sent or abandoned.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CloseView {
    pub ehr_name: String,
    /// SMART Web Messaging: `ui.done` goes to this handle at exactly this origin.
    pub messaging_handle: Option<String>,
    pub messaging_origin: Option<String>,
    /// The registered EHR origins a plain close request may go to.
    pub ehr_origins: Vec<String>,
    /// Link mode: where to send the clinician back (a registered origin).
    pub return_url: Option<String>,
}

/// The wizard page for `launch` at `step` (`""`: where the clinician left off).
#[server(prefix = "/api", endpoint = "wizard")]
pub async fn get_wizard(launch: String, step: String, search: ServiceSearch) -> Result<WizardView, AppError> {
    let backend = crate::backend::use_backend()?;
    let headers: http::HeaderMap = leptos_axum::extract().await.map_err(|_| AppError::Internal)?;
    backend.0.wizard_view(&launch, &step, &search, &headers).await
}
