//! The registered sources that may call our FHIR API, with their keys, loaded at start.

use crate::config::Config;
use jsonwebtoken::{jwk::JwkSet, DecodingKey};
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum ClientsError {
    #[error("EHR {ehr:?}: cannot read the API client's JWKS file {path}: {source}")]
    Read { ehr: String, path: String, source: std::io::Error },
    #[error("EHR {ehr:?}: the API client's JWKS is not a JWK Set: {reason}")]
    Jwks { ehr: String, reason: String },
    #[error("EHR {0:?}: the API client's JWKS holds a key of the sandbox EHR (public, development only)")]
    SandboxKey(String),
}

/// One API client: the EHR it speaks for, its keys by `kid`, and what it may be granted.
pub struct ApiClient {
    pub ehr_id: String,
    pub keys: Vec<(Option<String>, DecodingKey)>,
    pub allowed_scopes: String,
}

#[derive(Default)]
pub struct ApiClients(HashMap<String, ApiClient>);

impl ApiClients {
    pub fn load(config: &Config) -> Result<Self, ClientsError> {
        let mut map = HashMap::new();
        for ehr in &config.ehrs {
            let Some(api) = &ehr.api_client else { continue };
            let jwks = match (&api.jwks, &api.jwks_file) {
                (Some(inline), _) => inline.clone(),
                (None, Some(path)) => {
                    let text = std::fs::read_to_string(path).map_err(|source| ClientsError::Read {
                        ehr: ehr.id.clone(),
                        path: path.display().to_string(),
                        source,
                    })?;
                    serde_json::from_str(&text)
                        .map_err(|e| ClientsError::Jwks { ehr: ehr.id.clone(), reason: e.to_string() })?
                }
                (None, None) => continue, // refused by config validation
            };
            if !ehr.builtin_sandbox && crate::sandbox_credentials::jwks_has_sandbox_key(&jwks) {
                return Err(ClientsError::SandboxKey(ehr.id.clone()));
            }
            let set: JwkSet = serde_json::from_value(jwks)
                .map_err(|e| ClientsError::Jwks { ehr: ehr.id.clone(), reason: e.to_string() })?;
            let keys = set
                .keys
                .iter()
                .map(|jwk| {
                    DecodingKey::from_jwk(jwk)
                        .map(|k| (jwk.common.key_id.clone(), k))
                        .map_err(|e| ClientsError::Jwks { ehr: ehr.id.clone(), reason: e.to_string() })
                })
                .collect::<Result<Vec<_>, _>>()?;
            map.insert(
                api.client_id.clone(),
                ApiClient { ehr_id: ehr.id.clone(), keys, allowed_scopes: api.scopes.clone() },
            );
        }
        Ok(ApiClients(map))
    }

    pub fn get(&self, client_id: &str) -> Option<&ApiClient> {
        self.0.get(client_id)
    }
}
