//! The one access path from a launch session to its EHR: every call gets a usable access token
//! (refreshed, with the registration's client auth, shortly before it expires), and a call the
//! EHR answers 401 is refreshed once and tried again. When a refresh is impossible or refused,
//! the session's EHR access has ended and the clinician is told to launch again.

use super::{now_unix, registry, token};
use crate::{
    fhir::client::{read_resource, Expect, FhirReadError},
    state::AppState,
    store::sessions::{self as store, SessionRow},
};
use serde_json::Value;

/// Refresh when the access token has less than this left.
pub const REFRESH_MARGIN_SECS: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("the launch's EHR access has ended and cannot be renewed ({0})")]
    Ended(&'static str),
    #[error("refreshing the access token failed: {0}")]
    Refresh(String),
    /// The refresh answer named another patient than the launch: the session must not go on.
    #[error("the refresh answer names another patient than the launch")]
    WrongPatient,
    #[error("session store: {0}")]
    Store(#[from] store::SessionError),
}

#[derive(Debug, thiserror::Error)]
pub enum EhrCallError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("FHIR read of {resource} failed: {reason}")]
    Read { resource: &'static str, reason: FhirReadError },
}

/// The access token to call the EHR with for `row`, refreshing it first when needed.
pub async fn access_token(state: &AppState, row: &SessionRow) -> Result<String, AccessError> {
    let now = now_unix();
    let tokens = row.tokens(&state.cipher)?;
    if row.token_expires_at - now > REFRESH_MARGIN_SECS {
        return Ok(tokens.access_token);
    }
    refresh(state, row, now).await
}

/// A new access token after the EHR refused `refused` (401): unless another request already
/// replaced it, the refresh token is used once.
pub async fn access_token_after_401(state: &AppState, row: &SessionRow, refused: &str) -> Result<String, AccessError> {
    let now = now_unix();
    if let Some(current) = store::get(&state.db, &row.id, now).await? {
        let tokens = current.tokens(&state.cipher)?;
        if tokens.access_token != refused && current.token_expires_at - now > REFRESH_MARGIN_SECS {
            return Ok(tokens.access_token);
        }
        return refresh(state, &current, now).await;
    }
    Err(AccessError::Ended("the session is gone"))
}

async fn refresh(state: &AppState, row: &SessionRow, now: i64) -> Result<String, AccessError> {
    let tokens = row.tokens(&state.cipher)?;
    let refresh_token = tokens.refresh_token.clone().ok_or(AccessError::Ended("no refresh token was issued"))?;
    let ehr = registry::registration_by_id(&state.config, &row.ehr_id).ok_or(AccessError::Ended("EHR unregistered"))?;
    let endpoints =
        state.smart.discovery.get(&state.smart.http, ehr).await.map_err(|e| AccessError::Refresh(e.to_string()))?;
    let refreshed = token::refresh(
        &state.smart.http,
        ehr,
        state.smart.signers.get(&ehr.id),
        &endpoints.token,
        &state.config.redirect_uri(),
        &refresh_token,
    )
    .await;
    match refreshed {
        Ok((new, context)) => {
            if context.patient.as_deref().is_some_and(|p| p != row.patient_id) {
                tracing::error!(target: "safety", ehr = %ehr.id, session = %&row.id[..8], launched = %row.patient_id,
                    returned = ?context.patient, "a token refresh named another patient than the launch; the session is ended");
                store::end(&state.db, &row.id, now).await?;
                return Err(AccessError::WrongPatient);
            }
            let expires_at = new.expires_at(now);
            store::update_tokens(&state.db, &state.cipher, &row.id, &new, expires_at).await?;
            tracing::info!(ehr = %ehr.id, session = %&row.id[..8], "access token refreshed");
            Ok(new.access_token)
        }
        Err(e) => {
            // Another request (or instance) may have refreshed first and rotated the refresh token.
            if let Some(current) = store::get(&state.db, &row.id, now).await? {
                let fresh = current.tokens(&state.cipher)?;
                if fresh.access_token != tokens.access_token && current.token_expires_at - now > REFRESH_MARGIN_SECS {
                    return Ok(fresh.access_token);
                }
            }
            tracing::warn!(ehr = %ehr.id, session = %&row.id[..8], error = %e, "access token refresh failed");
            match e {
                token::TokenError::Refused { .. } => Err(AccessError::Ended("the EHR refused the refresh")),
                other => Err(AccessError::Refresh(other.to_string())),
            }
        }
    }
}

/// Reads `{Type}/{id}` from the session's EHR, refreshing the token before expiry and once after
/// a 401.
pub async fn read(
    state: &AppState,
    row: &SessionRow,
    resource_type: &'static str,
    id: &str,
) -> Result<Value, EhrCallError> {
    let ehr = registry::registration_by_id(&state.config, &row.ehr_id).ok_or(AccessError::Ended("EHR unregistered"))?;
    let expect = Expect::fhir_read(state.config.fhir_read_max_bytes);
    let http = &state.smart.http;
    let token = access_token(state, row).await?;
    let failed = |reason| EhrCallError::Read { resource: resource_type, reason };
    match read_resource(http, &ehr.issuer, resource_type, id, &token, expect).await {
        Err(FhirReadError::Unauthorized) => {
            tracing::info!(ehr = %ehr.id, session = %&row.id[..8], "the EHR refused the access token: refreshing once");
            let token = access_token_after_401(state, row, &token).await?;
            match read_resource(http, &ehr.issuer, resource_type, id, &token, expect).await {
                Err(FhirReadError::Unauthorized) => Err(AccessError::Ended("the EHR refused a fresh token").into()),
                other => other.map_err(failed),
            }
        }
        other => other.map_err(failed),
    }
}
