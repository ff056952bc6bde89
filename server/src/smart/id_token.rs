//! id_token verification with `openidconnect`: signature against the issuer's JWKS (cached,
//! refetched once on an unknown key), algorithm allow-list (no `none`, no HMAC), `iss`, `aud`,
//! `exp` and `nonce`.

use crate::fhir::client::get_json;
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
}

pub struct JwksCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, CoreJsonWebKeySet)>>,
}

impl JwksCache {
    pub fn new(ttl: Duration) -> Self {
        JwksCache { ttl, entries: Mutex::new(HashMap::new()) }
    }

    async fn get(&self, http: &reqwest::Client, url: &Url, fresh: bool) -> Result<CoreJsonWebKeySet, IdTokenError> {
        if !fresh {
            if let Some((at, set)) = self.entries.lock().expect("jwks lock").get(url.as_str()) {
                if at.elapsed() < self.ttl {
                    return Ok(set.clone());
                }
            }
        }
        let doc = get_json(http, url, "application/json").await.map_err(|e| IdTokenError::Jwks(e.to_string()))?;
        let set: CoreJsonWebKeySet = serde_json::from_value(doc).map_err(|e| IdTokenError::Jwks(e.to_string()))?;
        self.entries.lock().expect("jwks lock").insert(url.as_str().to_string(), (Instant::now(), set.clone()));
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
    let check = |jwks: CoreJsonWebKeySet| -> Result<VerifiedIdentity, String> {
        let verifier =
            CoreIdTokenVerifier::new_public_client(ClientId::new(client_id.to_string()), issuer.clone(), jwks)
                .set_allowed_algs(ALLOWED_ALGS);
        let claims = token.claims(&verifier, &Nonce::new(nonce.to_string())).map_err(|e| e.to_string())?;
        Ok(VerifiedIdentity {
            subject: claims.subject().as_str().to_string(),
            fhir_user: claims.additional_claims().fhir_user.clone(),
        })
    };
    match check(cache.get(http, jwks_uri, false).await?) {
        Ok(identity) => Ok(identity),
        // The issuer may have rotated its keys since we cached them: one fresh look, no more.
        Err(first) if first.contains("key") || first.contains("signature") => {
            check(cache.get(http, jwks_uri, true).await?).map_err(IdTokenError::Claims)
        }
        Err(e) => Err(IdTokenError::Claims(e)),
    }
}
