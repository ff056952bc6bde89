//! FHIR OperationOutcome responses.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

pub const FHIR_JSON: &str = "application/fhir+json";

/// A FHIR JSON response with `status`.
pub fn fhir_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    resp
}

/// An OperationOutcome with one issue.
pub fn operation_outcome(severity: &str, code: &str, diagnostics: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "id": uuid::Uuid::new_v4().to_string(),
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}]
    })
}

/// Respond with an OperationOutcome.
pub fn outcome(status: StatusCode, severity: &str, code: &str, diagnostics: &str) -> Response {
    fhir_response(status, &operation_outcome(severity, code, diagnostics))
}

/// 401 with `WWW-Authenticate: Bearer` and an OperationOutcome.
pub fn unauthorized(diagnostics: &str) -> Response {
    let mut resp = outcome(StatusCode::UNAUTHORIZED, "error", "login", diagnostics);
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"sandbox-ehr\", error=\"invalid_token\""),
    );
    resp
}
