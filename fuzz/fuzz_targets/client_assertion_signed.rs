//! Client assertions with a valid signature: the input is a JWT header (JSON; empty means the
//! sandbox client's ES384 header), a 0xFF byte, then the claims (any bytes, usually JSON), signed
//! with the sandbox API client's real ES384 key (public on purpose, development only), so that
//! what `api::assertion::verify` checks after the signature (iss, sub, aud, exp, jti, and
//! jsonwebtoken's own claim validation) sees hostile claims.
//!
//! Slow: signing and verifying P-384 cost about 28 ms per input under ASan, so this target is
//! run for a time budget (`FUZZ_MAX_TIME`) rather than a million executions.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use server::api::assertion::{verify, MAX_LIFETIME_SECS};
use server::api::clients::ApiClients;
use server::config::Config;
use std::sync::OnceLock;

/// "now" for every run: 2027-01-15T08:00:00Z (seeds use exp = NOW + 60).
const NOW: i64 = 1_800_000_000;
const DEFAULT_HEADER: &str = r#"{"alg":"ES384","kid":"sandbox-ehr-api-es384","typ":"JWT"}"#;
/// The sandbox EHR's API client key (public on purpose: development only).
const SANDBOX_API_KEY: &[u8] = include_bytes!("../../sandbox/keys/api-client-es384.pem");

struct Fixture {
    clients: ApiClients,
    token_url: String,
    key: EncodingKey,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let config = Config::from_sources(None, &|_| None).expect("the default configuration loads");
        let clients = ApiClients::load(&config).expect("the sandbox's API client loads");
        let token_url = format!("{}/auth/token", config.public_url.as_str().trim_end_matches('/'));
        let key = EncodingKey::from_ec_pem(SANDBOX_API_KEY).expect("the sandbox key is a PEM EC key");
        Fixture { clients, token_url, key }
    })
}

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let (header, claims) = match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    let header = if header.is_empty() { DEFAULT_HEADER.as_bytes() } else { header };
    let message = format!("{}.{}", b64(header), b64(claims));
    let Ok(sig) = jsonwebtoken::crypto::sign(message.as_bytes(), &f.key, Algorithm::ES384) else { return };
    let assertion = format!("{message}.{sig}");
    if let Ok(v) = verify(&f.clients, &assertion, &f.token_url, NOW) {
        assert_eq!(v.client_id, server::config::SANDBOX_API_CLIENT_ID);
        assert!(!v.jti.is_empty());
        assert!(v.exp <= NOW + MAX_LIFETIME_SECS + 60, "exp {} accepted at {NOW}", v.exp);
        let claims: serde_json::Value = serde_json::from_slice(claims).expect("verified claims are JSON");
        assert_eq!(claims.get("iss").and_then(|v| v.as_str()), Some(v.client_id.as_str()));
    }
});
