//! id_token verification with `openidconnect`: signature against the issuer's JWKS (cached,
//! refetched once on an unknown key), algorithm allow-list (no `none`, no HMAC), `iss`, `aud`,
//! `exp` and `nonce`. A token naming a key we have not seen makes us fetch the issuer's keys
//! again (rate limited), so a key rotation does not break launches.

use crate::fhir::client::{get_json, Expect};
use openidconnect::{
    core::{
        CoreGenderClaim, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    },
    AdditionalClaims, ClientId, IdToken, IssuerUrl, Nonce,
};
use serde::{Deserialize, Serialize};
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};
use url::Url;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SmartClaims {
    #[serde(rename = "fhirUser", default, skip_serializing_if = "Option::is_none")]
    pub fhir_user: Option<String>,
}
impl AdditionalClaims for SmartClaims {}

type SmartIdToken = IdToken<SmartClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

pub const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 4] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
];

#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedIdentity {
    pub subject: String,
    pub fhir_user: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    #[error("not a JWT: {0}")]
    Malformed(String),
    #[error("claims rejected: {0}")]
    Claims(String),
    #[error("JWKS unavailable: {0}")]
    Jwks(String),
    #[error("signed by a key the issuer does not publish (kid {0:?}), even after fetching its keys again")]
    UnknownKey(String),
}

/// The `kid` in a compact JWT's header, if it has one. Reads only the header (base64url JSON);
/// the signature is checked by `openidconnect` afterwards.
pub fn header_kid(raw: &str) -> Option<String> {
    use base64::Engine;
    let header = raw.split('.').next().filter(|h| h.len() <= 4096)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header.trim_end_matches('=')).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("kid")?.as_str().filter(|k| !k.is_empty() && k.len() <= 256).map(str::to_string)
}

fn has_kid(set: &CoreJsonWebKeySet, kid: &str) -> bool {
    use openidconnect::JsonWebKey;
    set.keys().iter().any(|k| k.key_id().is_some_and(|id| id.as_str() == kid))
}

struct CachedSet {
    fetched: Instant,
    set: CoreJsonWebKeySet,
    /// When a token with an unknown `kid` last made us fetch before the set was due.
    forced: Option<Instant>,
}

/// JWK Sets by URL: kept `ttl`, fetched again early when a token names a key the cached set lacks
/// (the issuer rotated its keys), at most once per `min_refetch` per URL.
pub struct JwksCache {
    ttl: Duration,
    min_refetch: Duration,
    entries: Mutex<HashMap<String, CachedSet>>,
    /// One fetch at a time: concurrent launches after a rotation share the one refetch.
    fetching: tokio::sync::Mutex<()>,
}

impl JwksCache {
    pub fn new(ttl: Duration) -> Self {
        Self::with_refetch_interval(ttl, Duration::from_secs(60))
    }

    pub fn with_refetch_interval(ttl: Duration, min_refetch: Duration) -> Self {
        JwksCache { ttl, min_refetch, entries: Mutex::new(HashMap::new()), fetching: tokio::sync::Mutex::new(()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedSet>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A usable cached set: not expired, and holding `kid` when one is named.
    fn cached(&self, url: &Url, kid: Option<&str>) -> Option<CoreJsonWebKeySet> {
        let map = self.lock();
        let entry = map.get(url.as_str())?;
        (entry.fetched.elapsed() < self.ttl && kid.is_none_or(|k| has_kid(&entry.set, k))).then(|| entry.set.clone())
    }

    /// The key set to verify a token naming `kid` with.
    async fn key_set(
        &self,
        http: &reqwest::Client,
        url: &Url,
        kid: Option<&str>,
    ) -> Result<CoreJsonWebKeySet, IdTokenError> {
        if let Some(set) = self.cached(url, kid) {
            return Ok(set);
        }
        let _one_at_a_time = self.fetching.lock().await;
        // Another launch may have fetched while we waited.
        if let Some(set) = self.cached(url, kid) {
            return Ok(set);
        }
        let (stale, forced_recently) = {
            let map = self.lock();
            match map.get(url.as_str()) {
                Some(e) if e.fetched.elapsed() < self.ttl => {
                    (Some(e.set.clone()), e.forced.is_some_and(|f| f.elapsed() < self.min_refetch))
                }
                _ => (None, false),
            }
        };
        if let (Some(set), true) = (&stale, forced_recently) {
            // The kid is unknown, and we looked again a moment ago: do not let tokens make us
            // hammer the issuer.
            return Ok(set.clone());
        }
        let forced = stale.is_some().then(Instant::now);
        if forced.is_some() {
            tracing::info!(jwks = %url, "id_token names a key we do not have: fetching the issuer's keys again");
        }
        let doc = get_json(http, url, "application/json", Expect::JWKS)
            .await
            .map_err(|e| IdTokenError::Jwks(e.to_string()))?;
        let set: CoreJsonWebKeySet = serde_json::from_value(doc).map_err(|e| IdTokenError::Jwks(e.to_string()))?;
        self.lock().insert(url.as_str().to_string(), CachedSet { fetched: Instant::now(), set: set.clone(), forced });
        Ok(set)
    }
}

/// Verifies `raw` as an id_token issued by `issuer` for `client_id` with `nonce`.
pub async fn verify(
    http: &reqwest::Client,
    cache: &JwksCache,
    jwks_uri: &Url,
    issuer: &str,
    client_id: &str,
    nonce: &str,
    raw: &str,
) -> Result<VerifiedIdentity, IdTokenError> {
    let token: SmartIdToken = raw.parse().map_err(|e: serde_json::Error| IdTokenError::Malformed(e.to_string()))?;
    let issuer = IssuerUrl::new(issuer.to_string()).map_err(|e| IdTokenError::Claims(e.to_string()))?;
    let kid = header_kid(raw);
    let jwks = cache.key_set(http, jwks_uri, kid.as_deref()).await?;
    if let Some(kid) = &kid {
        if !has_kid(&jwks, kid) {
            return Err(IdTokenError::UnknownKey(kid.chars().take(64).collect()));
        }
    }
    let verifier = CoreIdTokenVerifier::new_public_client(ClientId::new(client_id.to_string()), issuer, jwks)
        .set_allowed_algs(ALLOWED_ALGS);
    let claims =
        token.claims(&verifier, &Nonce::new(nonce.to_string())).map_err(|e| IdTokenError::Claims(e.to_string()))?;
    Ok(VerifiedIdentity {
        subject: claims.subject().as_str().to_string(),
        fhir_user: claims.additional_claims().fhir_user.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kid_is_read_from_the_header_only() {
        use base64::Engine;
        let enc = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let jwt = format!("{}.{}.sig", enc(r#"{"alg":"RS256","kid":"k-2026"}"#), enc(r#"{"kid":"not-this"}"#));
        assert_eq!(header_kid(&jwt).as_deref(), Some("k-2026"));
        assert_eq!(header_kid(&format!("{}.x.y", enc(r#"{"alg":"RS256"}"#))), None);
        assert_eq!(header_kid(&format!("{}.x.y", enc(r#"{"kid":7}"#))), None);
        for junk in ["", ".", "é.é.é", "!!!!", &"A".repeat(10_000)] {
            assert_eq!(header_kid(junk), None, "{junk:.20}");
        }
    }
}
