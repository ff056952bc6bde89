//! The sandbox EHR's development credentials are public (committed in `sandbox/keys/`). Whatever
//! this build contains, they must never secure anything else: a registration that uses one of them
//! is refused at start. This list holds only what identifies them (public keys, digests of the
//! private key files, the fixed secret and bearer), never a usable private key.

use serde_json::Value;

/// The client secret the sandbox registers for the app.
pub const CLIENT_SECRET: &str = "sandbox-secret-change-me";
/// The bearer the sandbox accepts at `$process-message` for development.
pub const STATIC_BEARER: &str = "sandbox-static-token";
/// The sandbox as a client of our FHIR API.
pub const API_CLIENT_ID: &str = "sandbox-ehr";
/// Its public keys (the sandbox's API client key, its id_token signing keys).
pub const PUBLIC_JWKS: [&str; 3] = [
    include_str!("../../sandbox/keys/api-client-es384.jwks.json"),
    include_str!("../../sandbox/keys/signing-rs256.jwks.json"),
    include_str!("../../sandbox/keys/signing-rs256-next.jwks.json"),
];
/// SHA-256 (hex) of every private key file in `sandbox/keys/` (a test keeps these true).
pub const PRIVATE_KEY_DIGESTS: [&str; 4] = [
    "03b55c6de2f3e792ba97f125b2c99d98d5401ef01927866b5b766dec84a49025", // api-client-es384.pem
    "1804cfab157adc6d7ae9d1f9d37d3a6be177dd714a297b3927fa994aad93cc62", // signing-rs256.pem
    "00ef8796b19f8d7bc58c11083aad624b99a259d0b41924eff8fcf9b2009f59d2", // untrusted-rs256.pem
    NEXT_SIGNING_KEY_DIGEST,                                            // signing-rs256-next.pem
];
const NEXT_SIGNING_KEY_DIGEST: &str = "8d9254032ec80a1f74c5fe261e53780a319f40f0bc533017f777df675cf13c41";

/// The key material of a JWK (EC `x`, RSA `n`), which identifies it whatever its `kid`.
fn key_material(jwk: &Value) -> Option<&str> {
    jwk.get("x").or_else(|| jwk.get("n")).and_then(Value::as_str)
}

/// Whether a JWK Set holds one of the sandbox's public keys.
pub fn jwks_has_sandbox_key(jwks: &Value) -> bool {
    let ours: Vec<String> = PUBLIC_JWKS
        .iter()
        .filter_map(|t| serde_json::from_str::<Value>(t).ok())
        .flat_map(|set| set.get("keys").and_then(Value::as_array).cloned().unwrap_or_default())
        .filter_map(|k| key_material(&k).map(str::to_string))
        .collect();
    jwks.get("keys")
        .and_then(Value::as_array)
        .is_some_and(|keys| keys.iter().filter_map(key_material).any(|m| ours.iter().any(|o| o == m)))
}

/// Whether a private key file's bytes are one of the sandbox's.
pub fn is_sandbox_private_key(bytes: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    let digest: String = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
    PRIVATE_KEY_DIGESTS.contains(&digest.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digests_are_those_of_the_committed_files() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandbox/keys");
        let mut pems: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pem"))
            .collect();
        pems.sort();
        assert_eq!(pems.len(), PRIVATE_KEY_DIGESTS.len(), "every committed private key is listed");
        for pem in pems {
            assert!(is_sandbox_private_key(&std::fs::read(&pem).unwrap()), "{}", pem.display());
        }
        assert!(!is_sandbox_private_key(b"another key"));
    }

    #[test]
    fn sandbox_public_keys_are_recognised_under_any_kid() {
        let mut set: Value = serde_json::from_str(PUBLIC_JWKS[0]).unwrap();
        set["keys"][0]["kid"] = "renamed".into();
        assert!(jwks_has_sandbox_key(&set));
        let other: Value = serde_json::from_str(
            &std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandbox/tests/keys/client-jwks.json"),
            )
            .unwrap(),
        )
        .unwrap();
        assert!(!jwks_has_sandbox_key(&other));
    }
}
