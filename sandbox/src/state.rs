//! Shared application state.

use std::sync::{Arc, Mutex, MutexGuard};

use url::Url;

use crate::config::SandboxConfig;
use crate::error::SandboxError;
use crate::keys::Keys;
use crate::seed::Seed;
use crate::store::Store;

/// The sandbox's public URLs, derived once from the base URL.
#[derive(Debug, Clone)]
pub struct Urls {
    /// Always ends with `/`.
    pub base: Url,
    /// `{base}fhir`, without trailing slash: the SMART `iss` and the OIDC issuer.
    pub fhir_base: String,
    pub authorize: String,
    pub token: String,
    pub jwks: String,
    pub style: String,
    /// `scheme://host:port` of the sandbox (the SMART Web Messaging origin).
    pub origin: String,
}

impl Urls {
    pub fn new(base: &Url) -> Result<Self, SandboxError> {
        let mut base = base.clone();
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        base.set_fragment(None);
        let join = |p: &str| -> Result<String, SandboxError> { Ok(base.join(p)?.to_string()) };
        Ok(Urls {
            fhir_base: join("fhir")?,
            authorize: join("auth/authorize")?,
            token: join("auth/token")?,
            jwks: join("auth/jwks")?,
            style: join("smart-style.json")?,
            origin: base.origin().ascii_serialization(),
            base,
        })
    }
}

/// Everything the handlers share.
pub struct AppState {
    pub config: SandboxConfig,
    pub urls: Urls,
    pub keys: Keys,
    pub seed: Seed,
    /// Origin of the app (from `app_launch_url`): the only origin the EHR page listens to.
    pub app_origin: String,
    store: Mutex<Store>,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    /// Build the state for a sandbox reachable at `base_url`.
    pub fn new(config: SandboxConfig, base_url: &Url) -> Result<Self, SandboxError> {
        let app_origin = config.app_launch_url.origin().ascii_serialization();
        Ok(AppState {
            urls: Urls::new(base_url)?,
            keys: Keys::builtin()?,
            seed: Seed::builtin()?,
            app_origin,
            config,
            store: Mutex::new(Store::default()),
        })
    }

    /// Lock the store. A poisoned lock is recovered: the data is plain maps.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `a == b` ignoring one trailing slash on either side.
pub fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_from_base_without_trailing_slash() {
        let u = Urls::new(&Url::parse("http://127.0.0.1:3100").unwrap()).unwrap();
        assert_eq!(u.fhir_base, "http://127.0.0.1:3100/fhir");
        assert_eq!(u.token, "http://127.0.0.1:3100/auth/token");
        assert_eq!(u.origin, "http://127.0.0.1:3100");
        let u = Urls::new(&Url::parse("https://ehr.example/sandbox").unwrap()).unwrap();
        assert_eq!(u.fhir_base, "https://ehr.example/sandbox/fhir");
        assert!(same_url("http://a/fhir/", "http://a/fhir"));
    }
}
