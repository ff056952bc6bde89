//! Client assertions with a valid signature: the input is a JWT header (JSON; empty means the
//! sandbox client's ES384 header), a 0xFF byte, then the claims (any bytes, usually JSON), signed
//! with the sandbox API client's real ES384 key (public on purpose, development only), so that
//! what `api::assertion::verify` checks after the signature (iss, sub, aud, exp, jti, and
//! jsonwebtoken's own claim validation) sees hostile claims.
//!
//! Slow: signing and verifying P-384 cost about 28 ms per input under ASan, so this target is
//! run for a time budget (`FUZZ_MAX_TIME`) rather than a million executions.
#![no_main]

use ereferral_fuzz::assertion::{b64, check_verified, verifier, DEFAULT_HEADER, NOW};
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use server::api::assertion::verify;
use std::sync::OnceLock;

/// The sandbox EHR's API client key (public on purpose: development only).
const SANDBOX_API_KEY: &[u8] = include_bytes!("../../sandbox/keys/api-client-es384.pem");

fn key() -> &'static EncodingKey {
    static K: OnceLock<EncodingKey> = OnceLock::new();
    K.get_or_init(|| EncodingKey::from_ec_pem(SANDBOX_API_KEY).expect("the sandbox key is a PEM EC key"))
}

fuzz_target!(|data: &[u8]| {
    let f = verifier();
    let (header, claims) = match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    let header = if header.is_empty() { DEFAULT_HEADER.as_bytes() } else { header };
    let message = format!("{}.{}", b64(header), b64(claims));
    let Ok(sig) = jsonwebtoken::crypto::sign(message.as_bytes(), key(), Algorithm::ES384) else { return };
    let assertion = format!("{message}.{sig}");
    if let Ok(v) = verify(&f.clients, &assertion, &f.token_url, NOW) {
        check_verified(&v);
        let claims: serde_json::Value = serde_json::from_slice(claims).expect("verified claims are JSON");
        assert_eq!(claims.get("iss").and_then(|v| v.as_str()), Some(v.client_id.as_str()));
    }
});
