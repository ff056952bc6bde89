//! Is what the EHR returned what we asked for? The Patient read must be the launch's patient, the
//! user's Practitioner (or PractitionerRole) the one `fhirUser` names, and the draft ServiceRequest
//! and the Encounter must be about the launched patient. Pure: callers decide what a mismatch
//! stops, and log it as a safety event (ids only).

use super::reference::parse_reference;
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// We read `{resource_type}/{expected}` and got another resource.
    #[error("asked for {resource_type}/{expected}, the EHR returned {found_type}/{found}")]
    OtherResource { resource_type: &'static str, expected: String, found_type: String, found: String },
    /// A resource that must be about the launched patient names someone else (or no one).
    #[error("{resource_type}.subject is {found:?}, not Patient/{expected}")]
    OtherSubject { resource_type: &'static str, expected: String, found: Option<String> },
}

/// A resource's id and type, shown in a safety log: ids only, cut short.
fn short(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or("none").chars().take(64).collect()
}

/// `resource` is `{resource_type}/{id}`.
pub fn is_resource(resource: &Value, resource_type: &'static str, id: &str) -> Result<(), Mismatch> {
    let found_type = resource.get("resourceType").and_then(Value::as_str);
    let found_id = resource.get("id").and_then(Value::as_str);
    if found_type == Some(resource_type) && found_id == Some(id) {
        Ok(())
    } else {
        Err(Mismatch::OtherResource {
            resource_type,
            expected: id.to_string(),
            found_type: short(resource.get("resourceType")),
            found: short(resource.get("id")),
        })
    }
}

/// `resource.subject` is the launched patient (`Patient/{id}`, relative or absolute on the EHR).
pub fn subject_is(
    resource: &Value,
    resource_type: &'static str,
    patient_id: &str,
    ehr_base: &Url,
) -> Result<(), Mismatch> {
    let reference = resource.pointer("/subject/reference").and_then(Value::as_str);
    let ok = reference
        .and_then(|r| parse_reference(r, ehr_base))
        .is_some_and(|r| r.resource_type == "Patient" && r.id == patient_id);
    if ok {
        Ok(())
    } else {
        Err(Mismatch::OtherSubject {
            resource_type,
            expected: patient_id.to_string(),
            found: reference.map(|r| r.chars().take(200).collect()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Url {
        Url::parse("https://ehr.example.org/fhir").unwrap()
    }

    #[test]
    fn the_resource_read_must_be_the_one_asked_for() {
        let p = json!({"resourceType": "Patient", "id": "pat-1"});
        assert!(is_resource(&p, "Patient", "pat-1").is_ok());
        let err = is_resource(&p, "Patient", "pat-2").unwrap_err();
        assert_eq!(
            err,
            Mismatch::OtherResource {
                resource_type: "Patient",
                expected: "pat-2".into(),
                found_type: "Patient".into(),
                found: "pat-1".into()
            }
        );
        assert!(is_resource(&json!({"resourceType": "Patient"}), "Patient", "pat-1").is_err(), "no id");
        assert!(is_resource(&json!({"resourceType": "Practitioner", "id": "pat-1"}), "Patient", "pat-1").is_err());
        assert!(is_resource(&json!({"resourceType": "Patient", "id": 7}), "Patient", "7").is_err());
    }

    #[test]
    fn subjects_must_be_the_launched_patient() {
        let sr = |r: &str| json!({"resourceType": "ServiceRequest", "subject": {"reference": r}});
        assert!(subject_is(&sr("Patient/pat-1"), "ServiceRequest", "pat-1", &base()).is_ok());
        assert!(
            subject_is(&sr("https://ehr.example.org/fhir/Patient/pat-1"), "ServiceRequest", "pat-1", &base()).is_ok()
        );
        for other in
            ["Patient/pat-2", "Group/pat-1", "https://other.example/fhir/Patient/pat-1", "Patient/pat-1/extra", "pat-1"]
        {
            assert!(subject_is(&sr(other), "ServiceRequest", "pat-1", &base()).is_err(), "{other}");
        }
        let none = subject_is(&json!({"resourceType": "Encounter"}), "Encounter", "pat-1", &base()).unwrap_err();
        assert_eq!(none, Mismatch::OtherSubject { resource_type: "Encounter", expected: "pat-1".into(), found: None });
    }
}
