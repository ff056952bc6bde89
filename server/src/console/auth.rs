//! Console sign-in sessions: a random cookie (only its SHA-256 is stored), `SameSite=Strict`,
//! with a per-session CSRF token every form must echo.

use crate::{smart::now_unix, state::AppState, store::staff};
use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts, HeaderMap},
};
use sha2::{Digest, Sha256};

pub const COOKIE: &str = "__Host-erx-staff";
pub const SESSION_SECS: i64 = 8 * 3600;

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts a session for `username`; returns the `Set-Cookie` value.
pub async fn sign_in(state: &AppState, username: &str) -> Result<String, sqlx::Error> {
    let token = crate::smart::random_token(32);
    let now = now_unix();
    staff::insert_session(&state.db, &hash(&token), username, &crate::smart::random_token(24), now, now + SESSION_SECS)
        .await?;
    staff::purge_expired_sessions(&state.db, now).await?;
    Ok(format!("{COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECS}"))
}

pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == COOKIE && !v.is_empty()).then(|| v.to_string())
    })
}

/// A signed-in staff member.
#[derive(Debug, Clone)]
pub struct Staff {
    pub username: String,
    pub display_name: String,
    pub csrf: String,
    token_hash: String,
}

impl Staff {
    /// Whether a posted form carries this session's CSRF token.
    pub fn csrf_ok(&self, posted: Option<&str>) -> bool {
        posted.is_some_and(|p| {
            p.len() == self.csrf.len() && p.bytes().zip(self.csrf.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0
        })
    }

    pub async fn sign_out(&self, state: &AppState) -> Result<(), sqlx::Error> {
        staff::delete_session(&state.db, &self.token_hash).await?;
        Ok(())
    }
}

/// Not signed in: the console sends the browser to its sign-in page.
#[derive(Debug)]
pub struct NotSignedIn;

impl axum::response::IntoResponse for NotSignedIn {
    fn into_response(self) -> axum::response::Response {
        axum::response::Redirect::to("/console/login").into_response()
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = NotSignedIn;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = cookie(&parts.headers).ok_or(NotSignedIn)?;
        let token_hash = hash(&token);
        let now = now_unix();
        let failed = |e: sqlx::Error| {
            tracing::error!(error = %e, "staff session lookup failed");
            NotSignedIn
        };
        // A sign-in ends after its 8 hours, or after `console_idle_timeout_secs` without a request.
        let idle_since = now - state.config.console_idle_timeout_secs as i64;
        let row = staff::session(&state.db, &token_hash, now, idle_since).await.map_err(failed)?;
        let Some((username, display_name, csrf)) = row else {
            staff::delete_session(&state.db, &token_hash).await.map_err(failed)?;
            return Err(NotSignedIn);
        };
        staff::touch_session(&state.db, &token_hash, now).await.map_err(failed)?;
        Ok(Staff { username, display_name, csrf, token_hash })
    }
}
