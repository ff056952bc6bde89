//! Errors that reach the clinician, mapped to responses in one place.
//!
//! Each variant renders a plain-words page (what happened, what to do). The details an operator
//! needs are logged where the error is raised, without PHI or tokens.

use app::error::AppError;
use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Response},
};

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("launch request is missing `{0}`")]
    MissingParameter(&'static str),
    #[error("launch parameter `{0}` is malformed")]
    MalformedParameter(&'static str),
    #[error("issuer is not registered")]
    UnknownIssuer,
    #[error("the EHR's SMART configuration could not be used: {0}")]
    Discovery(String),
    /// Discovery put the authorization server on a host the registration does not name.
    #[error("the EHR's SMART configuration names an untrusted endpoint: {0}")]
    UntrustedEndpoint(String),
    /// The callback came to a browser other than the one that started the launch.
    #[error("the callback came from another browser than the launch")]
    WrongBrowser,
    /// The EHR returned another patient than the launch named (or a draft or encounter of
    /// another patient). Logged as a safety event where it is detected.
    #[error("the EHR returned data of another patient ({resource})")]
    WrongPatient { resource: &'static str },
    #[error("the EHR returned another user than fhirUser names ({resource})")]
    WrongUser { resource: &'static str },
    #[error("the EHR refused authorization: {code}")]
    AuthorizationDenied { code: String, description: Option<String> },
    #[error("state is unknown, used or expired")]
    StateInvalid,
    #[error("token exchange failed: {0}")]
    TokenExchange(String),
    #[error("id_token rejected: {0}")]
    IdToken(String),
    #[error("the EHR gave no patient context")]
    MissingPatient,
    #[error("the EHR gave no user identity (fhirUser)")]
    MissingUser,
    #[error("FHIR read of {resource} failed: {reason}")]
    FhirRead { resource: &'static str, reason: crate::fhir::client::FhirReadError },
    #[error("internal error: {0}")]
    Internal(String),
}

impl LaunchError {
    fn status(&self) -> StatusCode {
        match self {
            LaunchError::MissingParameter(_) | LaunchError::MalformedParameter(_) => StatusCode::BAD_REQUEST,
            LaunchError::UnknownIssuer => StatusCode::FORBIDDEN,
            LaunchError::StateInvalid => StatusCode::BAD_REQUEST,
            LaunchError::WrongBrowser => StatusCode::FORBIDDEN,
            LaunchError::AuthorizationDenied { .. } => StatusCode::FORBIDDEN,
            LaunchError::MissingPatient | LaunchError::MissingUser => StatusCode::BAD_REQUEST,
            LaunchError::Discovery(_)
            | LaunchError::UntrustedEndpoint(_)
            | LaunchError::WrongPatient { .. }
            | LaunchError::WrongUser { .. }
            | LaunchError::TokenExchange(_)
            | LaunchError::IdToken(_)
            | LaunchError::FhirRead { .. } => StatusCode::BAD_GATEWAY,
            LaunchError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// (title, what happened and what to do) in the clinician's words.
    fn user_text(&self) -> (&'static str, String) {
        use crate::fhir::client::FhirReadError as F;
        match self {
            LaunchError::MissingParameter(_) | LaunchError::MalformedParameter(_) => (
                "This link cannot start a referral",
                "The app must be opened from your EHR. Close this window and choose Refer from the patient's chart.".into(),
            ),
            LaunchError::UnknownIssuer => (
                "This EHR is not registered with eReferral",
                "The app was opened by a system it does not know, so it stopped before contacting it. Ask your support desk to register your EHR.".into(),
            ),
            LaunchError::Discovery(_) => (
                "Your EHR could not be reached",
                "The app could not read your EHR's sign-in settings. Try again in a minute; if it keeps happening, contact your support desk.".into(),
            ),
            LaunchError::UntrustedEndpoint(_) => (
                "Your EHR's sign-in settings point to another server",
                "Your EHR's settings send sign-ins to a server it is not registered with, so the app stopped before contacting it. Nothing was sent. Contact your support desk.".into(),
            ),
            LaunchError::WrongBrowser => (
                "This sign-in was started in another window",
                "The sign-in link was opened in a different browser or window than the one that started it, so it was stopped. Nothing was saved. Close this window and launch the app again from your EHR.".into(),
            ),
            LaunchError::WrongPatient { .. } => (
                "The patient could not be confirmed",
                "Your EHR returned a different patient than the one you launched from: nothing was saved. Close this window and launch again from the patient's chart. If it happens again, tell your support desk.".into(),
            ),
            LaunchError::WrongUser { .. } => (
                "Your identity could not be confirmed",
                "Your EHR returned a different user than the one signed in: nothing was saved. Close this window and launch again; if it happens again, tell your support desk.".into(),
            ),
            LaunchError::AuthorizationDenied { code, .. } if code == "access_denied" => (
                "Access was not granted",
                "Your EHR did not allow the app to open this patient's record. Launch again and approve access, or ask your support desk.".into(),
            ),
            LaunchError::AuthorizationDenied { .. } => (
                "Your EHR refused the sign-in",
                "Your EHR did not accept the app's sign-in request. Launch again from the patient's chart; if it keeps happening, contact your support desk.".into(),
            ),
            LaunchError::StateInvalid => (
                "This launch has expired",
                "This launch has expired or was already used: launch again from your EHR.".into(),
            ),
            LaunchError::TokenExchange(_) | LaunchError::IdToken(_) => (
                "Sign-in with your EHR failed",
                "The app could not confirm your sign-in with your EHR. Launch again from the patient's chart; if it keeps happening, contact your support desk.".into(),
            ),
            LaunchError::MissingPatient => (
                "No patient was selected",
                "Your EHR opened the app without a patient. Open the patient's chart in your EHR and choose Refer from there.".into(),
            ),
            LaunchError::MissingUser => (
                "Your identity was not shared",
                "Your EHR did not tell the app who you are, so a referral cannot be signed. Contact your support desk.".into(),
            ),
            LaunchError::FhirRead { resource, reason } => (
                "Patient details could not be loaded",
                match reason {
                    F::NotFound => format!("Your EHR says the {resource} record does not exist. Check the chart and launch again."),
                    F::Unauthorized | F::Forbidden => format!("Your EHR did not allow the app to read the {resource} record. Launch again; if it keeps happening, contact your support desk."),
                    F::Rejected { text, .. } => format!("Your EHR could not return the {resource} record: {text}. Launch again, or contact your support desk."),
                    _ => format!("Your EHR did not return the {resource} record in time or returned an error. Try again in a minute."),
                },
            ),
            LaunchError::Internal(_) => (
                "Something went wrong on our side",
                "The app hit an unexpected problem. Launch again; if it keeps happening, contact your support desk.".into(),
            ),
        }
    }
}

impl LaunchError {
    pub fn from_discovery(e: crate::smart::discovery::DiscoveryError) -> Self {
        use crate::smart::discovery::DiscoveryError as D;
        match e {
            D::ForeignEndpoint { .. } | D::InsecureEndpoint(_) => LaunchError::UntrustedEndpoint(e.to_string()),
            other => LaunchError::Discovery(other.to_string()),
        }
    }
}

impl IntoResponse for LaunchError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (title, text) = self.user_text();
        if status.is_server_error() || status == StatusCode::BAD_GATEWAY {
            tracing::error!(error = %self, status = status.as_u16(), "launch failed");
        } else {
            tracing::warn!(error = %self, status = status.as_u16(), "launch refused");
        }
        let body = error_page(title, &text);
        let mut response = (status, Html(body)).into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// An [`AppError`] met by a plain form post: the same plain words as the pages, as a page of its own.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        PageError(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Html(error_page(self.0.title(), &self.0.to_string()))).into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// A minimal self-contained page (no scripts) for errors raised before the app can render.
pub fn error_page(title: &str, text: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{t} · eReferral</title><link rel=\"stylesheet\" href=\"/pkg/ereferral.css\"></head><body><main id=\"main\">\
<section class=\"card error\" role=\"alert\"><h1>{t}</h1><p>{x}</p></section></main></body></html>",
        t = escape_html(title),
        x = escape_html(text)
    )
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_pages_escape_text() {
        let page = error_page("<script>", "a & b \"c\"");
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("a &amp; b &quot;c&quot;"));
        assert!(!page.contains("<script>"));
    }

    #[test]
    fn expired_state_tells_the_clinician_to_launch_again() {
        let (_, text) = LaunchError::StateInvalid.user_text();
        assert!(text.contains("launch again from your EHR"));
    }
}
