//! `private_key_jwt` client authentication (RFC 7523, SMART asymmetric client auth).

use crate::config::JwtAlg;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use std::path::Path;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Clone)]
pub struct AssertionSigner {
    key: EncodingKey,
    alg: Algorithm,
    kid: String,
}

impl std::fmt::Debug for AssertionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionSigner").field("alg", &self.alg).field("kid", &self.kid).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AssertionError {
    #[error("cannot read key file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("key file {path} is not a {alg:?} private key in PEM: {source}")]
    Key { path: String, alg: JwtAlg, source: jsonwebtoken::errors::Error },
    #[error("key file {0} is one of the sandbox EHR's public development keys")]
    SandboxKey(String),
    #[error("cannot sign the client assertion: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    jti: String,
}

impl AssertionSigner {
    pub fn from_pem(pem: &[u8], alg: JwtAlg, kid: &str, path_for_errors: &str) -> Result<Self, AssertionError> {
        let key = match alg {
            JwtAlg::RS384 => EncodingKey::from_rsa_pem(pem),
            JwtAlg::ES384 => EncodingKey::from_ec_pem(pem),
        }
        .map_err(|source| AssertionError::Key { path: path_for_errors.to_string(), alg, source })?;
        let alg = match alg {
            JwtAlg::RS384 => Algorithm::RS384,
            JwtAlg::ES384 => Algorithm::ES384,
        };
        Ok(AssertionSigner { key, alg, kid: kid.to_string() })
    }

    pub fn from_file(path: &Path, alg: JwtAlg, kid: &str) -> Result<Self, AssertionError> {
        let shown = path.display().to_string();
        let pem = std::fs::read(path).map_err(|source| AssertionError::Read { path: shown.clone(), source })?;
        if crate::sandbox_credentials::is_sandbox_private_key(&pem) {
            return Err(AssertionError::SandboxKey(shown));
        }
        Self::from_pem(&pem, alg, kid, &shown)
    }

    /// A fresh assertion for `token_url`: `iss = sub = client_id`, `exp` 4 minutes ahead, unique `jti`.
    pub fn sign(&self, client_id: &str, token_url: &str, now: i64) -> Result<String, AssertionError> {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".into());
        let claims = Claims {
            iss: client_id,
            sub: client_id,
            aud: token_url,
            exp: now + 240,
            iat: now,
            jti: super::random_token(24),
        };
        Ok(jsonwebtoken::encode(&header, &claims, &self.key)?)
    }
}
