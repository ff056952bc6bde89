//! The SMART App Launch client (EHR launch), run on the server: the browser never sees a token.

pub mod access;
pub mod callback;
pub mod client_assertion;
pub mod discovery;
pub mod id_token;
pub mod launch;
pub mod launch_reads;
pub mod registry;
pub mod token;
pub mod token_response;

use crate::{
    config::{ClientAuthConfig, Config},
    state::AppState,
};
use axum::{routing::get, Router};
use std::{collections::HashMap, sync::Arc, time::Duration};

/// Outbound SMART machinery shared by all launches: one HTTP client and the per-issuer caches.
#[derive(Clone)]
pub struct SmartClient {
    pub http: reqwest::Client,
    pub discovery: Arc<discovery::DiscoveryCache>,
    pub jwks: Arc<id_token::JwksCache>,
    /// `private_key_jwt` signers by EHR id, loaded once at start.
    pub signers: Arc<HashMap<String, client_assertion::AssertionSigner>>,
}

impl SmartClient {
    pub fn new(config: &Config) -> Result<Self, client_assertion::AssertionError> {
        let mut signers = HashMap::new();
        for ehr in &config.ehrs {
            if let ClientAuthConfig::PrivateKeyJwt { key_file, alg, kid } = &ehr.client_auth {
                signers.insert(ehr.id.clone(), client_assertion::AssertionSigner::from_file(key_file, *alg, kid)?);
            }
        }
        Ok(SmartClient {
            http: crate::fhir::client::http_client(Duration::from_secs(config.outbound_timeout_secs)),
            discovery: Arc::new(discovery::DiscoveryCache::new(Duration::from_secs(3600))),
            jwks: Arc::new(id_token::JwksCache::new(Duration::from_secs(3600))),
            signers: Arc::new(signers),
        })
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/launch", get(launch::launch)).route("/callback", get(callback::callback))
}

/// `n` random bytes from the OS CSPRNG, base64url without padding.
pub fn random_token(n: usize) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
