//! SMART discovery: `{iss}/.well-known/smart-configuration`, falling back to the
//! CapabilityStatement's oauth-uris extension; cached per issuer.

use crate::fhir::client::get_json;
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

fn well_known(iss: &Url, name: &str) -> Url {
    Url::parse(&format!("{}/.well-known/{name}", iss.as_str().trim_end_matches('/'))).expect("valid URL")
}

pub struct DiscoveryCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, SmartConfiguration)>>,
}

impl DiscoveryCache {
    pub fn new(ttl: Duration) -> Self {
        DiscoveryCache { ttl, entries: Mutex::new(HashMap::new()) }
    }

    /// Discovery for a registered issuer (never call this with an unregistered one).
    pub async fn get(&self, http: &reqwest::Client, iss: &Url) -> Result<SmartConfiguration, DiscoveryError> {
        let key = iss.as_str().trim_end_matches('/').to_string();
        if let Some((at, cfg)) = self.entries.lock().expect("cache lock").get(&key) {
            if at.elapsed() < self.ttl {
                return Ok(cfg.clone());
            }
        }
        let cfg = discover(http, iss).await?;
        for endpoint in [&cfg.authorization_endpoint, &cfg.token_endpoint].into_iter().chain(cfg.jwks_uri.as_ref()) {
            if !endpoint_allowed(endpoint) {
                return Err(DiscoveryError::InsecureEndpoint(endpoint.to_string()));
            }
        }
        self.entries.lock().expect("cache lock").insert(key, (Instant::now(), cfg.clone()));
        Ok(cfg)
    }

    /// Forgets an issuer (e.g. after its endpoints failed), so the next launch rediscovers.
    pub fn forget(&self, iss: &Url) {
        self.entries.lock().expect("cache lock").remove(iss.as_str().trim_end_matches('/'));
    }
}

async fn discover(http: &reqwest::Client, iss: &Url) -> Result<SmartConfiguration, DiscoveryError> {
    let smart_err = match get_json(http, &well_known(iss, "smart-configuration"), "application/json").await {
        Ok(doc) => match serde_json::from_value::<SmartConfiguration>(doc) {
            Ok(cfg) => return Ok(cfg),
            Err(e) => format!("invalid document: {e}"),
        },
        Err(e) => e.to_string(),
    };
    let metadata_url = Url::parse(&format!("{}/metadata", iss.as_str().trim_end_matches('/'))).expect("valid URL");
    let metadata_err = match get_json(http, &metadata_url, "application/fhir+json").await {
        Ok(doc) => match from_capability_statement(&doc) {
            Some(cfg) => {
                tracing::info!(issuer = %iss, "SMART discovery fell back to the CapabilityStatement");
                return Ok(cfg);
            }
            None => "no oauth-uris extension".to_string(),
        },
        Err(e) => e.to_string(),
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
    fn only_https_or_loopback_http_endpoints() {
        for ok in ["https://ehr.example.org/a", "http://127.0.0.1:3100/a", "http://localhost/a", "http://[::1]/a"] {
            assert!(endpoint_allowed(&Url::parse(ok).unwrap()), "{ok}");
        }
        for bad in ["http://ehr.example.org/a", "ftp://x/a", "http://10.0.0.1/a"] {
            assert!(!endpoint_allowed(&Url::parse(bad).unwrap()), "{bad}");
        }
    }
}
