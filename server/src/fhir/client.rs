//! Outbound HTTP to EHRs: timeouts, a response size limit, no redirects, and FHIR errors turned
//! into typed errors. Logs carry the resource type and status, never bodies, ids of patients or
//! tokens.

use reqwest::{header, StatusCode};
use serde_json::Value;
use std::time::Duration;
use url::Url;

/// Largest response body we accept from an EHR.
pub const MAX_RESPONSE_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FhirReadError {
    #[error("not found (404)")]
    NotFound,
    #[error("unauthorized (401)")]
    Unauthorized,
    #[error("forbidden (403)")]
    Forbidden,
    #[error("EHR rejected the request: {0}")]
    Rejected(String),
    #[error("EHR server error ({0})")]
    ServerError(u16),
    #[error("unexpected status {0}")]
    Status(u16),
    #[error("timed out or network error: {0}")]
    Transport(String),
    #[error("response larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("response is not JSON: {0}")]
    NotJson(String),
    #[error("redirect refused")]
    Redirect,
    #[error("returned a {found} where a {expected} was expected")]
    WrongType { expected: &'static str, found: String },
}

/// Builds the one HTTP client for all outbound calls.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .user_agent(concat!("ereferral/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("TLS backend initialises")
}

/// Reads a response body up to [`MAX_RESPONSE_BYTES`].
pub async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, FhirReadError> {
    if response.content_length().is_some_and(|n| n as usize > MAX_RESPONSE_BYTES) {
        return Err(FhirReadError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| FhirReadError::Transport(e.to_string()))? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(FhirReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Sends `request` and reads the JSON answer (bounded); a non-2xx status becomes a typed error,
/// using the OperationOutcome's text when the server sent one. Redirects are never followed.
async fn fetch_json(request: reqwest::RequestBuilder) -> Result<Value, FhirReadError> {
    let response = request.send().await.map_err(|e| FhirReadError::Transport(e.without_url().to_string()))?;
    let status = response.status();
    if status.is_redirection() {
        return Err(FhirReadError::Redirect);
    }
    let body = read_limited(response).await?;
    if !status.is_success() {
        let outcome: Option<Value> = serde_json::from_slice(&body).ok();
        return Err(status_error(status, outcome.as_ref()));
    }
    serde_json::from_slice(&body).map_err(|e| FhirReadError::NotJson(e.to_string()))
}

/// GET a JSON document (discovery, metadata) without credentials.
pub async fn get_json(http: &reqwest::Client, url: &Url, accept: &str) -> Result<Value, FhirReadError> {
    fetch_json(http.get(url.clone()).header(header::ACCEPT, accept)).await
}

/// Reads `{base}/{Type}/{id}` with a bearer token and checks the resource type.
pub async fn read_resource(
    http: &reqwest::Client,
    base: &Url,
    resource_type: &'static str,
    id: &str,
    access_token: &str,
) -> Result<Value, FhirReadError> {
    let url = resource_url(base, resource_type, id).ok_or(FhirReadError::Status(400))?;
    let value =
        fetch_json(http.get(url).bearer_auth(access_token).header(header::ACCEPT, "application/fhir+json")).await?;
    let found = value.get("resourceType").and_then(Value::as_str).unwrap_or("nothing");
    if found != resource_type {
        return Err(FhirReadError::WrongType { expected: resource_type, found: found.to_string() });
    }
    Ok(value)
}

/// `{base}/{Type}/{id}`, refusing ids that are not FHIR ids (no path tricks).
pub fn resource_url(base: &Url, resource_type: &str, id: &str) -> Option<Url> {
    if !is_fhir_id(id) {
        return None;
    }
    let mut url = base.clone();
    url.path_segments_mut().ok()?.pop_if_empty().push(resource_type).push(id);
    Some(url)
}

/// FHIR id: 1–64 of `[A-Za-z0-9\-\.]`.
pub fn is_fhir_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn status_error(status: StatusCode, outcome: Option<&Value>) -> FhirReadError {
    match status {
        StatusCode::NOT_FOUND | StatusCode::GONE => FhirReadError::NotFound,
        StatusCode::UNAUTHORIZED => FhirReadError::Unauthorized,
        StatusCode::FORBIDDEN => FhirReadError::Forbidden,
        s if s.is_server_error() => FhirReadError::ServerError(s.as_u16()),
        s => match outcome.and_then(outcome_text) {
            Some(text) => FhirReadError::Rejected(text),
            None => FhirReadError::Status(s.as_u16()),
        },
    }
}

/// The human text of an OperationOutcome's first issue.
pub fn outcome_text(outcome: &Value) -> Option<String> {
    if outcome.get("resourceType")?.as_str()? != "OperationOutcome" {
        return None;
    }
    let issue = outcome.get("issue")?.get(0)?;
    let text = issue.pointer("/details/text").or_else(|| issue.get("diagnostics")).and_then(Value::as_str)?;
    Some(text.chars().take(300).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resource_urls_refuse_path_tricks() {
        let base = Url::parse("https://ehr.example.org/fhir").unwrap();
        assert_eq!(
            resource_url(&base, "Patient", "p-1.2").unwrap().as_str(),
            "https://ehr.example.org/fhir/Patient/p-1.2"
        );
        let slash = Url::parse("https://ehr.example.org/fhir/").unwrap();
        assert_eq!(resource_url(&slash, "Patient", "x").unwrap().as_str(), "https://ehr.example.org/fhir/Patient/x");
        for bad in ["", "../admin", "a/b", "a?b", "a#b", "a b", &"x".repeat(65)] {
            assert!(resource_url(&base, "Patient", bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn operation_outcome_text_is_extracted() {
        let oo = json!({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","details":{"text":"Patient merged"}}]});
        assert_eq!(outcome_text(&oo).as_deref(), Some("Patient merged"));
        let diag =
            json!({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"x","diagnostics":"boom"}]});
        assert_eq!(outcome_text(&diag).as_deref(), Some("boom"));
        assert_eq!(outcome_text(&json!({"resourceType":"Patient"})), None);
        assert_eq!(
            status_error(StatusCode::UNPROCESSABLE_ENTITY, Some(&oo)),
            FhirReadError::Rejected("Patient merged".into())
        );
        assert_eq!(status_error(StatusCode::BAD_GATEWAY, None), FhirReadError::ServerError(502));
    }
}
