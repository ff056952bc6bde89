//! Access tokens for the FHIR API: opaque random strings, stored as SHA-256 hashes with the EHR
//! and scopes they stand for; and the bearer check every API handler starts with.

use super::error::ApiError;
use crate::{smart::now_unix, state::AppState};
use axum::{extract::FromRequestParts, http::request::Parts};
use sha2::{Digest, Sha256};

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Issues a token for `client_id` (speaking for `ehr_id`) with `scopes`; returns it.
pub async fn issue(
    state: &AppState,
    ehr_id: &str,
    client_id: &str,
    scopes: &[String],
    ttl_secs: u64,
) -> Result<String, ApiError> {
    let token = crate::smart::random_token(32);
    crate::store::api_tokens::insert(
        &state.db,
        &hash(&token),
        ehr_id,
        client_id,
        &scopes.join(" "),
        now_unix() + ttl_secs as i64,
    )
    .await?;
    Ok(token)
}

/// Records a used assertion `jti`; `false` when it was used before (a replay).
pub async fn first_use_of_jti(state: &AppState, client_id: &str, jti: &str, exp: i64) -> Result<bool, ApiError> {
    Ok(crate::store::api_tokens::first_use_of_jti(&state.db, client_id, jti, exp + 120).await?)
}

/// The caller of an API request, from its bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub ehr_id: String,
    pub client_id: String,
    pub scopes: Vec<String>,
}

impl Caller {
    /// Refuses unless the token allows `permission` on `resource_type`.
    pub fn require(&self, resource_type: &str, permission: char) -> Result<(), ApiError> {
        if super::scopes::permits(&self.scopes, resource_type, permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("the token's scopes do not allow this on {resource_type}")))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized("a bearer token from our token endpoint is required"))?;
        let token = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized("a bearer token from our token endpoint is required"))?;
        let row = crate::store::api_tokens::find(&state.db, &hash(token), now_unix()).await?;
        let (ehr_id, client_id, scopes) =
            row.ok_or(ApiError::Unauthorized("the bearer token is unknown or has expired"))?;
        Ok(Caller { ehr_id, client_id, scopes: scopes.split_whitespace().map(str::to_string).collect() })
    }
}
