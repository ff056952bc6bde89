//! Matching a launch's `iss` to a registered EHR, without any outbound request.

use crate::config::{Config, EhrRegistration};
use url::Url;

/// Normalises an issuer URL for comparison: scheme and host lower-cased (the URL parser does
/// that), default ports dropped, no trailing slash, no query or fragment allowed.
pub fn normalize_issuer(iss: &str) -> Option<String> {
    let url = Url::parse(iss.trim()).ok()?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return None;
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    Some(url.as_str().trim_end_matches('/').to_string())
}

pub fn find_registration<'a>(config: &'a Config, iss: &str) -> Option<&'a EhrRegistration> {
    let wanted = normalize_issuer(iss)?;
    config.ehrs.iter().find(|e| normalize_issuer(e.issuer.as_str()).as_deref() == Some(wanted.as_str()))
}

pub fn registration_by_id<'a>(config: &'a Config, id: &str) -> Option<&'a EhrRegistration> {
    config.ehrs.iter().find(|e| e.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_normalise() {
        assert_eq!(
            normalize_issuer("HTTPS://EHR.Example.org:443/fhir/").as_deref(),
            Some("https://ehr.example.org/fhir")
        );
        assert_eq!(normalize_issuer("http://127.0.0.1:3100/fhir").as_deref(), Some("http://127.0.0.1:3100/fhir"));
        assert_eq!(normalize_issuer("https://ehr.example.org/fhir?x=1"), None);
        assert_eq!(normalize_issuer("https://user@ehr.example.org/fhir"), None);
        assert_eq!(normalize_issuer("file:///etc/passwd"), None);
        assert_eq!(normalize_issuer("not a url"), None);
    }

    #[test]
    fn registered_issuer_is_found_and_others_are_not() {
        let config = Config::from_sources(None, &|_| None).unwrap();
        assert!(find_registration(&config, "http://127.0.0.1:3100/fhir/").is_some());
        assert!(find_registration(&config, "http://127.0.0.1:3100/fhir2").is_none());
        assert!(find_registration(&config, "http://169.254.169.254/latest").is_none());
    }
}
