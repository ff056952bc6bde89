//! Bearer token lookup for the FHIR endpoints.

use axum::http::{header, HeaderMap};

use crate::state::AppState;
use crate::store::{now, AccessToken};

/// A static development bearer token accepted by `POST /fhir/$process-message` only
/// (so the app's server can notify the sandbox without a backend-services client).
pub const STATIC_DEV_TOKEN: &str = "sandbox-static-token";

/// The raw bearer token of the request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The live access token presented by the request.
pub fn live_token(st: &AppState, headers: &HeaderMap) -> Option<AccessToken> {
    let token = bearer(headers)?;
    let store = st.store();
    store.access_tokens.get(token).filter(|t| t.expires_at > now()).cloned()
}
