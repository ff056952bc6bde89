//! The sandbox's fixed id_token signing key (development only, committed on purpose) and
//! a second, unpublished key used to forge a bad signature on demand.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::Value;

use crate::error::SandboxError;

const SIGNING_PEM: &str = include_str!("../keys/signing-rs256.pem");
const SIGNING_JWKS: &str = include_str!("../keys/signing-rs256.jwks.json");
const UNTRUSTED_PEM: &str = include_str!("../keys/untrusted-rs256.pem");
const NEXT_PEM: &str = include_str!("../keys/signing-rs256-next.pem");
const NEXT_JWKS: &str = include_str!("../keys/signing-rs256-next.jwks.json");
/// The `kid` of [`Signing::UnknownKid`] tokens: in no JWKS.
pub const UNPUBLISHED_KID: &str = "sandbox-ehr-unpublished";

/// Signing material.
pub struct Keys {
    signing: EncodingKey,
    untrusted: EncodingKey,
    next: EncodingKey,
    kid: String,
    next_kid: String,
    jwks: Value,
    next_jwks: Value,
}

/// How to sign one JWT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// RS256 with the published key.
    Published,
    /// RS256 with the unpublished key, but the published `kid`.
    Untrusted,
    /// `alg: none`, empty signature.
    Unsigned,
    /// RS256 with the key the sandbox rotates to (published once rotated).
    Next,
    /// RS256 with the unpublished key under a `kid` no JWKS has.
    UnknownKid,
}

impl Keys {
    pub fn builtin() -> Result<Self, SandboxError> {
        let kid_of = |jwks: &Value| -> Result<String, SandboxError> {
            Ok(jwks
                .pointer("/keys/0/kid")
                .and_then(Value::as_str)
                .ok_or_else(|| SandboxError::Config("signing JWKS has no kid".into()))?
                .to_string())
        };
        let jwks: Value = serde_json::from_str(SIGNING_JWKS)?;
        let next_jwks: Value = serde_json::from_str(NEXT_JWKS)?;
        Ok(Keys {
            signing: EncodingKey::from_rsa_pem(SIGNING_PEM.as_bytes())?,
            untrusted: EncodingKey::from_rsa_pem(UNTRUSTED_PEM.as_bytes())?,
            next: EncodingKey::from_rsa_pem(NEXT_PEM.as_bytes())?,
            kid: kid_of(&jwks)?,
            next_kid: kid_of(&next_jwks)?,
            jwks,
            next_jwks,
        })
    }

    /// The public JWK Set served at `/auth/jwks`: the current key's (the next one's once rotated).
    pub fn jwks(&self, rotated: bool) -> &Value {
        if rotated {
            &self.next_jwks
        } else {
            &self.jwks
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Sign `claims` as a compact JWT.
    pub fn sign<T: Serialize>(&self, claims: &T, how: Signing) -> Result<String, SandboxError> {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".into());
        header.kid = Some(self.kid.clone());
        match how {
            Signing::Published => Ok(jsonwebtoken::encode(&header, claims, &self.signing)?),
            Signing::Untrusted => Ok(jsonwebtoken::encode(&header, claims, &self.untrusted)?),
            Signing::Next => {
                header.kid = Some(self.next_kid.clone());
                Ok(jsonwebtoken::encode(&header, claims, &self.next)?)
            }
            Signing::UnknownKid => {
                header.kid = Some(UNPUBLISHED_KID.into());
                Ok(jsonwebtoken::encode(&header, claims, &self.untrusted)?)
            }
            Signing::Unsigned => {
                let header = serde_json::json!({"alg": "none", "typ": "JWT"});
                let h = URL_SAFE_NO_PAD.encode(header.to_string());
                let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
                Ok(format!("{h}.{c}."))
            }
        }
    }
}
