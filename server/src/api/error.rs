//! Errors of the FHIR API and its token endpoint, mapped to responses in one place: RFC 6749
//! JSON at the token endpoint, OperationOutcome everywhere else.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Token endpoint: the client could not be authenticated (the reason is logged, not sent).
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// No usable bearer token.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// The token lacks the scope.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Unknown, or another source's (never said which).
    #[error("not found")]
    NotFound,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<crate::store::referrals::ReadError> for ApiError {
    fn from(e: crate::store::referrals::ReadError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Internal(e.to_string())
    }
}

/// An OperationOutcome with one issue.
pub fn outcome(status: StatusCode, severity: &str, code: &str, text: &str) -> Response {
    let body = json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "details": {"text": text}}]
    });
    fhir_json(status, body.to_string())
}

/// A FHIR JSON response that is never cached.
pub fn fhir_json(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/fhir+json; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
        body,
    )
        .into_response()
}

pub fn oauth(status: StatusCode, error: &str, description: &str) -> Response {
    let mut r = (status, Json(json!({"error": error, "error_description": description}))).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::InvalidClient(why) => {
                tracing::warn!(reason = %why, "API client authentication refused");
                oauth(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed")
            }
            ApiError::InvalidRequest(why) => oauth(StatusCode::BAD_REQUEST, "invalid_request", why),
            ApiError::UnsupportedGrantType => oauth(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials (SMART Backend Services) is supported",
            ),
            ApiError::InvalidScope(why) => oauth(StatusCode::BAD_REQUEST, "invalid_scope", why),
            ApiError::Unauthorized(why) => {
                let mut r = outcome(StatusCode::UNAUTHORIZED, "error", "login", why);
                r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                r
            }
            ApiError::Forbidden(why) => outcome(StatusCode::FORBIDDEN, "error", "forbidden", why),
            ApiError::NotFound => outcome(StatusCode::NOT_FOUND, "error", "not-found", "no such resource"),
            ApiError::BadRequest(why) => outcome(StatusCode::BAD_REQUEST, "error", "invalid", why),
            ApiError::Internal(why) => {
                tracing::error!(error = %why, "FHIR API failure");
                outcome(StatusCode::INTERNAL_SERVER_ERROR, "fatal", "exception", "internal error; see the server logs")
            }
        }
    }
}
