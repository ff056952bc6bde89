//! Whether this browser may use a launch: the one check every page, server function and form
//! post goes through.

use super::{binding, store};
use crate::{smart::now_unix, state::AppState};
use app::error::AppError;
use axum::http::HeaderMap;

/// Launch ids are 43 base64url characters (256 bits); anything else is refused unread.
pub fn well_formed(id: &str) -> bool {
    id.len() == 43 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The live session `id` if this browser may use it (see [`binding::check`]).
pub async fn authorised_session(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
) -> Result<store::SessionRow, AppError> {
    if !well_formed(id) {
        return Err(AppError::LaunchUnavailable);
    }
    let row = store::get(&state.db, id, now_unix())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "session lookup failed");
            AppError::Internal
        })?
        .ok_or(AppError::LaunchUnavailable)?;
    let presented = binding::presented_secret(headers, id);
    match binding::check(&row.binding_hash, row.cookie_bound, presented.as_deref()) {
        binding::BindingCheck::Bound | binding::BindingCheck::Cookieless => Ok(row),
        binding::BindingCheck::FirstBound => {
            store::mark_cookie_bound(&state.db, id).await.map_err(|e| {
                tracing::error!(error = %e, "marking session cookie-bound failed");
                AppError::Internal
            })?;
            Ok(row)
        }
        binding::BindingCheck::Refused => {
            tracing::warn!(session = %&id[..8], "session refused: browser binding cookie missing or wrong");
            Err(AppError::LaunchUnavailable)
        }
    }
}
