//! `client_assertion` JWTs posted to our token endpoint (`POST /auth/token`, SMART Backend
//! Services `private_key_jwt`): anyone on the network can send one.
//!
//! The first byte picks how the rest is used:
//! - even: the rest as the assertion string, unchanged (lossy UTF-8);
//! - odd: JWT-shaped: the rest split at 0xFF bytes into header JSON, claims JSON and signature
//!   bytes, each base64url-encoded and joined with `.` (an empty header becomes the sandbox
//!   client's ES384 header), to get past the split and base64 decoding quickly. The signature is
//!   cut to 64 bytes: a full-size (96-byte) random ES384 signature only exercises p384's own
//!   verification, at about 11 ms per input under ASan; `client_assertion_signed` sends valid ones.
//!
//! The verifier is the zero-configuration one: the built-in sandbox EHR's API client
//! `sandbox-ehr` with the sandbox's public development JWKS (ES384).
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use server::api::assertion::{verify, MAX_LIFETIME_SECS};
use server::api::clients::ApiClients;
use server::config::Config;
use std::sync::OnceLock;

/// "now" for every run: 2027-01-15T08:00:00Z (seeds use exp = NOW + 60).
const NOW: i64 = 1_800_000_000;
const DEFAULT_HEADER: &str = r#"{"alg":"ES384","kid":"sandbox-ehr-api-es384","typ":"JWT"}"#;

struct Fixture {
    clients: ApiClients,
    token_url: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let config = Config::from_sources(None, &|_| None).expect("the default configuration loads");
        let clients = ApiClients::load(&config).expect("the sandbox's API client loads");
        assert!(clients.get(server::config::SANDBOX_API_CLIENT_ID).is_some());
        // As `server::api::token_endpoint::token_url` computes it from the config.
        let token_url = format!("{}/auth/token", config.public_url.as_str().trim_end_matches('/'));
        Fixture { clients, token_url }
    })
}

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let f = fixture();
    let assertion = if mode % 2 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        let mut it = rest.splitn(3, |&b| b == 0xFF);
        let header = it.next().filter(|h| !h.is_empty()).unwrap_or(DEFAULT_HEADER.as_bytes());
        let claims = it.next().unwrap_or_default();
        let sig = it.next().unwrap_or_default();
        format!("{}.{}.{}", b64(header), b64(claims), b64(&sig[..sig.len().min(64)]))
    };
    if let Ok(v) = verify(&f.clients, &assertion, &f.token_url, NOW) {
        // What a verified assertion promises the token endpoint.
        assert_eq!(v.client_id, server::config::SANDBOX_API_CLIENT_ID);
        assert!(!v.jti.is_empty());
        assert!(v.exp <= NOW + MAX_LIFETIME_SECS + 60, "exp {} accepted at {NOW}", v.exp);
    }
});
