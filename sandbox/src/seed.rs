//! Seed data: the EHR's patients, practitioners, roles, encounters and the prepared draft
//! ServiceRequest, from `data/seed.json` (a FHIR collection Bundle).

use serde_json::Value;

use crate::error::SandboxError;

const SEED_JSON: &str = include_str!("../data/seed.json");

/// All FHIR resources the EHR owns, in file order.
#[derive(Debug, Clone)]
pub struct Seed {
    resources: Vec<Value>,
}

impl Seed {
    /// The built-in seed data.
    pub fn builtin() -> Result<Self, SandboxError> {
        Self::from_json(SEED_JSON)
    }

    pub fn from_json(json: &str) -> Result<Self, SandboxError> {
        let bundle: Value = serde_json::from_str(json)?;
        let resources: Vec<Value> = bundle
            .get("entry")
            .and_then(Value::as_array)
            .map(|entries| entries.iter().filter_map(|e| e.get("resource").cloned()).collect())
            .unwrap_or_default();
        for r in &resources {
            if r.get("resourceType").and_then(Value::as_str).is_none() || r.get("id").and_then(Value::as_str).is_none()
            {
                return Err(SandboxError::Config("every seed resource needs resourceType and id".into()));
            }
        }
        Ok(Seed { resources })
    }

    pub fn get(&self, resource_type: &str, id: &str) -> Option<&Value> {
        self.resources.iter().find(|r| {
            r.get("resourceType").and_then(Value::as_str) == Some(resource_type)
                && r.get("id").and_then(Value::as_str) == Some(id)
        })
    }

    /// Resolve a relative reference such as `Patient/pat-1`.
    pub fn resolve(&self, reference: &str) -> Option<&Value> {
        let (t, id) = reference.split_once('/')?;
        self.get(t, id)
    }

    pub fn all_of<'a>(&'a self, resource_type: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.resources.iter().filter(move |r| r.get("resourceType").and_then(Value::as_str) == Some(resource_type))
    }

    pub fn first_id(&self, resource_type: &str) -> Option<String> {
        self.all_of(resource_type).next().and_then(id_of)
    }

    /// The first encounter whose subject is `Patient/{patient_id}`.
    pub fn encounter_for(&self, patient_id: &str) -> Option<String> {
        let subject = format!("Patient/{patient_id}");
        self.all_of("Encounter").find(|e| subject_of(e).as_deref() == Some(subject.as_str())).and_then(id_of)
    }

    /// The first draft ServiceRequest for `Patient/{patient_id}`.
    pub fn draft_for(&self, patient_id: &str) -> Option<String> {
        let subject = format!("Patient/{patient_id}");
        self.all_of("ServiceRequest")
            .find(|s| {
                subject_of(s).as_deref() == Some(subject.as_str())
                    && s.get("status").and_then(Value::as_str) == Some("draft")
            })
            .and_then(id_of)
    }
}

pub fn id_of(r: &Value) -> Option<String> {
    r.get("id").and_then(Value::as_str).map(str::to_string)
}

/// `subject.reference` (or `patient.reference`) of a resource.
pub fn subject_of(r: &Value) -> Option<String> {
    ["subject", "patient", "for"].iter().find_map(|k| r.get(*k)?.get("reference")?.as_str()).map(str::to_string)
}

/// A person's display name: `name[].text`, else given + family of the official (or first) name.
pub fn display_name(r: &Value) -> Option<String> {
    let names = r.get("name")?.as_array()?;
    let name =
        names.iter().find(|n| n.get("use").and_then(Value::as_str) == Some("official")).or_else(|| names.first())?;
    if let Some(text) = name.get("text").and_then(Value::as_str) {
        return Some(text.to_string());
    }
    let mut parts: Vec<&str> = Vec::new();
    if let Some(prefix) = name.get("prefix").and_then(Value::as_array) {
        parts.extend(prefix.iter().filter_map(Value::as_str));
    }
    if let Some(given) = name.get("given").and_then(Value::as_array) {
        parts.extend(given.iter().filter_map(Value::as_str));
    }
    if let Some(family) = name.get("family").and_then(Value::as_str) {
        parts.push(family);
    }
    if let Some(suffix) = name.get("suffix").and_then(Value::as_array) {
        parts.extend(suffix.iter().filter_map(Value::as_str));
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_seed_has_the_expected_variety() {
        let seed = Seed::builtin().unwrap();
        assert!(seed.all_of("Patient").count() >= 5);
        assert_eq!(seed.all_of("Practitioner").count(), 3);
        assert_eq!(seed.all_of("PractitionerRole").count(), 3);
        assert_eq!(seed.first_id("Patient").as_deref(), Some("pat-1"));
        assert_eq!(seed.draft_for("pat-1").as_deref(), Some("draft-1"));
        assert_eq!(seed.encounter_for("pat-1").as_deref(), Some("enc-1"));
        assert!(seed.all_of("Patient").any(|p| p.get("gender").and_then(Value::as_str) == Some("unknown")));
        let zoe = seed.get("Patient", "pat-2").unwrap();
        assert_eq!(display_name(zoe).as_deref(), Some("Zoë Ndiaye-Côté"));
        assert_eq!(display_name(seed.get("Patient", "pat-3").unwrap()).as_deref(), Some("Łukasz Wójcik"));
    }
}
