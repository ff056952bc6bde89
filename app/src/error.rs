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

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(match value {
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => "network error".into(),
            _ => "unexpected reply".into(),
        })
    }
}
