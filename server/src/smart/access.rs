//! A usable access token for a launch session: refreshed (with the registration's client auth)
//! when it is about to expire.

use super::{now_unix, registry, token};
use crate::{
    session::store::{self, SessionRow},
    state::AppState,
};

/// Refresh when the access token has less than this left.
pub const REFRESH_MARGIN_SECS: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("the launch's access has expired and cannot be renewed")]
    Expired,
    #[error("refreshing the access token failed: {0}")]
    Refresh(String),
    #[error("session store: {0}")]
    Store(#[from] store::SessionError),
}

/// The access token to call the EHR with for `row`, refreshing it first when needed.
pub async fn access_token(state: &AppState, row: &SessionRow) -> Result<String, AccessError> {
    let now = now_unix();
    let tokens = row.tokens(&state.cipher)?;
    if row.token_expires_at - now > REFRESH_MARGIN_SECS {
        return Ok(tokens.access_token);
    }
    let refresh_token = tokens.refresh_token.clone().ok_or(AccessError::Expired)?;
    let ehr = registry::registration_by_id(&state.config, &row.ehr_id).ok_or(AccessError::Expired)?;
    let smart = state
        .smart
        .discovery
        .get(&state.smart.http, &ehr.issuer)
        .await
        .map_err(|e| AccessError::Refresh(e.to_string()))?;
    let refreshed = token::refresh(
        &state.smart.http,
        ehr,
        state.smart.signers.get(&ehr.id),
        &smart.token_endpoint,
        &state.config.redirect_uri(),
        &refresh_token,
    )
    .await;
    match refreshed {
        Ok(new) => {
            let expires_at = new.expires_at(now);
            store::update_tokens(&state.db, &state.cipher, &row.id, &new, expires_at).await?;
            tracing::info!(ehr = %ehr.id, session = %&row.id[..8], "access token refreshed");
            Ok(new.access_token)
        }
        Err(e) => {
            // Another request (or instance) may have refreshed first and rotated the refresh token.
            if let Some(current) = store::get(&state.db, &row.id, now).await? {
                if current.token_expires_at - now > REFRESH_MARGIN_SECS {
                    return Ok(current.tokens(&state.cipher)?.access_token);
                }
            }
            tracing::warn!(ehr = %ehr.id, session = %&row.id[..8], error = %e, "access token refresh failed");
            Err(AccessError::Refresh(e.to_string()))
        }
    }
}
