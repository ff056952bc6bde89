//! FHIR resources read from an EHR (Patient, Practitioner, PractitionerRole, the draft
//! ServiceRequest of the launch's fhirContext, the CapabilityStatement and
//! .well-known/smart-configuration): everything we compute from them for display, prefill and
//! the referral's parties. Input: any JSON (non-JSON is skipped).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use server::directory::Directory;
use server::fhir::display::{human_name, patient_banner, preferred_name};
use server::fhir::identity::{is_resource, subject_is};
use server::referral::fhir_build::{party_from_reference, party_from_user};
use server::referral::prefill::{draft_requester, initial_form, is_delegate};
use server::smart::discovery::{endpoint_allowed, from_capability_statement, SmartConfiguration};
use std::sync::OnceLock;

fn directory() -> &'static Directory {
    static D: OnceLock<Directory> = OnceLock::new();
    D.get_or_init(Directory::builtin)
}

fn delegate_codes() -> &'static [String] {
    static C: OnceLock<Vec<String>> = OnceLock::new();
    C.get_or_init(|| server::config::DEFAULT_DELEGATE_ROLE_CODES.iter().map(|c| c.to_string()).collect())
}

fn ehr_base() -> &'static url::Url {
    static B: OnceLock<url::Url> = OnceLock::new();
    B.get_or_init(|| url::Url::parse("http://127.0.0.1:3100/fhir").unwrap())
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else { return };

    // As a Patient.
    let banner = patient_banner(&v);
    assert!(!banner.name.is_empty());
    let _ = preferred_name(&v);
    let _ = human_name(&v);
    if let Some(names) = v.get("name").and_then(Value::as_array) {
        for n in names {
            let _ = human_name(n);
        }
    }

    // As the launch's draft ServiceRequest and the user's PractitionerRole.
    let delegate = is_delegate(Some(&v), delegate_codes());
    let _ = draft_requester(Some(&v));
    let form = initial_form(Some(&v), directory(), delegate);
    let _ = initial_form(Some(&v), directory(), !delegate);
    if !form.service_id.is_empty() {
        assert!(directory().get(&form.service_id).is_some());
        assert!(directory().offering(&form.service_id, &form.code).is_some(), "{form:?}");
    }
    for field in app::referral::form::FIELDS {
        let value = form.get(field).unwrap();
        assert!(value.chars().count() <= app::referral::form::MAX_FIELD_CHARS);
    }

    // As a Practitioner (with and without itself as the role) and as a Reference.
    let user = party_from_user(&v, None);
    let _ = user.to_reference();
    let as_role = party_from_user(&v, Some(&v));
    let _ = as_role.same_as(&user);
    if let Some(r) = v.get("requester") {
        if let Some(p) = party_from_reference(r) {
            let _ = p.to_reference();
        }
    }
    if let Some(p) = party_from_reference(&v) {
        let _ = p.to_reference();
        let _ = p.same_as(&user);
    }

    // Is it what the launch asked for (`fhir::identity`)?
    let base = ehr_base();
    let _ = is_resource(&v, "Patient", "pat-1");
    if let Some(id) = v.get("id").and_then(Value::as_str) {
        if let Some(t) = v.get("resourceType").and_then(Value::as_str) {
            if t == "Practitioner" {
                assert!(is_resource(&v, "Practitioner", id).is_ok());
            }
        }
    }
    if subject_is(&v, "ServiceRequest", "pat-1", base).is_ok() {
        let r = v.pointer("/subject/reference").and_then(Value::as_str).expect("a subject");
        assert!(server::fhir::reference::parse_reference(r, base).is_some());
    }

    // As a CapabilityStatement and as .well-known/smart-configuration.
    if let Some(c) = from_capability_statement(&v) {
        let _ = endpoint_allowed(&c.authorization_endpoint);
        let _ = endpoint_allowed(&c.token_endpoint);
    }
    if let Ok(c) = serde_json::from_value::<SmartConfiguration>(v) {
        let _ = endpoint_allowed(&c.authorization_endpoint);
        let _ = endpoint_allowed(&c.token_endpoint);
        if let Some(j) = &c.jwks_uri {
            let _ = endpoint_allowed(j);
        }
    }
    // The bytes as served (serde_json::from_slice is what DiscoveryCache does after get_json).
    let _ = serde_json::from_slice::<SmartConfiguration>(data);
});
