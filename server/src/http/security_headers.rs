//! Security headers on every response.
//!
//! Pages rendered by Leptos set their own CSP (with the per-response script nonce, see
//! `app::backend::set_page_security_headers`); everything else gets a locked-down default. Both
//! limit `frame-ancestors` to the registered EHR origins.

use axum::{
    extract::{Request, State},
    http::{header, HeaderValue},
    middleware::Next,
    response::Response,
};
use std::sync::Arc;

#[derive(Clone)]
pub struct SecurityHeaders {
    default_csp: HeaderValue,
    page_csp_template: Arc<str>,
}

impl SecurityHeaders {
    pub fn new(frame_ancestors: &[String]) -> Self {
        let ancestors = if frame_ancestors.is_empty() { "'none'".to_string() } else { frame_ancestors.join(" ") };
        let default_csp = format!("default-src 'none'; frame-ancestors {ancestors}; base-uri 'none'");
        let page_csp_template = format!(
            "default-src 'self'; script-src 'self' 'nonce-{{nonce}}' 'wasm-unsafe-eval'; style-src 'self'; \
             img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors {ancestors}"
        );
        SecurityHeaders {
            default_csp: HeaderValue::from_str(&default_csp).expect("origins were validated as URLs"),
            page_csp_template: page_csp_template.into(),
        }
    }

    pub fn page_csp_template(&self) -> &str {
        &self.page_csp_template
    }
}

pub async fn apply(State(policy): State<SecurityHeaders>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert_with(|| policy.default_csp.clone());
    headers.entry(header::CACHE_CONTROL).or_insert_with(|| HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_ancestors_lists_only_registered_origins() {
        let h = SecurityHeaders::new(&["https://ehr.example.org".into(), "http://127.0.0.1:3100".into()]);
        assert!(h
            .default_csp
            .to_str()
            .unwrap()
            .contains("frame-ancestors https://ehr.example.org http://127.0.0.1:3100;"));
        assert!(h.page_csp_template().ends_with("frame-ancestors https://ehr.example.org http://127.0.0.1:3100"));
        assert!(h.page_csp_template().contains("'nonce-{nonce}'"));
        assert!(!h.page_csp_template().contains("unsafe-inline"));
        let none = SecurityHeaders::new(&[]);
        assert!(none.default_csp.to_str().unwrap().contains("frame-ancestors 'none'"));
    }
}
