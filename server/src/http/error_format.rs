//! Error answers the framework makes on its own (a body over its limit, a form or path that does
//! not parse, a method not allowed, a timeout, an unknown static file) come out as plain text or
//! empty. This layer gives them the format of the route they hit, in one place: a page for
//! browsers, an OperationOutcome under `/fhir/`, an OAuth error at `/auth/token`. Our handlers'
//! own answers (HTML, JSON, files) pass untouched.

use crate::{api::error as api, error::error_page};
use axum::{
    extract::Request,
    http::{header, HeaderValue, StatusCode},
    middleware::Next,
    response::{Html, IntoResponse, Response},
};

/// The kinds of route, by what their clients read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// People in browsers: an HTML page.
    Browser,
    /// FHIR clients: an OperationOutcome.
    Fhir,
    /// OAuth clients of our token endpoint: RFC 6749 §5.2 JSON.
    OAuth,
}

pub fn audience(path: &str) -> Audience {
    if path == "/auth/token" {
        Audience::OAuth
    } else if path.starts_with("/fhir/") || path == "/fhir" || path.starts_with("/.well-known/") {
        Audience::Fhir
    } else {
        Audience::Browser
    }
}

/// (title, what to do) for a page, and the OperationOutcome issue code, per status.
fn words(status: StatusCode) -> (&'static str, &'static str, &'static str) {
    match status.as_u16() {
        400 | 422 => ("The request could not be read", "Go back and try again.", "invalid"),
        401 => ("Sign in first", "Sign in again and retry.", "login"),
        403 => ("Not allowed", "This is not available to you here.", "forbidden"),
        404 | 410 => ("Page not found", "This address is not part of the eReferral app. Start again from your EHR.", "not-found"),
        405 => ("That is not possible here", "This address does not accept that request.", "not-supported"),
        408 => ("That took too long", "The request was not completed in time. Check your connection and try again.", "timeout"),
        413 => ("What you sent is too large", "The form or file was larger than the app accepts. Nothing was saved from it: go back and send something smaller.", "too-long"),
        415 => ("The request could not be read", "It was not in a format the app understands.", "not-supported"),
        429 => ("Too many requests", "Wait a minute, then try again.", "throttled"),
        503 => ("The app is busy", "Too many requests are being served right now. Try again in a moment.", "transient"),
        _ if status.is_server_error() => ("Something went wrong on our side", "Try again; if it keeps happening, contact your support desk.", "exception"),
        _ => ("The request could not be completed", "Go back and try again.", "processing"),
    }
}

/// An error answer for `path` in its audience's format. `detail` replaces the page's text or the
/// outcome's (plain words for the client, never internal detail).
pub fn for_path(path: &str, status: StatusCode, detail: Option<&str>) -> Response {
    let (title, todo, code) = words(status);
    let text = detail.unwrap_or(todo);
    let mut response = match audience(path) {
        Audience::Fhir => {
            let severity = if status.is_server_error() { "fatal" } else { "error" };
            api::outcome(status, severity, code, &format!("{title}: {text}"))
        }
        Audience::OAuth => {
            let error = if status.is_server_error() { "server_error" } else { "invalid_request" };
            api::oauth(status, error, &format!("{title}: {text}"))
        }
        Audience::Browser => (status, Html(error_page(title, text))).into_response(),
    };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Whether `response` is one of the framework's bare error answers (no body type, or plain text).
fn is_bare_error(response: &Response) -> bool {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return false;
    }
    match response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(ct) => ct.starts_with("text/plain"),
    }
}

pub async fn format_bare_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    if !is_bare_error(&response) {
        return response;
    }
    let status = response.status();
    if status.is_server_error() || status == StatusCode::PAYLOAD_TOO_LARGE {
        tracing::warn!(status = status.as_u16(), path = %crate::http::request_log::redacted_path(&path), "framework error answer reformatted");
    }
    let mut formatted = for_path(&path, status, None);
    // Keep what tells a client how to go on.
    for name in [header::WWW_AUTHENTICATE, header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = response.headers().get(&name) {
            formatted.headers_mut().insert(name, v.clone());
        }
    }
    formatted
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{body::Body, routing::post, Router};
    use tower::ServiceExt;

    async fn echo(body: axum::body::Bytes) -> String {
        format!("{} bytes", body.len())
    }

    fn app() -> Router {
        Router::new()
            .route("/l/x/do/step/details", post(echo))
            .route("/fhir/$process-message", post(echo))
            .route("/auth/token", post(echo))
            .layer(axum::extract::DefaultBodyLimit::max(16))
            .layer(axum::middleware::from_fn(format_bare_errors))
    }

    async fn send(path: &str, body: &'static str) -> (StatusCode, String, String) {
        let r = app().oneshot(Request::post(path).body(Body::from(body)).unwrap()).await.unwrap();
        let ct = r.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let status = r.status();
        let body = String::from_utf8(axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
        (status, ct, body)
    }

    #[tokio::test]
    async fn oversized_bodies_get_the_routes_own_format() {
        let big = "0123456789abcdefghijklmnop";
        let (status, ct, body) = send("/l/x/do/step/details", big).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(ct.starts_with("text/html"), "{ct}");
        assert!(body.contains("What you sent is too large"), "{body}");
        let (status, ct, body) = send("/fhir/$process-message", big).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(ct.starts_with("application/fhir+json"), "{ct}");
        let oo: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (oo["resourceType"].as_str(), oo["issue"][0]["code"].as_str()),
            (Some("OperationOutcome"), Some("too-long"))
        );
        let (status, ct, body) = send("/auth/token", big).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(ct.starts_with("application/json"), "{ct}");
        assert!(body.contains("\"error\":\"invalid_request\""), "{body}");
        let (status, _, body) = send("/fhir/$process-message", "small").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "5 bytes"), "our own answers pass untouched");
    }
}
