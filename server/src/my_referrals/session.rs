//! Practitioner sessions from a standalone launch: named by an unguessable id, bound to the
//! browser by a per-session cookie that must always be shown (a top-level tab, not a frame).

use crate::{
    session::{authorise::idle_grace_secs, binding},
    smart::{now_unix, random_token},
    state::AppState,
    store::sessions,
};
use axum::http::HeaderMap;

/// Creates a session; returns its id and the `Set-Cookie` value.
pub async fn create(
    state: &AppState,
    ehr_id: &str,
    practitioner_ref: &str,
    display_name: &str,
) -> Result<(String, String), sqlx::Error> {
    let id = random_token(32);
    let secret = random_token(32);
    let now = now_unix();
    let ttl = state.config.session_ttl_secs;
    let binding_hash = binding::hash_secret(&secret);
    let new = sessions::NewPractitionerSession {
        id: &id,
        binding_hash: &binding_hash,
        ehr_id,
        practitioner_ref,
        display_name,
        now,
        expires_at: now + ttl as i64,
    };
    sessions::insert_practitioner(&state.db, &new).await?;
    sessions::purge_expired_practitioners(&state.db, now).await?;
    let cookie = binding::set_cookie_value(&id, &secret, ttl);
    Ok((id, cookie))
}

/// The signed-in practitioner of session `id`, if this browser holds its cookie.
#[derive(Debug, Clone)]
pub struct Practitioner {
    pub ehr_id: String,
    pub practitioner_ref: String,
    pub display_name: String,
}

pub async fn authorised(state: &AppState, id: &str, headers: &HeaderMap) -> Result<Option<Practitioner>, sqlx::Error> {
    if !crate::session::authorise::well_formed(id) {
        return Ok(None);
    }
    let now = now_unix();
    // Like a launch, a sign-in that shows referrals across patients ends when left idle.
    let timeout = state.config.referral.inactivity_timeout_secs;
    let idle_since = now - timeout as i64 - idle_grace_secs(timeout);
    let row = sessions::practitioner(&state.db, id, now, idle_since).await?;
    let Some((hash, ehr_id, practitioner_ref, display_name)) = row else { return Ok(None) };
    let presented = binding::presented_secret(headers, id);
    // Always a top-level tab of its own: the cookie is required (no fingerprint fallback).
    let bound = matches!(binding::check(&hash, true, presented.as_deref(), "", ""), binding::BindingCheck::Bound);
    if !bound {
        return Ok(None);
    }
    sessions::touch_practitioner(&state.db, id, now).await?;
    Ok(Some(Practitioner { ehr_id, practitioner_ref, display_name }))
}
