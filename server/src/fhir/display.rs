//! Pure mapping from FHIR resources (as JSON) to what the clinician sees.

use app::api::PatientBanner;
use serde_json::Value;

const HEALTH_CARD_SYSTEMS: [&str; 2] = ["ca-on-patient-hcn", "health-card"];

/// A HumanName as one line, preferring `text`, then given + family.
pub fn human_name(name: &Value) -> Option<String> {
    if let Some(text) = name.get("text").and_then(Value::as_str).filter(|t| !t.trim().is_empty()) {
        return Some(text.trim().to_string());
    }
    let mut parts: Vec<&str> = Vec::new();
    if let Some(given) = name.get("given").and_then(Value::as_array) {
        parts.extend(given.iter().filter_map(Value::as_str));
    }
    if let Some(family) = name.get("family").and_then(Value::as_str) {
        parts.push(family);
    }
    let joined = parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ");
    (!joined.is_empty()).then_some(joined)
}

/// The name to show: `official`, then `usual`, then any without an end date, then the first.
pub fn preferred_name(resource: &Value) -> Option<String> {
    let names = resource.get("name")?.as_array()?;
    let by_use = |u: &str| names.iter().find(|n| n.get("use").and_then(Value::as_str) == Some(u));
    let current = names.iter().find(|n| {
        n.pointer("/period/end").is_none() && !matches!(n.get("use").and_then(Value::as_str), Some("old" | "maiden"))
    });
    [by_use("official"), by_use("usual"), current, names.first()].into_iter().flatten().find_map(human_name)
}

fn gender_words(code: Option<&str>) -> String {
    match code {
        Some("male") => "Male",
        Some("female") => "Female",
        Some("other") => "Other",
        Some("unknown") => "Unknown",
        _ => "Not recorded",
    }
    .to_string()
}

fn identifier_label(identifier: &Value) -> String {
    let system = identifier.get("system").and_then(Value::as_str).unwrap_or_default();
    if HEALTH_CARD_SYSTEMS.iter().any(|s| system.contains(s)) {
        return "Health card".into();
    }
    identifier
        .pointer("/type/text")
        .and_then(Value::as_str)
        .or_else(|| identifier.pointer("/type/coding/0/display").and_then(Value::as_str))
        .or_else(|| identifier.pointer("/type/coding/0/code").and_then(Value::as_str))
        .map(str::to_string)
        .unwrap_or_else(|| "Identifier".into())
}

/// The banner for a Patient: the health card number is the main identifier when present.
pub fn patient_banner(patient: &Value) -> PatientBanner {
    let identifiers: Vec<(String, String)> = patient
        .get("identifier")
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter(|i| i.pointer("/period/end").is_none())
                .filter_map(|i| Some((identifier_label(i), i.get("value")?.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let main = identifiers.iter().position(|(label, _)| label == "Health card").or(if identifiers.is_empty() {
        None
    } else {
        Some(0)
    });
    let mut others = identifiers.clone();
    let identifier = main.map(|i| others.remove(i));
    PatientBanner {
        name: preferred_name(patient).unwrap_or_else(|| "Name not recorded".into()),
        birth_date: patient.get("birthDate").and_then(Value::as_str).map(str::to_string),
        gender: gender_words(patient.get("gender").and_then(Value::as_str)),
        identifier,
        other_identifiers: others,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn banner_prefers_official_name_and_health_card() {
        let p = json!({
            "resourceType": "Patient",
            "name": [
                {"use": "maiden", "family": "Old", "given": ["Zoë"]},
                {"use": "usual", "given": ["Zo"], "family": "Ndiaye-Côté"},
                {"use": "official", "given": ["Zoë", "A."], "family": "Ndiaye-Côté"}
            ],
            "gender": "unknown",
            "birthDate": "1987-02-03",
            "identifier": [
                {"system": "urn:oid:mrn", "type": {"text": "MRN"}, "value": "MRN-1"},
                {"system": "https://fhir.infoway-inforoute.ca/NamingSystem/ca-on-patient-hcn", "value": "1234567890"}
            ]
        });
        let b = patient_banner(&p);
        assert_eq!(b.name, "Zoë A. Ndiaye-Côté");
        assert_eq!(b.gender, "Unknown");
        assert_eq!(b.birth_date.as_deref(), Some("1987-02-03"));
        assert_eq!(b.identifier, Some(("Health card".into(), "1234567890".into())));
        assert_eq!(b.other_identifiers, vec![("MRN".into(), "MRN-1".into())]);
    }

    #[test]
    fn banner_survives_missing_fields() {
        let b = patient_banner(&json!({"resourceType": "Patient"}));
        assert_eq!(b.name, "Name not recorded");
        assert_eq!(b.gender, "Not recorded");
        assert!(b.birth_date.is_none() && b.identifier.is_none());
        let text = json!({"name": [{"text": "  Łukasz Wójcik "}]});
        assert_eq!(preferred_name(&text).as_deref(), Some("Łukasz Wójcik"));
    }
}
