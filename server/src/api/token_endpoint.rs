//! `POST /auth/token`: SMART Backend Services for registered sources (`client_credentials` with a
//! `private_key_jwt` assertion).

use super::{assertion, error::ApiError, scopes, tokens};
use crate::{smart::now_unix, state::AppState};
use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use std::collections::HashMap;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Our token endpoint's URL (the `aud` assertions must name).
pub fn token_url(config: &crate::config::Config) -> String {
    format!("{}/auth/token", config.public_url.as_str().trim_end_matches('/'))
}

pub async fn token(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    match field("grant_type") {
        Some("client_credentials") => {}
        Some(_) => return Err(ApiError::UnsupportedGrantType),
        None => return Err(ApiError::InvalidRequest("grant_type is required".into())),
    }
    if field("client_assertion_type") != Some(ASSERTION_TYPE) {
        return Err(ApiError::InvalidClient("client_assertion_type must be jwt-bearer".into()));
    }
    let assertion =
        field("client_assertion").ok_or_else(|| ApiError::InvalidClient("client_assertion is missing".into()))?;
    let verified = assertion::verify(&state.api_clients, assertion, &token_url(&state.config), now_unix())?;
    if field("client_id").is_some_and(|c| c != verified.client_id) {
        return Err(ApiError::InvalidClient("client_id does not match the assertion".into()));
    }
    let client = state.api_clients.get(&verified.client_id).ok_or_else(|| ApiError::InvalidClient("unknown".into()))?;
    if !tokens::first_use_of_jti(&state, &verified.client_id, &verified.jti, verified.exp).await? {
        return Err(ApiError::InvalidClient("the assertion's jti was already used (replay)".into()));
    }
    let requested = field("scope").ok_or_else(|| ApiError::InvalidScope("scope is required".into()))?;
    let granted = scopes::grant(requested, &client.allowed_scopes);
    if granted.is_empty() {
        return Err(ApiError::InvalidScope("none of the requested scopes is allowed for this client".into()));
    }
    let ttl = state.config.api_token_ttl_secs;
    let token = tokens::issue(&state, &client.ehr_id, &verified.client_id, &granted, ttl).await?;
    tracing::info!(client = %verified.client_id, ehr = %client.ehr_id, scope = %granted.join(" "), "API token issued");
    let mut response = Json(serde_json::json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": ttl,
        "scope": granted.join(" "),
    }))
    .into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
