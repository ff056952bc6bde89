//! How we authenticate to an EHR's `$process-message`, per its registration: a static bearer
//! (development), or SMART Backend Services (`client_credentials` with the registration's
//! `private_key_jwt`), with the access token cached until shortly before it expires.

use crate::{
    config::{ClientAuthConfig, EhrRegistration, ProcessMessageAuth},
    smart::{now_unix, SmartClient},
};
use std::{collections::HashMap, sync::Mutex};

#[derive(Debug, thiserror::Error)]
pub enum EhrAuthError {
    #[error("environment variable {0} (the EHR's bearer token) is not set")]
    MissingEnv(String),
    #[error("no static bearer token is configured")]
    NoToken,
    #[error("backend services need this EHR's client_auth to be private_key_jwt")]
    NeedsPrivateKeyJwt,
    #[error("SMART discovery failed: {0}")]
    Discovery(String),
    #[error("the EHR's token endpoint refused or failed: {0}")]
    Token(String),
}

/// Access tokens per EHR id: `(token, unix expiry)`.
#[derive(Debug, Default)]
pub struct TokenCache(Mutex<HashMap<String, (String, i64)>>);

impl TokenCache {
    fn get(&self, ehr: &str, now: i64) -> Option<String> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(ehr).filter(|(_, exp)| *exp > now + 30).map(|(t, _)| t.clone())
    }

    fn put(&self, ehr: &str, token: String, expires_at: i64) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(ehr.to_string(), (token, expires_at));
    }

    /// Drops the cached token (after the EHR answered 401 to it).
    pub fn forget(&self, ehr: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(ehr);
    }
}

/// The bearer token to send to `ehr`'s `$process-message`.
pub async fn bearer(smart: &SmartClient, cache: &TokenCache, ehr: &EhrRegistration) -> Result<String, EhrAuthError> {
    match &ehr.process_message.auth {
        ProcessMessageAuth::StaticBearer { token, token_env } => match (token, token_env) {
            (_, Some(name)) => std::env::var(name).map_err(|_| EhrAuthError::MissingEnv(name.clone())),
            (Some(t), None) => Ok(t.clone()),
            (None, None) => Err(EhrAuthError::NoToken),
        },
        ProcessMessageAuth::BackendServices { scopes } => {
            let now = now_unix();
            if let Some(t) = cache.get(&ehr.id, now) {
                return Ok(t);
            }
            if !matches!(ehr.client_auth, ClientAuthConfig::PrivateKeyJwt { .. }) {
                return Err(EhrAuthError::NeedsPrivateKeyJwt);
            }
            let discovered =
                smart.discovery.get(&smart.http, ehr).await.map_err(|e| EhrAuthError::Discovery(e.to_string()))?;
            let tokens = crate::smart::token::client_credentials(
                &smart.http,
                ehr,
                smart.signers.get(&ehr.id),
                &discovered.token,
                scopes,
            )
            .await
            .map_err(|e| EhrAuthError::Token(e.to_string()))?;
            let expires_at = now + tokens.expires_in.unwrap_or(300).min(3600) as i64;
            cache.put(&ehr.id, tokens.access_token.clone(), expires_at);
            Ok(tokens.access_token)
        }
    }
}
