//! Client authentication at the token endpoint: `client_secret_basic` (RFC 6749 §2.3.1),
//! public clients (`client_id` in the form), and `private_key_jwt` (RFC 7523, SMART
//! Backend Services / asymmetric client authentication).

use std::collections::HashMap;

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::config::{ClientAuth, ClientRegistration};
use crate::oauth_error::OAuthError;
use crate::pkce::constant_time_eq;
use crate::state::AppState;
use crate::store::now;

pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Longest accepted lifetime of a client assertion (SMART: `exp` no more than 5 minutes ahead).
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 300;
/// Clock skew tolerated on `exp`.
const SKEW_SECS: i64 = 30;

/// How the client proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// Public client, identified only.
    None,
    SecretBasic,
    PrivateKeyJwt,
}

/// Authenticate the client of a token request. Every failure is `invalid_client` (401).
pub fn authenticate<'a>(
    st: &'a AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(&'a ClientRegistration, AuthMethod), OAuthError> {
    let basic = basic_credentials(headers)?;
    let assertion_type = form.get("client_assertion_type").filter(|s| !s.is_empty());
    if form.get("client_secret").is_some_and(|s| !s.is_empty()) {
        return Err(OAuthError::invalid_client(
            "client_secret_post is not supported: use HTTP Basic or private_key_jwt",
        ));
    }
    if basic.is_some() && assertion_type.is_some() {
        return Err(OAuthError::invalid_request("use exactly one client authentication method"));
    }
    if let Some((id, secret)) = basic {
        let fail = || OAuthError::invalid_client("client authentication failed").with_basic_challenge(true);
        let client = st.config.client(&id).ok_or_else(fail)?;
        if form.get("client_id").is_some_and(|f| f != &id) {
            return Err(fail());
        }
        return match &client.auth {
            ClientAuth::ClientSecretBasic { secret: expected }
                if constant_time_eq(expected.as_bytes(), secret.as_bytes()) =>
            {
                Ok((client, AuthMethod::SecretBasic))
            }
            _ => Err(fail()),
        };
    }
    if let Some(t) = assertion_type {
        if t != JWT_BEARER_ASSERTION {
            return Err(OAuthError::invalid_client("unsupported client_assertion_type"));
        }
        let assertion = form
            .get("client_assertion")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| OAuthError::invalid_client("client_assertion is missing"))?;
        let client = verify_assertion(st, assertion, form.get("client_id").map(String::as_str))?;
        return Ok((client, AuthMethod::PrivateKeyJwt));
    }
    let id = form
        .get("client_id")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| OAuthError::invalid_client("no client authentication and no client_id"))?;
    let client = st.config.client(id).ok_or_else(|| OAuthError::invalid_client("unknown client"))?;
    if client.auth.is_public() {
        Ok((client, AuthMethod::None))
    } else {
        Err(OAuthError::invalid_client("this client is confidential and must authenticate"))
    }
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))`, if present.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let fail = || OAuthError::invalid_client("malformed HTTP Basic credentials").with_basic_challenge(true);
    let value = value.to_str().map_err(|_| fail())?;
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return Err(fail());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(fail());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| fail())?;
    let decoded = String::from_utf8(decoded).map_err(|_| fail())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(fail)?;
    Ok(Some((form_decode(id).ok_or_else(fail)?, form_decode(secret).ok_or_else(fail)?)))
}

/// `application/x-www-form-urlencoded` decoding of one value (`+` is a space).
pub fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn verify_assertion<'a>(
    st: &'a AppState,
    assertion: &str,
    form_client_id: Option<&str>,
) -> Result<&'a ClientRegistration, OAuthError> {
    let bad = |why: &str| OAuthError::invalid_client(format!("client assertion rejected: {why}"));
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| bad("malformed JWT"))?;
    if !matches!(header.alg, Algorithm::RS384 | Algorithm::ES384) {
        return Err(bad("alg must be RS384 or ES384"));
    }
    let unverified: Value =
        jsonwebtoken::dangerous::insecure_decode_claims(assertion).map_err(|_| bad("malformed JWT"))?;
    let iss = unverified.get("iss").and_then(Value::as_str).ok_or_else(|| bad("iss is missing"))?;
    if form_client_id.is_some_and(|c| !c.is_empty() && c != iss) {
        return Err(bad("client_id does not match iss"));
    }
    let client = st.config.client(iss).ok_or_else(|| bad("unknown client"))?;
    let ClientAuth::PrivateKeyJwt { jwks } = &client.auth else {
        return Err(bad("this client is not registered for private_key_jwt"));
    };
    let set: JwkSet =
        serde_json::from_value(jwks.clone()).map_err(|_| bad("the client's registered JWKS is invalid"))?;
    let candidates: Vec<_> = match &header.kid {
        Some(kid) => set.find(kid).into_iter().collect(),
        None => set.keys.iter().collect(),
    };
    if candidates.is_empty() {
        return Err(bad("no registered key matches the kid"));
    }
    let mut validation = Validation::new(header.alg);
    validation.leeway = SKEW_SECS as u64;
    validation.set_audience(&[st.urls.token.as_str()]);
    validation.set_issuer(&[iss]);
    validation.sub = Some(iss.to_string());
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let claims: Value = candidates
        .iter()
        .filter_map(|jwk| DecodingKey::from_jwk(jwk).ok())
        .find_map(|key| jsonwebtoken::decode::<Value>(assertion, &key, &validation).ok())
        .map(|data| data.claims)
        .ok_or_else(|| bad("signature, iss, sub, aud or exp is invalid"))?;
    let now = now();
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or_else(|| bad("exp must be a number"))?;
    if exp > now + MAX_ASSERTION_LIFETIME_SECS + SKEW_SECS {
        return Err(bad("exp is more than 5 minutes in the future"));
    }
    let jti =
        claims.get("jti").and_then(Value::as_str).filter(|j| !j.is_empty()).ok_or_else(|| bad("jti is missing"))?;
    let key = format!("{iss}\u{0}{jti}");
    let mut store = st.store();
    if store.seen_jtis.contains_key(&key) {
        return Err(bad("jti was already used (replay)"));
    }
    store.seen_jtis.insert(key, exp);
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        assert_eq!(form_decode("a%3Ab+c").as_deref(), Some("a:b c"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
    }
}
