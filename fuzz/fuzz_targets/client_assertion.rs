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

use ereferral_fuzz::assertion::{b64, check_verified, verifier, DEFAULT_HEADER, NOW};
use libfuzzer_sys::fuzz_target;
use server::api::assertion::verify;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let f = verifier();
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
        check_verified(&v);
    }
});
