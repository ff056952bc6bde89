//! Checks a message Bundle before it leaves: every entry has a unique RESTful (or `urn:uuid:`)
//! full URL matching its resource, and every reference resolves, either to an entry of the
//! bundle or to a server the receiver knows (the EHR's own FHIR base). Pure.

use serde_json::Value;
use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("the bundle is malformed: {0}")]
    Malformed(String),
    #[error("{from} refers to {reference}, which is neither in the bundle nor on the EHR")]
    Unresolved { from: String, reference: String },
    #[error("copies of the same fact disagree: {0}")]
    Disagree(String),
}

/// One entry's identity.
#[derive(Debug, Clone)]
pub struct EntryInfo<'a> {
    pub full_url: &'a str,
    pub resource: &'a Value,
    /// `Type/id`.
    pub key: String,
}

/// The base a full URL's relative references resolve against (`None` for `urn:`).
fn base_of(full_url: &str, key: &str) -> Option<String> {
    full_url.strip_suffix(key).map(|b| b.trim_end_matches('/').to_string()).filter(|b| b.contains("://"))
}

/// Where `reference` (found in the entry at `full_url` whose `Type/id` is `key`) points.
pub fn resolve(reference: &str, full_url: &str, key: &str) -> Option<String> {
    let reference = reference.trim();
    if reference.contains("://") || reference.starts_with("urn:") {
        return Some(reference.to_string());
    }
    base_of(full_url, key).map(|base| format!("{base}/{reference}"))
}

/// Lists the entries after checking their full URLs, ids and uniqueness.
pub fn entries(bundle: &Value) -> Result<Vec<EntryInfo<'_>>, BundleError> {
    let list = bundle
        .get("entry")
        .and_then(Value::as_array)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| BundleError::Malformed("it has no entries".into()))?;
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let full_url = entry
            .get("fullUrl")
            .and_then(Value::as_str)
            .ok_or_else(|| BundleError::Malformed(format!("entry {i} has no fullUrl")))?;
        let resource =
            entry.get("resource").ok_or_else(|| BundleError::Malformed(format!("entry {i} has no resource")))?;
        let rtype = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
        let id = resource.get("id").and_then(Value::as_str).unwrap_or_default();
        if rtype.is_empty() || id.is_empty() {
            return Err(BundleError::Malformed(format!("entry {i} has no resourceType or id")));
        }
        let key = format!("{rtype}/{id}");
        let restful = full_url.ends_with(&format!("/{key}")) && full_url.contains("://");
        let uuid = full_url.strip_prefix("urn:uuid:").is_some_and(|u| u == id);
        if !(restful || uuid) {
            return Err(BundleError::Malformed(format!("entry {i}'s fullUrl {full_url} does not name {key}")));
        }
        if !seen.insert(full_url) {
            return Err(BundleError::Malformed(format!("fullUrl {full_url} appears twice")));
        }
        out.push(EntryInfo { full_url, resource, key });
    }
    if out[0].resource.get("resourceType").and_then(Value::as_str) != Some("MessageHeader") {
        return Err(BundleError::Malformed("the first entry is not a MessageHeader".into()));
    }
    Ok(out)
}

/// Every `reference` in `v`, with the ids of `v`'s contained resources.
fn references<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                match (k.as_str(), child) {
                    ("reference", Value::String(r)) => out.push(r),
                    _ => references(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| references(i, out)),
        _ => {}
    }
}

/// Checks that every reference of every entry resolves inside the bundle or under one of
/// `external_bases` (servers the receiver can read: the EHR itself). A reference under a base
/// that is not external (ours) must be in the bundle.
pub fn check_references(entries: &[EntryInfo], external_bases: &[&str]) -> Result<(), BundleError> {
    let urls: HashSet<&str> = entries.iter().map(|e| e.full_url).collect();
    let external = |target: &str| {
        external_bases.iter().any(|b| {
            let b = b.trim_end_matches('/');
            target.strip_prefix(b).is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
        })
    };
    for e in entries {
        let contained: HashSet<&str> = e
            .resource
            .get("contained")
            .and_then(Value::as_array)
            .map(|c| c.iter().filter_map(|r| r.get("id").and_then(Value::as_str)).collect())
            .unwrap_or_default();
        let mut refs = Vec::new();
        references(e.resource, &mut refs);
        for r in refs {
            if let Some(local) = r.strip_prefix('#') {
                if local.is_empty() || contained.contains(local) {
                    continue;
                }
                return Err(BundleError::Unresolved { from: e.key.clone(), reference: r.to_string() });
            }
            let target = resolve(r, e.full_url, &e.key);
            let ok = target.as_deref().is_some_and(|t| urls.contains(t) || external(t));
            if !ok {
                return Err(BundleError::Unresolved { from: e.key.clone(), reference: r.to_string() });
            }
        }
    }
    Ok(())
}

/// The entry a reference (found in `from`) points at, if it is in the bundle.
pub fn target<'a>(entries: &'a [EntryInfo<'a>], from: &EntryInfo, reference: &Value) -> Option<&'a EntryInfo<'a>> {
    let r = reference.get("reference")?.as_str()?;
    let t = resolve(r, from.full_url, &from.key)?;
    entries.iter().find(|e| e.full_url == t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bundle(entries: Value) -> Value {
        json!({"resourceType": "Bundle", "type": "message", "entry": entries})
    }

    #[test]
    fn relative_references_resolve_against_their_entry_base() {
        assert_eq!(
            resolve("Patient/p1", "https://a.example/fhir/ServiceRequest/s1", "ServiceRequest/s1").as_deref(),
            Some("https://a.example/fhir/Patient/p1")
        );
        assert_eq!(resolve("https://x/Patient/1", "urn:uuid:1", "Patient/1").as_deref(), Some("https://x/Patient/1"));
        assert_eq!(resolve("Patient/1", "urn:uuid:abc", "MessageHeader/abc"), None);
    }

    #[test]
    fn resolving_bundle_passes_and_dangling_reference_fails() {
        let b = bundle(json!([
            {"fullUrl": "https://us/fhir/MessageHeader/h", "resource": {"resourceType": "MessageHeader", "id": "h", "focus": [{"reference": "ServiceRequest/s"}]}},
            {"fullUrl": "https://us/fhir/ServiceRequest/s", "resource": {"resourceType": "ServiceRequest", "id": "s",
                "subject": {"reference": "https://ehr/fhir/Patient/p"},
                "encounter": {"reference": "https://ehr/fhir/Encounter/e"},
                "contained": [{"resourceType": "RelatedPerson", "id": "rp"}],
                "performer": [{"reference": "#rp"}]}},
            {"fullUrl": "https://ehr/fhir/Patient/p", "resource": {"resourceType": "Patient", "id": "p",
                "managingOrganization": {"reference": "Organization/o"}}}
        ]));
        let e = entries(&b).unwrap();
        check_references(&e, &["https://ehr/fhir"]).unwrap();
        assert!(check_references(&e, &[]).is_err(), "the encounter is not in the bundle");

        let dangling = bundle(json!([
            {"fullUrl": "https://us/fhir/MessageHeader/h", "resource": {"resourceType": "MessageHeader", "id": "h", "focus": [{"reference": "ServiceRequest/other"}]}}
        ]));
        let err = check_references(&entries(&dangling).unwrap(), &["https://ehr/fhir"]).unwrap_err();
        assert!(matches!(err, BundleError::Unresolved { .. }), "{err}");
        let bad_contained = bundle(json!([
            {"fullUrl": "https://us/fhir/MessageHeader/h", "resource": {"resourceType": "MessageHeader", "id": "h", "author": {"reference": "#nope"}}}
        ]));
        assert!(check_references(&entries(&bad_contained).unwrap(), &[]).is_err());
    }

    #[test]
    fn full_urls_must_name_their_resource_once_and_start_with_a_header() {
        let wrong = bundle(
            json!([{"fullUrl": "https://us/fhir/MessageHeader/x", "resource": {"resourceType": "MessageHeader", "id": "h"}}]),
        );
        assert!(entries(&wrong).is_err());
        let twice = bundle(json!([
            {"fullUrl": "https://us/fhir/MessageHeader/h", "resource": {"resourceType": "MessageHeader", "id": "h"}},
            {"fullUrl": "https://us/fhir/MessageHeader/h", "resource": {"resourceType": "MessageHeader", "id": "h"}}
        ]));
        assert!(entries(&twice).unwrap_err().to_string().contains("twice"));
        let headless = bundle(json!([{"fullUrl": "urn:uuid:p", "resource": {"resourceType": "Patient", "id": "p"}}]));
        assert!(entries(&headless).unwrap_err().to_string().contains("MessageHeader"));
        assert!(entries(&bundle(json!([]))).is_err());
    }
}
