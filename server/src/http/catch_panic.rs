//! The last line of defence: a handler that panics answers 500 in the route's own format (a page,
//! an OperationOutcome on `/fhir`, an OAuth error on `/auth/token`) without any detail, and the
//! panic is logged (its message and location only, never the request).

use super::error_format;
use axum::{extract::Request, http::StatusCode, middleware::Next, response::Response};
use futures::FutureExt;
use std::panic::AssertUnwindSafe;

pub async fn catch_panic(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic".into());
            tracing::error!(panic = %message.chars().take(300).collect::<String>(), path = %crate::http::request_log::redacted_path(&path),
                "a request handler panicked; answered 500");
            error_format::for_path(&path, StatusCode::INTERNAL_SERVER_ERROR, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{body::Body, routing::get, Router};
    use tower::ServiceExt;

    async fn boom() -> &'static str {
        let v: Vec<u8> = Vec::new();
        let _ = v[3];
        "unreachable"
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_in_the_routes_format() {
        let app = Router::new()
            .route("/page", get(boom))
            .route("/fhir/Task/{id}", get(boom))
            .layer(axum::middleware::from_fn(catch_panic));
        let page = app.clone().oneshot(Request::get("/page").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(page.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let body = axum::body::to_bytes(page.into_body(), 1 << 20).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("Something went wrong on our side"), "{text}");
        assert!(!text.contains("index out of bounds"), "no detail: {text}");
        let fhir = app.oneshot(Request::get("/fhir/Task/x").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(fhir.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(fhir.headers()["content-type"].to_str().unwrap().starts_with("application/fhir+json"));
        let body: serde_json::Value =
            serde_json::from_slice(&axum::body::to_bytes(fhir.into_body(), 1 << 20).await.unwrap()).unwrap();
        assert_eq!(body["resourceType"], "OperationOutcome");
        assert_eq!(body["issue"][0]["code"], "exception");
    }
}
