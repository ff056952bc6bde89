//! FHIR references as the launch context gives them: relative (`Practitioner/123`) or absolute
//! (`https://ehr.example.org/fhir/Practitioner/123`).

use super::client::is_fhir_id;
use url::Url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub resource_type: String,
    pub id: String,
}

/// Parses a literal reference, accepting an absolute URL only when it lies under `base`.
pub fn parse_reference(reference: &str, base: &Url) -> Option<Reference> {
    let relative = if reference.starts_with("http://") || reference.starts_with("https://") {
        let url = Url::parse(reference).ok()?;
        let base_str = base.as_str().trim_end_matches('/');
        let url_str = url.as_str();
        let rest = url_str.strip_prefix(base_str)?.strip_prefix('/')?;
        if url.query().is_some() || url.fragment().is_some() {
            return None;
        }
        rest.to_string()
    } else {
        reference.to_string()
    };
    let mut parts = relative.split('/');
    let (resource_type, id) = (parts.next()?, parts.next()?);
    // `Type/id/_history/v` is allowed; anything else after the id is not.
    match (parts.next(), parts.next(), parts.next()) {
        (None, None, None) | (Some("_history"), Some(_), None) => {}
        _ => return None,
    }
    if resource_type.is_empty() || !resource_type.bytes().all(|b| b.is_ascii_alphabetic()) || !is_fhir_id(id) {
        return None;
    }
    Some(Reference { resource_type: resource_type.to_string(), id: id.to_string() })
}

/// `{base}/{Type}/{id}`: how we store and send every reference to a resource on an EHR.
pub fn absolute(base: &Url, resource_type: &str, id: &str) -> String {
    format!("{}/{resource_type}/{id}", base.as_str().trim_end_matches('/'))
}

/// `reference` (relative, absolute under `base`, or a bare id of `default_type`) as
/// `{base}/{Type}/{id}`; `None` when it names nothing on this EHR.
pub fn normalise(reference: &str, base: &Url, default_type: &str) -> Option<String> {
    let r = if is_fhir_id(reference) {
        Reference { resource_type: default_type.to_string(), id: reference.to_string() }
    } else {
        parse_reference(reference, base)?
    };
    Some(absolute(base, &r.resource_type, &r.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://ehr.example.org/fhir").unwrap()
    }

    #[test]
    fn relative_and_absolute_references() {
        let r = parse_reference("Practitioner/abc", &base()).unwrap();
        assert_eq!((r.resource_type.as_str(), r.id.as_str()), ("Practitioner", "abc"));
        let r = parse_reference("https://ehr.example.org/fhir/PractitionerRole/r1", &base()).unwrap();
        assert_eq!((r.resource_type.as_str(), r.id.as_str()), ("PractitionerRole", "r1"));
        assert!(parse_reference("Patient/1/_history/2", &base()).is_some());
    }

    #[test]
    fn references_normalise_to_type_and_id_on_the_ehr() {
        let b = Url::parse("https://ehr.example.org/fhir/").unwrap();
        assert_eq!(
            normalise("enc-1", &b, "Encounter").as_deref(),
            Some("https://ehr.example.org/fhir/Encounter/enc-1")
        );
        assert_eq!(
            normalise("Encounter/e", &b, "Encounter").as_deref(),
            Some("https://ehr.example.org/fhir/Encounter/e")
        );
        assert_eq!(
            normalise("https://ehr.example.org/fhir/Encounter/e", &b, "Encounter").as_deref(),
            Some("https://ehr.example.org/fhir/Encounter/e")
        );
        assert_eq!(normalise("https://evil.example/fhir/Encounter/e", &b, "Encounter"), None);
        assert_eq!(normalise("a/b/c", &b, "Encounter"), None);
    }

    #[test]
    fn foreign_or_malformed_references_are_refused() {
        for bad in [
            "https://evil.example.org/fhir/Practitioner/1",
            "https://ehr.example.org/fhirx/Practitioner/1",
            "Practitioner",
            "Practitioner/",
            "Practitioner/a/b",
            "Pract1tioner/a",
            "Practitioner/../../x",
            "https://ehr.example.org/fhir/Practitioner/1?x=1",
        ] {
            assert!(parse_reference(bad, &base()).is_none(), "{bad}");
        }
    }
}
