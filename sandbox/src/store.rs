//! In-memory state: launches, codes, tokens, seen assertion ids, received messages, faults.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

use crate::faults::Faults;
use crate::launch::{Launch, LaunchMode};
use crate::messages::ReceivedMessage;

/// The launch context a grant carries (EHR launch or standalone defaults).
#[derive(Debug, Clone)]
pub struct GrantContext {
    pub launch_id: Option<String>,
    /// Relative reference of the signed-in user: `Practitioner/x` or `PractitionerRole/y`.
    pub user: String,
    pub patient: Option<String>,
    pub encounter: Option<String>,
    pub draft_service_request: Option<String>,
    pub need_patient_banner: bool,
    pub fhir_user_absolute: bool,
    pub intent: Option<String>,
    pub messaging_handle: Option<String>,
    pub mode: Option<LaunchMode>,
    /// Per-launch faults (merged over the global ones when used).
    pub faults: Faults,
}

#[derive(Debug, Clone)]
pub struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub context: GrantContext,
    pub expires_at: i64,
    pub used: bool,
}

#[derive(Debug, Clone)]
pub struct AccessToken {
    pub client_id: String,
    pub scope: String,
    /// `None` for client_credentials (backend services).
    pub context: Option<GrantContext>,
    pub expires_at: i64,
    /// The authorization code this token descends from (for revocation on code reuse).
    pub from_code: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub client_id: String,
    pub scope: String,
    pub context: GrantContext,
    pub nonce: Option<String>,
    pub from_code: Option<String>,
}

#[derive(Debug, Default)]
pub struct Store {
    pub faults: Faults,
    pub launches: HashMap<String, Launch>,
    pub codes: HashMap<String, AuthCode>,
    pub access_tokens: HashMap<String, AccessToken>,
    pub refresh_tokens: HashMap<String, RefreshToken>,
    /// `client_id + jti` of every client assertion seen, with its `exp`.
    pub seen_jtis: HashMap<String, i64>,
    pub messages: Vec<ReceivedMessage>,
    /// Signing with the next key (and publishing only it) since [`crate::SandboxHandle::rotate_signing_key`].
    pub rotated: bool,
    /// How often `/auth/jwks` was fetched.
    pub jwks_fetches: u32,
    /// How many refresh_token grants were answered with tokens.
    pub refreshes: u32,
}

impl Store {
    /// Revoke every token issued from authorization `code` (RFC 6749 §4.1.2).
    pub fn revoke_from_code(&mut self, code: &str) {
        self.access_tokens.retain(|_, t| t.from_code.as_deref() != Some(code));
        self.refresh_tokens.retain(|_, t| t.from_code.as_deref() != Some(code));
    }

    /// Drop what has expired (called opportunistically).
    pub fn prune(&mut self, now: i64) {
        self.access_tokens.retain(|_, t| t.expires_at > now);
        self.seen_jtis.retain(|_, exp| *exp + 600 > now);
        // Used codes are kept a while so that a replay can still be detected and revoked.
        self.codes.retain(|_, c| c.expires_at + 3600 > now);
        self.launches.retain(|_, l| l.expires_at + 86_400 > now);
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// `bytes` random bytes from the thread-local CSPRNG, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}
