//! SMART discovery: `{iss}/.well-known/smart-configuration`, falling back to the
//! CapabilityStatement's oauth-uris extension; cached per issuer.

use crate::{
    config::EhrRegistration,
    fhir::client::{get_json, Expect},
};
use serde::Deserialize;
use serde_json::Value;
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};
use url::Url;

const OAUTH_URIS: &str = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris";

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SmartConfiguration {
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    #[serde(default)]
    pub issuer: Option<Url>,
    #[serde(default)]
    pub jwks_uri: Option<Url>,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("smart-configuration unusable ({smart}) and metadata unusable ({metadata})")]
    Unavailable { smart: String, metadata: String },
    #[error("endpoint {0} is not https (or http on loopback)")]
    InsecureEndpoint(String),
    /// The document sends the browser, the code or the key lookups to a host the registration
    /// does not name: a misconfigured or hostile EHR.
    #[error("{which} is on {origin}, which is neither the issuer's origin nor one of the registration's auth_origins")]
    ForeignEndpoint { which: &'static str, origin: String },
    #[error("no jwks_uri in the SMART configuration, and the OpenID configuration gave none ({0})")]
    NoJwks(String),
}

/// The endpoints a registered EHR's launches use, checked: https (or loopback http), and on the
/// issuer's origin or one of the registration's `auth_origins`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthEndpoints {
    pub authorization: Url,
    pub token: Url,
    /// Where the id_token's keys are.
    pub jwks: Url,
    /// The `iss` id_tokens must carry (the SMART configuration's `issuer`, else the FHIR base).
    pub oidc_issuer: String,
}

/// Endpoints must be https, except on loopback (the sandbox, tests).
pub fn endpoint_allowed(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

/// Checks one endpoint against `ehr`'s registration: secure scheme, and a pinned origin.
pub fn check_endpoint(which: &'static str, url: &Url, ehr: &EhrRegistration) -> Result<(), DiscoveryError> {
    if !endpoint_allowed(url) || !url.username().is_empty() || url.password().is_some() {
        return Err(DiscoveryError::InsecureEndpoint(url.to_string()));
    }
    let origin = url.origin().ascii_serialization();
    if origin == ehr.issuer.origin().ascii_serialization() || ehr.auth_origins.iter().any(|o| *o == origin) {
        Ok(())
    } else {
        Err(DiscoveryError::ForeignEndpoint { which, origin })
    }
}

/// The oauth-uris extension of a CapabilityStatement, as a SmartConfiguration.
pub fn from_capability_statement(metadata: &Value) -> Option<SmartConfiguration> {
    let security = metadata.pointer("/rest/0/security/extension")?.as_array()?;
    let oauth = security.iter().find(|e| e.get("url").and_then(Value::as_str) == Some(OAUTH_URIS))?;
    let mut authorize = None;
    let mut token = None;
    for ext in oauth.get("extension")?.as_array()? {
        let value = ext.get("valueUri").and_then(Value::as_str).and_then(|u| Url::parse(u).ok());
        match ext.get("url").and_then(Value::as_str) {
            Some("authorize") => authorize = value,
            Some("token") => token = value,
            _ => {}
        }
    }
    Some(SmartConfiguration {
        authorization_endpoint: authorize?,
        token_endpoint: token?,
        issuer: None,
        jwks_uri: None,
        code_challenge_methods_supported: Vec::new(),
        capabilities: Vec::new(),
    })
}

fn well_known(base: &str, name: &str) -> Option<Url> {
    Url::parse(&format!("{}/.well-known/{name}", base.trim_end_matches('/'))).ok()
}

/// Discovery per registered EHR, cached for an hour. Only checked endpoints are ever cached.
pub struct DiscoveryCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, AuthEndpoints)>>,
}

impl DiscoveryCache {
    pub fn new(ttl: Duration) -> Self {
        DiscoveryCache { ttl, entries: Mutex::new(HashMap::new()) }
    }

    /// The checked endpoints of a registered EHR (never call this for an unregistered issuer).
    pub async fn get(&self, http: &reqwest::Client, ehr: &EhrRegistration) -> Result<AuthEndpoints, DiscoveryError> {
        if let Some((at, cfg)) = self.lock().get(&ehr.id) {
            if at.elapsed() < self.ttl {
                return Ok(cfg.clone());
            }
        }
        let cfg = discover(http, &ehr.issuer).await?;
        check_endpoint("authorization_endpoint", &cfg.authorization_endpoint, ehr)?;
        check_endpoint("token_endpoint", &cfg.token_endpoint, ehr)?;
        let oidc_issuer = cfg.issuer.as_ref().unwrap_or(&ehr.issuer).as_str().trim_end_matches('/').to_string();
        let jwks = match cfg.jwks_uri.clone() {
            Some(jwks) => jwks,
            None => openid_jwks(http, &oidc_issuer).await?,
        };
        check_endpoint("jwks_uri", &jwks, ehr)?;
        let endpoints =
            AuthEndpoints { authorization: cfg.authorization_endpoint, token: cfg.token_endpoint, jwks, oidc_issuer };
        self.lock().insert(ehr.id.clone(), (Instant::now(), endpoints.clone()));
        Ok(endpoints)
    }

    /// Forgets an EHR (e.g. after its endpoints failed), so the next launch rediscovers.
    pub fn forget(&self, ehr: &EhrRegistration) {
        self.lock().remove(&ehr.id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, AuthEndpoints)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The `jwks_uri` of the OpenID configuration at `issuer`.
async fn openid_jwks(http: &reqwest::Client, issuer: &str) -> Result<Url, DiscoveryError> {
    let url = well_known(issuer, "openid-configuration").ok_or_else(|| DiscoveryError::NoJwks("bad issuer".into()))?;
    let doc = get_json(http, &url, "application/json", Expect::DISCOVERY)
        .await
        .map_err(|e| DiscoveryError::NoJwks(e.to_string()))?;
    doc.get("jwks_uri")
        .and_then(Value::as_str)
        .and_then(|u| Url::parse(u).ok())
        .ok_or_else(|| DiscoveryError::NoJwks("the document has no jwks_uri".into()))
}

async fn discover(http: &reqwest::Client, iss: &Url) -> Result<SmartConfiguration, DiscoveryError> {
    let base = iss.as_str();
    let smart_url = well_known(base, "smart-configuration")
        .ok_or_else(|| DiscoveryError::Unavailable { smart: "bad issuer".into(), metadata: "bad issuer".into() })?;
    let smart_err = match get_json(http, &smart_url, "application/json", Expect::DISCOVERY).await {
        Ok(doc) => match serde_json::from_value::<SmartConfiguration>(doc) {
            Ok(cfg) => return Ok(cfg),
            Err(e) => format!("invalid document: {e}"),
        },
        Err(e) => e.to_string(),
    };
    let metadata_err = match Url::parse(&format!("{}/metadata", base.trim_end_matches('/'))) {
        Err(e) => e.to_string(),
        Ok(metadata_url) => match get_json(http, &metadata_url, "application/fhir+json", Expect::DISCOVERY).await {
            Ok(doc) => match from_capability_statement(&doc) {
                Some(cfg) => {
                    tracing::info!(issuer = %iss, "SMART discovery fell back to the CapabilityStatement");
                    return Ok(cfg);
                }
                None => "no oauth-uris extension".to_string(),
            },
            Err(e) => e.to_string(),
        },
    };
    Err(DiscoveryError::Unavailable { smart: smart_err, metadata: metadata_err })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn capability_statement_fallback() {
        let cs = json!({"resourceType":"CapabilityStatement","rest":[{"mode":"server","security":{"extension":[{
            "url": OAUTH_URIS,
            "extension":[{"url":"token","valueUri":"https://ehr.example.org/token"},{"url":"authorize","valueUri":"https://ehr.example.org/authorize"}]
        }]}}]});
        let cfg = from_capability_statement(&cs).unwrap();
        assert_eq!(cfg.authorization_endpoint.as_str(), "https://ehr.example.org/authorize");
        assert_eq!(cfg.token_endpoint.as_str(), "https://ehr.example.org/token");
        assert!(from_capability_statement(&json!({"resourceType":"CapabilityStatement"})).is_none());
    }

    #[test]
    fn endpoints_are_pinned_to_the_issuer_or_registered_auth_origins() {
        let mut ehr = crate::config::tests_support::registration("https://ehr.example.org/fhir");
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(check_endpoint("token_endpoint", &u("https://ehr.example.org/oauth/token"), &ehr).is_ok());
        for foreign in
            ["https://auth.example.org/token", "https://ehr.example.org:8443/token", "https://evil.example/t"]
        {
            let err = check_endpoint("token_endpoint", &u(foreign), &ehr).unwrap_err();
            assert!(matches!(err, DiscoveryError::ForeignEndpoint { which: "token_endpoint", .. }), "{foreign}");
        }
        assert!(matches!(
            check_endpoint("token_endpoint", &u("http://ehr.example.org/token"), &ehr),
            Err(DiscoveryError::InsecureEndpoint(_))
        ));
        assert!(check_endpoint("x", &u("https://user:pw@ehr.example.org/t"), &ehr).is_err());
        ehr.auth_origins = vec!["https://auth.example.org".into()];
        assert!(check_endpoint("token_endpoint", &u("https://auth.example.org/token"), &ehr).is_ok());
    }

    #[test]
    fn only_https_or_loopback_http_endpoints() {
        for ok in ["https://ehr.example.org/a", "http://127.0.0.1:3100/a", "http://localhost/a", "http://[::1]/a"] {
            assert!(endpoint_allowed(&Url::parse(ok).unwrap()), "{ok}");
        }
        for bad in ["http://ehr.example.org/a", "ftp://x/a", "http://10.0.0.1/a"] {
            assert!(!endpoint_allowed(&Url::parse(bad).unwrap()), "{bad}");
        }
    }
}
