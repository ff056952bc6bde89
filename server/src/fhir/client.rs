//! Outbound HTTP to EHRs: timeouts, a response size limit, no redirects, and FHIR errors turned
//! into typed errors. Logs carry the resource type and status, never bodies, ids of patients or
//! tokens.

use reqwest::{header, StatusCode};
use serde_json::Value;
use std::time::Duration;
use url::Url;

/// What an outbound response may be: how large, and that it is JSON. Every call to an EHR names
/// one of these, so nothing is read without a bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    pub max_bytes: usize,
}

impl Expect {
    /// SMART configuration, OpenID configuration, CapabilityStatement.
    pub const DISCOVERY: Expect = Expect { max_bytes: 256 * 1024 };
    /// A JWK Set.
    pub const JWKS: Expect = Expect { max_bytes: 64 * 1024 };
    /// A token endpoint's answer.
    pub const TOKEN: Expect = Expect { max_bytes: 64 * 1024 };
    /// An EHR's answer to a message we sent (an OperationOutcome, or nothing).
    pub const MESSAGE_ANSWER: Expect = Expect { max_bytes: 256 * 1024 };
    /// The default bound of FHIR resource reads (`fhir_read_max_bytes`).
    pub const DEFAULT_FHIR_READ_BYTES: usize = 2 * 1024 * 1024;

    pub fn fhir_read(max_bytes: usize) -> Expect {
        Expect { max_bytes }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FhirReadError {
    #[error("not found (404)")]
    NotFound,
    #[error("unauthorized (401)")]
    Unauthorized,
    #[error("forbidden (403)")]
    Forbidden,
    /// The EHR's own words (an OperationOutcome) are kept for the clinician, never logged: they
    /// can name the patient.
    #[error("EHR rejected the request (HTTP {status})")]
    Rejected { status: u16, text: String },
    #[error("EHR server error ({0})")]
    ServerError(u16),
    #[error("unexpected status {0}")]
    Status(u16),
    #[error("timed out or network error: {0}")]
    Transport(String),
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    #[error("response is not JSON: {0}")]
    NotJson(String),
    #[error("response content type {0:?} is not JSON")]
    ContentType(String),
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

/// Reads a response body up to `max` bytes: a larger declared length is refused before reading,
/// and a body that grows past it is cut off.
pub async fn read_limited(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, FhirReadError> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(FhirReadError::TooLarge(max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| FhirReadError::Transport(e.without_url().to_string()))? {
        if body.len() + chunk.len() > max {
            return Err(FhirReadError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether a `Content-Type` names JSON: `application/json`, `application/fhir+json`, or any
/// other `application/…+json` (`jwk-set+json`), parameters allowed.
pub fn is_json_media_type(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let mime = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// A header value as shown in an error: printable ASCII, at most 80 characters.
fn shown(value: &str) -> String {
    value.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').take(80).collect()
}

/// Sends `request` and reads the JSON answer within `expect`; a non-2xx status becomes a typed
/// error, using the OperationOutcome's text when the server sent one. Redirects are never
/// followed, and a 2xx answer must say it is JSON.
async fn fetch_json(request: reqwest::RequestBuilder, expect: Expect) -> Result<Value, FhirReadError> {
    let response = request.send().await.map_err(|e| FhirReadError::Transport(e.without_url().to_string()))?;
    let status = response.status();
    if status.is_redirection() {
        return Err(FhirReadError::Redirect);
    }
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = read_limited(response, expect.max_bytes).await?;
    if !status.is_success() {
        let outcome: Option<Value> = serde_json::from_slice(&body).ok();
        return Err(status_error(status, outcome.as_ref()));
    }
    if !is_json_media_type(content_type.as_deref()) {
        return Err(FhirReadError::ContentType(shown(content_type.as_deref().unwrap_or("none"))));
    }
    serde_json::from_slice(&body).map_err(|e| FhirReadError::NotJson(e.to_string()))
}

/// GET a JSON document (discovery, metadata, JWKS) without credentials.
pub async fn get_json(http: &reqwest::Client, url: &Url, accept: &str, expect: Expect) -> Result<Value, FhirReadError> {
    fetch_json(http.get(url.clone()).header(header::ACCEPT, accept), expect).await
}

/// Reads `{base}/{Type}/{id}` with a bearer token and checks the resource type.
pub async fn read_resource(
    http: &reqwest::Client,
    base: &Url,
    resource_type: &'static str,
    id: &str,
    access_token: &str,
    expect: Expect,
) -> Result<Value, FhirReadError> {
    let url = resource_url(base, resource_type, id).ok_or(FhirReadError::Status(400))?;
    let request = http.get(url).bearer_auth(access_token).header(header::ACCEPT, "application/fhir+json");
    let value = fetch_json(request, expect).await?;
    let found = value.get("resourceType").and_then(Value::as_str).unwrap_or("nothing");
    if found != resource_type {
        return Err(FhirReadError::WrongType { expected: resource_type, found: shown(found) });
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

/// FHIR id: 1–64 of `[A-Za-z0-9\-\.]`, except `.` and `..`: the FHIR regex allows them, but in a
/// URL they are path steps (`{base}/Patient/..` is the server's base, and `url` drops them when
/// building one), so no resource can be read or referenced by them (found by fuzzing).
pub fn is_fhir_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && id != "."
        && id != ".."
}

fn status_error(status: StatusCode, outcome: Option<&Value>) -> FhirReadError {
    match status {
        StatusCode::NOT_FOUND | StatusCode::GONE => FhirReadError::NotFound,
        StatusCode::UNAUTHORIZED => FhirReadError::Unauthorized,
        StatusCode::FORBIDDEN => FhirReadError::Forbidden,
        s if s.is_server_error() => FhirReadError::ServerError(s.as_u16()),
        s => match outcome.and_then(outcome_text) {
            Some(text) => FhirReadError::Rejected { status: s.as_u16(), text },
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
        for bad in ["", ".", "..", "../admin", "a/b", "a?b", "a#b", "a b", &"x".repeat(65)] {
            assert!(resource_url(&base, "Patient", bad).is_none(), "{bad}");
        }
        // Dots are fine inside an id, and so are ids of three dots (no path step).
        assert!(is_fhir_id("a.b") && is_fhir_id(".a") && is_fhir_id("..."));
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
            FhirReadError::Rejected { status: 422, text: "Patient merged".into() }
        );
        assert_eq!(status_error(StatusCode::BAD_GATEWAY, None), FhirReadError::ServerError(502));
        let rejected = status_error(StatusCode::UNPROCESSABLE_ENTITY, Some(&oo));
        assert!(!rejected.to_string().contains("merged"), "the EHR's words stay out of Display (and so of logs)");
    }

    #[test]
    fn json_media_types() {
        for ok in
            ["application/json", "application/fhir+json; charset=utf-8", "Application/JSON", "application/jwk-set+json"]
        {
            assert!(is_json_media_type(Some(ok)), "{ok}");
        }
        for bad in [None, Some("text/html"), Some("text/plain"), Some("application/jsonx"), Some("json"), Some("")] {
            assert!(!is_json_media_type(bad), "{bad:?}");
        }
    }
}
