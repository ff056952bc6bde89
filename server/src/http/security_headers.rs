//! Security headers on every response.
//!
//! Pages rendered by Leptos set their own CSP (with the per-response script nonce, see
//! `app::backend::set_page_security_headers`); every other response gets the one CSP for plain
//! pages (no scripts; our stylesheet and images; forms to us), framed only by registered EHR
//! origins, unless it set a stricter one itself (the console and "my referrals" are never framed).
//!
//! Also: `Referrer-Policy: same-origin` (URLs carry launch ids: no other site ever sees one; and
//! unlike `no-referrer`, browsers then send our own form posts a real `Origin` instead of `null`,
//! which the cross-site check needs), `nosniff`, a
//! `Permissions-Policy` that turns off every powerful feature, `Cross-Origin-Resource-Policy:
//! same-origin` (no other site embeds our files or API answers), and HSTS when we are served over
//! https. There is no `Cross-Origin-Opener-Policy` isolation on launch pages on purpose: a launch
//! opened by the EHR in a new tab closes itself by posting to `window.opener`, which COOP would
//! sever (`unsafe-none` is sent explicitly); pages no EHR opens get `same-origin`.

use axum::{
    extract::{Request, State},
    http::{header, HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use std::sync::Arc;

const PERMISSIONS_POLICY: HeaderName = HeaderName::from_static("permissions-policy");
const COOP: HeaderName = HeaderName::from_static("cross-origin-opener-policy");
const CORP: HeaderName = HeaderName::from_static("cross-origin-resource-policy");

#[derive(Clone)]
pub struct SecurityHeaders {
    plain_framed: HeaderValue,
    plain_unframed: HeaderValue,
    page_csp_template: Arc<str>,
    hsts: Option<HeaderValue>,
}

/// The plain-page CSP of pages that are never framed (console, "my referrals").
pub const PLAIN_UNFRAMED_CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn plain_csp(ancestors: &str) -> String {
    format!(
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
    )
}

impl SecurityHeaders {
    /// `https`: whether the app's public URL is https (then browsers are told to keep it so).
    pub fn new(frame_ancestors: &[String], https: bool) -> Self {
        let ancestors = if frame_ancestors.is_empty() { "'none'".to_string() } else { frame_ancestors.join(" ") };
        let page_csp_template = format!(
            "default-src 'self'; script-src 'self' 'nonce-{{nonce}}' 'wasm-unsafe-eval'; style-src 'self'; \
             img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors {ancestors}"
        );
        SecurityHeaders {
            plain_framed: HeaderValue::from_str(&plain_csp(&ancestors)).expect("origins were validated as URLs"),
            plain_unframed: HeaderValue::from_static(PLAIN_UNFRAMED_CSP),
            page_csp_template: page_csp_template.into(),
            hsts: https.then(|| HeaderValue::from_static("max-age=31536000; includeSubDomains")),
        }
    }

    pub fn page_csp_template(&self) -> &str {
        &self.page_csp_template
    }

    /// The CSP of a plain page that may be framed by the EHR (status pages, error pages).
    pub fn plain_framed(&self) -> HeaderValue {
        self.plain_framed.clone()
    }

    /// The CSP of a plain page that is never framed (console, "my referrals").
    pub fn plain_unframed(&self) -> HeaderValue {
        self.plain_unframed.clone()
    }
}

/// Pages the EHR opens (launches) keep their opener; other pages are isolated from theirs.
fn opener_policy(path: &str) -> &'static str {
    if path.starts_with("/l/") || path == "/launch" || path == "/callback" {
        "unsafe-none"
    } else {
        "same-origin"
    }
}

pub async fn apply(State(policy): State<SecurityHeaders>, request: Request, next: Next) -> Response {
    let coop = opener_policy(request.uri().path());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        PERMISSIONS_POLICY,
        HeaderValue::from_static(
            "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), magnetometer=(), \
             microphone=(), payment=(), usb=()",
        ),
    );
    headers.insert(COOP, HeaderValue::from_static(coop));
    headers.insert(CORP, HeaderValue::from_static("same-origin"));
    if let Some(hsts) = &policy.hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
    }
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert_with(|| policy.plain_framed.clone());
    headers.entry(header::CACHE_CONTROL).or_insert_with(|| HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_ancestors_lists_only_registered_origins() {
        let h = SecurityHeaders::new(&["https://ehr.example.org".into(), "http://127.0.0.1:3100".into()], false);
        let plain = h.plain_framed().to_str().unwrap().to_string();
        assert!(plain.ends_with("frame-ancestors https://ehr.example.org http://127.0.0.1:3100"), "{plain}");
        assert!(plain.contains("style-src 'self'"), "plain pages may load their stylesheet: {plain}");
        assert!(!plain.contains("script-src"), "and run no script: {plain}");
        assert!(h.plain_unframed().to_str().unwrap().ends_with("frame-ancestors 'none'"));
        assert_eq!(PLAIN_UNFRAMED_CSP, plain_csp("'none'"));
        assert!(h.page_csp_template().ends_with("frame-ancestors https://ehr.example.org http://127.0.0.1:3100"));
        assert!(h.page_csp_template().contains("'nonce-{nonce}'"));
        assert!(!h.page_csp_template().contains("unsafe-inline"));
        let none = SecurityHeaders::new(&[], false);
        assert!(none.plain_framed().to_str().unwrap().contains("frame-ancestors 'none'"));
        assert!(none.hsts.is_none());
        assert!(SecurityHeaders::new(&[], true).hsts.is_some());
    }

    #[test]
    fn launch_pages_keep_their_opener() {
        assert_eq!(opener_policy("/l/abc/done"), "unsafe-none");
        assert_eq!(opener_policy("/console"), "same-origin");
        assert_eq!(opener_policy("/me/abc"), "same-origin");
    }
}
