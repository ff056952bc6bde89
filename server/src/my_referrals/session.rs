//! Practitioner sessions from a standalone launch: named by an unguessable id, bound to the
//! browser by a per-session cookie that must always be shown (a top-level tab, not a frame).

use crate::{
    session::binding,
    smart::{now_unix, random_token},
    state::AppState,
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
    sqlx::query(
        "INSERT INTO practitioner_sessions (id, binding_hash, ehr_id, practitioner_ref, display_name, created_at, expires_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(binding::hash_secret(&secret))
    .bind(ehr_id)
    .bind(practitioner_ref)
    .bind(display_name)
    .bind(now)
    .bind(now + ttl as i64)
    .execute(&state.db)
    .await?;
    sqlx::query("DELETE FROM practitioner_sessions WHERE expires_at < ?").bind(now).execute(&state.db).await?;
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
    let row: Option<(String, String, String, String)> = sqlx::query_as(
        "SELECT binding_hash, ehr_id, practitioner_ref, display_name FROM practitioner_sessions WHERE id = ? AND expires_at > ?",
    )
    .bind(id)
    .bind(now_unix())
    .fetch_optional(&state.db)
    .await?;
    let Some((hash, ehr_id, practitioner_ref, display_name)) = row else { return Ok(None) };
    let presented = binding::presented_secret(headers, id);
    let bound = matches!(
        binding::check(&hash, true, presented.as_deref()),
        binding::BindingCheck::Bound | binding::BindingCheck::FirstBound
    );
    Ok(bound.then_some(Practitioner { ehr_id, practitioner_ref, display_name }))
}
