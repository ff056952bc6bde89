//! Whether this browser may use a launch: the one check every page, server function and form
//! post goes through. It also enforces the launch's inactivity limit on the server, so a launch
//! that shows PHI ends when its clinician walks away, whether or not scripts run in the page.

use super::binding;
use crate::{
    http::client_addr,
    smart::now_unix,
    state::AppState,
    store::drafts::{self, DraftStatus},
    store::sessions as store,
};
use app::error::AppError;
use axum::http::HeaderMap;

/// Grace beyond `referral.inactivity_timeout_secs` for the page's own timeout post (it saves, then
/// posts the timeout form, at exactly that idle time): a quarter of the timeout, at most a minute.
pub fn idle_grace_secs(timeout_secs: u64) -> i64 {
    (timeout_secs as i64 / 4 + 1).min(60)
}

/// How stale `last_seen_at` may get before a request writes it again: an eighth of the timeout,
/// at most 10 s (so the idle limit stays exact to within that).
pub fn touch_every_secs(timeout_secs: u64) -> i64 {
    (timeout_secs as i64 / 8).min(10)
}

/// Launch ids are 43 base64url characters (256 bits); anything else is refused unread.
pub fn well_formed(id: &str) -> bool {
    id.len() == 43 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether a request counts as the clinician doing something (a page, a post, autosave) or is the
/// page polling on its own (the delivery line), which must not keep an idle launch alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Active,
    Passive,
}

/// Whether a launch last active at `last_seen_at` has been idle too long at `now`.
pub fn idle_too_long(last_seen_at: i64, now: i64, timeout_secs: u64) -> bool {
    now - last_seen_at > timeout_secs as i64 + idle_grace_secs(timeout_secs)
}

/// The live session `id` if this browser may use it (see [`binding::check`]); a clinician action.
pub async fn authorised_session(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
) -> Result<store::SessionRow, AppError> {
    authorised_session_as(state, id, headers, Activity::Active).await
}

pub async fn authorised_session_as(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    activity: Activity,
) -> Result<store::SessionRow, AppError> {
    if !well_formed(id) {
        return Err(AppError::LaunchUnavailable);
    }
    let now = now_unix();
    let failed = |what: &'static str| {
        move |e: store::SessionError| {
            tracing::error!(error = %e, "{what}");
            AppError::Internal
        }
    };
    let row = store::get(&state.db, id, now)
        .await
        .map_err(failed("session lookup failed"))?
        .ok_or(AppError::LaunchUnavailable)?;
    let presented = binding::presented_secret(headers, id);
    let fingerprint = binding::fingerprint(client_addr::of(headers), headers);
    match binding::check(&row.binding_hash, row.cookie_bound, presented.as_deref(), &row.fingerprint, &fingerprint) {
        binding::BindingCheck::Bound | binding::BindingCheck::Cookieless => {}
        binding::BindingCheck::FirstBound => {
            store::mark_cookie_bound(&state.db, id).await.map_err(failed("marking session cookie-bound failed"))?;
        }
        binding::BindingCheck::Refused => {
            tracing::warn!(session = %&id[..8], "session refused: browser binding cookie or fingerprint does not match");
            return Err(AppError::LaunchUnavailable);
        }
    }
    let timeout = state.config.referral.inactivity_timeout_secs;
    if idle_too_long(row.last_seen_at.max(row.created_at), now, timeout) {
        end_idle(state, &row, now).await;
        return Err(AppError::Idle { minutes: timeout.div_ceil(60) });
    }
    // Activity is recorded at most every few seconds: a write (and SQLite's write lock) per
    // request would slow every page for a limit counted in minutes.
    if activity == Activity::Active && now - row.last_seen_at >= touch_every_secs(timeout) {
        store::touch(&state.db, id, now).await.map_err(failed("recording session activity failed"))?;
    }
    Ok(row)
}

/// Ends an idle launch as its page would have: the draft is kept as timed out (a later launch may
/// resume it) and the session can no longer be used.
async fn end_idle(state: &AppState, row: &store::SessionRow, now: i64) {
    match drafts::for_session(&state.db, &row.id).await {
        Ok(Some(d)) if d.status == DraftStatus::Editing => {
            if let Err(e) = drafts::finish_editing(&state.db, &d.id, DraftStatus::TimedOut, now).await {
                tracing::error!(error = %e, "timing out an idle draft failed");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "draft lookup for an idle launch failed"),
    }
    if let Err(e) = store::end(&state.db, &row.id, now).await {
        tracing::error!(error = %e, "ending an idle launch failed");
    }
    tracing::info!(session = %&row.id[..8], "launch ended after inactivity");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_limit_has_a_grace_for_the_pages_own_timeout_post() {
        assert_eq!(idle_grace_secs(1020), 60);
        assert_eq!(idle_grace_secs(4), 2);
        assert!(!idle_too_long(1000, 1000 + 1020, 1020));
        assert!(!idle_too_long(1000, 1000 + 1080, 1020));
        assert!(idle_too_long(1000, 1000 + 1081, 1020));
        assert_eq!((touch_every_secs(1020), touch_every_secs(2)), (10, 0));
    }
}
