//! The server's services as the UI sees them. The server implements [`AppBackend`] and provides it
//! as context; server functions call it and nothing else.

use crate::{
    error::AppError,
    wizard_api::{ServiceSearch, WizardView},
};
use http::{header, HeaderMap, HeaderValue};
use leptos::prelude::*;
use std::{future::Future, pin::Pin, sync::Arc};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait AppBackend: Send + Sync + 'static {
    /// The referral wizard for `launch` at `step` (`""`: where the clinician left off).
    fn wizard_view<'a>(
        &'a self,
        launch: &'a str,
        step: &'a str,
        search: &'a ServiceSearch,
        headers: &'a HeaderMap,
    ) -> BoxFuture<'a, Result<WizardView, AppError>>;
    /// The Content-Security-Policy for pages, with `{nonce}` where the script nonce goes.
    fn page_csp_template(&self) -> &str;
}

/// Context wrapper so the server can provide one shared backend.
#[derive(Clone)]
pub struct Backend(pub Arc<dyn AppBackend>);

pub fn use_backend() -> Result<Backend, AppError> {
    use_context::<Backend>().ok_or_else(|| {
        leptos::logging::error!("AppBackend was not provided as context");
        AppError::Internal
    })
}

/// Pages carry PHI and run an inline hydration script: no caching, and a CSP whose script nonce
/// is this response's.
pub fn set_page_security_headers() {
    let Some(options) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    options.insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let (Some(nonce), Ok(backend)) = (leptos::nonce::use_nonce(), use_backend()) else {
        return;
    };
    let csp = backend.0.page_csp_template().replace("{nonce}", &nonce);
    if let Ok(value) = HeaderValue::from_str(&csp) {
        options.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}
