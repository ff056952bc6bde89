//! What several fuzz targets share. Each target is its own binary; this is their library.

pub mod assertion {
    //! The `private_key_jwt` verifier of the zero-configuration server: the built-in sandbox
    //! EHR's API client `sandbox-ehr` with the sandbox's public development JWKS (ES384).

    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use server::api::assertion::{Verified, MAX_LIFETIME_SECS};
    use server::api::clients::ApiClients;
    use server::config::Config;
    use std::sync::OnceLock;

    /// "now" for every run: 2027-01-15T08:00:00Z (seeds use exp = NOW + 60).
    pub const NOW: i64 = 1_800_000_000;
    /// The sandbox API client's JWT header (used when an input gives none).
    pub const DEFAULT_HEADER: &str = r#"{"alg":"ES384","kid":"sandbox-ehr-api-es384","typ":"JWT"}"#;

    pub struct Verifier {
        pub clients: ApiClients,
        /// The `aud` assertions must name, as the token endpoint computes it.
        pub token_url: String,
    }

    pub fn verifier() -> &'static Verifier {
        static V: OnceLock<Verifier> = OnceLock::new();
        V.get_or_init(|| {
            let config = Config::from_sources(None, &|_| None).expect("the default configuration loads");
            let clients = ApiClients::load(&config).expect("the sandbox's API client loads");
            assert!(clients.get(server::config::SANDBOX_API_CLIENT_ID).is_some());
            Verifier { clients, token_url: server::api::token_endpoint::token_url(&config) }
        })
    }

    pub fn b64(b: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(b)
    }

    /// What a verified assertion promises the token endpoint.
    pub fn check_verified(v: &Verified) {
        assert_eq!(v.client_id, server::config::SANDBOX_API_CLIENT_ID);
        assert!(!v.jti.is_empty());
        assert!(v.exp <= NOW + MAX_LIFETIME_SECS + 60, "exp {} accepted at {NOW}", v.exp);
    }
}
