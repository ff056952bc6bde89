//! Errors the UI shows. Each carries plain words for the clinician; details stay in server logs.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// The launch is unknown, expired, or not bound to this browser.
    #[error(
        "This referral session has expired or is not available in this window. Launch the app again from your EHR."
    )]
    LaunchUnavailable,
    /// The launch was idle longer than the server allows; what was typed is saved.
    #[error(
        "This referral was closed after {minutes} minutes without activity. What you typed is saved: launch the app again from your EHR to continue."
    )]
    Idle { minutes: u64 },
    /// The EHR no longer accepts this launch's tokens and they cannot be renewed.
    #[error(
        "Your sign-in with your EHR has ended. What you typed is saved: launch the app again from the patient's chart to finish the referral."
    )]
    EhrSignInEnded,
    /// The EHR returned another patient than the launch named: nothing was sent.
    #[error(
        "Your EHR returned a different patient than the one you launched from: nothing was sent. Close this window and launch again from the patient's chart."
    )]
    WrongPatient,
    /// The EHR says the launched patient's record is gone (deleted or merged): nothing was sent.
    #[error(
        "Your EHR no longer has this patient's record (it may have been merged with another): nothing was sent. Launch again from the patient's current chart."
    )]
    PatientGone,
    /// A post that did not come from the app's own pages (another site, or no origin at all).
    #[error("This form can only be sent from the referral's own page. Go back to the referral and try again.")]
    CrossSite,
    /// A form post that could not be read, or that did not come from our page.
    #[error("The form could not be read. Go back to the referral and try again.")]
    BadRequest,
    /// Something failed on our side; the log has the details.
    #[error("Something went wrong on our side. Please try again; if it keeps happening, contact your support desk.")]
    Internal,
    /// The request could not reach the server or was malformed.
    #[error("The app could not reach its server ({0}). Check your connection and try again.")]
    Transport(String),
}

impl AppError {
    /// The HTTP status a page showing this error answers with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::LaunchUnavailable | AppError::Idle { .. } | AppError::EhrSignInEnded => 410,
            AppError::WrongPatient => 502,
            AppError::PatientGone => 409,
            AppError::BadRequest => 400,
            AppError::CrossSite => 403,
            AppError::Internal | AppError::Transport(_) => 500,
        }
    }

    /// A short heading for a page showing this error.
    pub fn title(&self) -> &'static str {
        match self {
            AppError::LaunchUnavailable => "This referral is not available here",
            AppError::Idle { .. } => "This referral was closed for inactivity",
            AppError::EhrSignInEnded => "Your EHR sign-in has ended",
            AppError::WrongPatient => "The patient could not be confirmed",
            AppError::PatientGone => "The patient's record is no longer available",
            AppError::BadRequest => "The form could not be read",
            AppError::CrossSite => "This form was sent from somewhere else",
            AppError::Internal | AppError::Transport(_) => "Something went wrong on our side",
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(match value {
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => "network error".into(),
            _ => "unexpected reply".into(),
        })
    }
}
