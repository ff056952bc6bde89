//! Literal references as an EHR's launch context and resources give them
//! (`Practitioner/123`, `https://ehr.example.org/fhir/Practitioner/123`), and the URLs we build
//! from ids we were given.
//!
//! Found: `is_fhir_id` accepted the ids `.` and `..` (the FHIR id regex allows them), and `url`
//! drops such path segments, so `resource_url(base, "Patient", "..")` was `{base}/Patient` (the
//! search endpoint, not a resource); fixed by refusing both ids. Reproducers:
//! fuzz/regressions/fhir_reference/.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::fhir::client::{is_fhir_id, resource_url};
use server::fhir::reference::{absolute, normalise, parse_reference};
use std::sync::OnceLock;
use url::Url;

fn bases() -> &'static [Url] {
    static BASES: OnceLock<Vec<Url>> = OnceLock::new();
    BASES.get_or_init(|| {
        [
            "https://ehr.example.org/fhir",
            "https://ehr.example.org/fhir/",
            "http://127.0.0.1:3100/fhir",
            "https://ehr.example.org",
            "https://[::1]:8443/r4/fhir?x=1",
        ]
        .iter()
        .map(|b| Url::parse(b).unwrap())
        .collect()
    })
}

/// `resource_url`'s promise: `{base}/{Type}/{id}` on the same server, "no path tricks".
fn check_names_resource(url: &Url, base: &Url, resource_type: &str, id: &str) {
    assert_eq!(url.origin(), base.origin());
    let want = format!("/{resource_type}/{id}");
    assert!(
        url.path().ends_with(&want),
        "resource_url({base}, {resource_type:?}, {id:?}) = {url}, which does not end in {want}"
    );
    assert!(url.path().starts_with(base.path().trim_end_matches('/')), "{url} left {base}");
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    for base in bases() {
        if let Some(r) = parse_reference(s, base) {
            assert!(!r.resource_type.is_empty());
            assert!(is_fhir_id(&r.id), "parse_reference gave a non-id {:?}", r.id);
            // What we read next: {base}/{Type}/{id} must stay under base.
            let url = resource_url(base, &r.resource_type, &r.id).expect("an id is always usable");
            check_names_resource(&url, base, &r.resource_type, &r.id);
        }
        if let Some(url) = resource_url(base, "Patient", s) {
            assert!(is_fhir_id(s));
            check_names_resource(&url, base, "Patient", s);
        }
    }
    // As a launch context or token answer reference (`patient`, `encounter`, `fhirContext`).
    for base in bases() {
        for default_type in ["Encounter", "Patient"] {
            if let Some(n) = normalise(s, base, default_type) {
                assert!(n.starts_with(base.as_str().trim_end_matches('/')), "{n} is not under {base}");
                // Stored references read back as themselves (bases with a query are not issuers:
                // `normalize_issuer` refuses them).
                let id = n.rsplit('/').next().unwrap_or_default();
                assert!(is_fhir_id(id), "normalise({s:?}) = {n}, whose id is not a FHIR id");
                if base.query().is_none() {
                    let again = normalise(&n, base, default_type);
                    assert_eq!(
                        again.as_deref(),
                        Some(n.as_str()),
                        "normalise({s:?}) = {n}, which normalises to {again:?}"
                    );
                }
            }
        }
    }
    // Also as `Type` and `id` split at the first '/'.
    if let Some((t, id)) = s.split_once('/') {
        let _ = resource_url(&bases()[0], t, id);
        let _ = absolute(&bases()[0], t, id);
    }
});
