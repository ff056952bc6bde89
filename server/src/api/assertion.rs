//! Verifying a client's `private_key_jwt` assertion (RFC 7523, SMART Backend Services): RS384 or
//! ES384 only, signed by a key of the client's registered JWKS, `iss` = `sub` = the client,
//! `aud` = our token URL, `exp` at most five minutes ahead, a `jti`. Pure, except for the clock
//! passed in; replay is checked by the caller (it needs the database).

use super::{clients::ApiClients, error::ApiError};
use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

/// Longest accepted assertion lifetime (SMART).
pub const MAX_LIFETIME_SECS: i64 = 300;
const SKEW_SECS: i64 = 60;

/// What a valid assertion establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub client_id: String,
    pub jti: String,
    pub exp: i64,
}

pub fn verify(clients: &ApiClients, assertion: &str, token_url: &str, now: i64) -> Result<Verified, ApiError> {
    let bad = |why: &str| ApiError::InvalidClient(format!("client assertion rejected: {why}"));
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| bad("malformed JWT"))?;
    if !matches!(header.alg, Algorithm::RS384 | Algorithm::ES384) {
        return Err(bad("alg must be RS384 or ES384"));
    }
    let unverified: Value =
        jsonwebtoken::dangerous::insecure_decode_claims(assertion).map_err(|_| bad("malformed JWT"))?;
    let iss = unverified.get("iss").and_then(Value::as_str).ok_or_else(|| bad("iss is missing"))?;
    let client = clients.get(iss).ok_or_else(|| bad("unknown client"))?;
    let candidates: Vec<_> = client
        .keys
        .iter()
        .filter(|(kid, _)| header.kid.is_none() || kid.as_deref() == header.kid.as_deref())
        .map(|(_, key)| key)
        .collect();
    if candidates.is_empty() {
        return Err(bad("no registered key has this kid"));
    }
    let mut validation = Validation::new(header.alg);
    validation.leeway = SKEW_SECS as u64;
    validation.set_audience(&[token_url]);
    validation.set_issuer(&[iss]);
    validation.sub = Some(iss.to_string());
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let claims: Value = candidates
        .iter()
        .find_map(|key| jsonwebtoken::decode::<Value>(assertion, key, &validation).ok())
        .map(|data| data.claims)
        .ok_or_else(|| bad("signature, iss, sub, aud or exp is invalid"))?;
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or_else(|| bad("exp must be a number"))?;
    if exp > now + MAX_LIFETIME_SECS + SKEW_SECS {
        return Err(bad("exp is more than 5 minutes ahead"));
    }
    let jti =
        claims.get("jti").and_then(Value::as_str).filter(|j| !j.is_empty()).ok_or_else(|| bad("jti is missing"))?;
    Ok(Verified { client_id: iss.to_string(), jti: jti.to_string(), exp })
}
