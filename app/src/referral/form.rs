//! What the clinician types, kept exactly as typed (strings) so nothing is ever lost to a parse
//! error: validation reads it, the draft stores it, the FHIR builders map it once it is valid.

use serde::{Deserialize, Serialize};

/// The referral form: every field of every step. Posted as `application/x-www-form-urlencoded`
/// (plain HTML forms) or JSON (autosave); absent fields keep their defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReferralForm {
    /// The target HealthcareService's id in the directory.
    pub service_id: String,
    /// The requested code under that service, as `system|code`.
    pub code: String,
    pub reason: String,
    /// `routine | urgent | asap | stat`; empty means routine.
    pub priority: String,
    pub notes: String,
    /// `permit | deny`.
    pub consent_decision: String,
    /// `patient | related`.
    pub consent_by: String,
    pub consent_related_name: String,
    /// A v3 RoleCode from [`RELATIONSHIPS`].
    pub consent_related_relationship: String,
    /// `YYYY-MM-DD`.
    pub consent_date: String,
    /// A code from [`ROUTING_OPTIONS`]; empty means the service's central intake.
    pub routing: String,
    /// The provider or site asked for when `routing` is `specific-provider`.
    pub routing_note: String,
    /// A code from [`PATIENT_LOCATIONS`]; empty means not given.
    pub patient_location: String,
    /// `self` (the launched user authorizes), `draft` (the requester on the EHR's draft) or `other`.
    pub authorizer: String,
    pub authorizer_name: String,
    /// The authorizing clinician's licence or registration number (optional).
    pub authorizer_licence: String,
}

/// Every form field's name, as used in HTML `name` attributes, the JSON draft and error keys.
pub const FIELDS: &[&str] = &[
    "service_id",
    "code",
    "reason",
    "priority",
    "notes",
    "consent_decision",
    "consent_by",
    "consent_related_name",
    "consent_related_relationship",
    "consent_date",
    "routing",
    "routing_note",
    "patient_location",
    "authorizer",
    "authorizer_name",
    "authorizer_licence",
];

impl ReferralForm {
    pub fn get(&self, field: &str) -> Option<&str> {
        Some(match field {
            "service_id" => &self.service_id,
            "code" => &self.code,
            "reason" => &self.reason,
            "priority" => &self.priority,
            "notes" => &self.notes,
            "consent_decision" => &self.consent_decision,
            "consent_by" => &self.consent_by,
            "consent_related_name" => &self.consent_related_name,
            "consent_related_relationship" => &self.consent_related_relationship,
            "consent_date" => &self.consent_date,
            "routing" => &self.routing,
            "routing_note" => &self.routing_note,
            "patient_location" => &self.patient_location,
            "authorizer" => &self.authorizer,
            "authorizer_name" => &self.authorizer_name,
            "authorizer_licence" => &self.authorizer_licence,
            _ => return None,
        })
    }

    /// Sets `field` (unknown names are ignored). Values are capped at [`MAX_FIELD_CHARS`] and
    /// stripped of control characters other than line breaks and tabs.
    pub fn set(&mut self, field: &str, value: &str) -> bool {
        let slot = match field {
            "service_id" => &mut self.service_id,
            "code" => &mut self.code,
            "reason" => &mut self.reason,
            "priority" => &mut self.priority,
            "notes" => &mut self.notes,
            "consent_decision" => &mut self.consent_decision,
            "consent_by" => &mut self.consent_by,
            "consent_related_name" => &mut self.consent_related_name,
            "consent_related_relationship" => &mut self.consent_related_relationship,
            "consent_date" => &mut self.consent_date,
            "routing" => &mut self.routing,
            "routing_note" => &mut self.routing_note,
            "patient_location" => &mut self.patient_location,
            "authorizer" => &mut self.authorizer,
            "authorizer_name" => &mut self.authorizer_name,
            "authorizer_licence" => &mut self.authorizer_licence,
            _ => return false,
        };
        *slot = clean(value);
        true
    }

    /// The service step's radio value `{service_id}::{system}|{code}` into both fields.
    pub fn set_pick(&mut self, pick: &str) {
        let (service, code) = pick.split_once("::").unwrap_or((pick, ""));
        self.set("service_id", service);
        self.set("code", code);
    }

    pub fn priority_or_default(&self) -> &str {
        if self.priority.is_empty() {
            "routine"
        } else {
            &self.priority
        }
    }
}

/// No single field may hold more than this (a generous clinical note); longer input is cut.
pub const MAX_FIELD_CHARS: usize = 20_000;

fn clean(value: &str) -> String {
    value.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')).take(MAX_FIELD_CHARS).collect()
}

/// `(code, label)` choices, in the order shown.
pub type Choices = &'static [(&'static str, &'static str)];

pub const PRIORITIES: Choices =
    &[("routine", "Routine"), ("urgent", "Urgent"), ("asap", "As soon as possible"), ("stat", "Immediately (stat)")];

/// Who gave consent when it is not the patient: HL7 v3 RoleCode.
pub const RELATIONSHIPS: Choices = &[
    ("GUARD", "Legal guardian"),
    ("POWATT", "Power of attorney"),
    ("SPS", "Spouse or partner"),
    ("PRN", "Parent"),
    ("CHILD", "Adult child"),
    ("SIB", "Sibling"),
    ("FAMMEMB", "Other family member"),
];

pub const ROUTING_OPTIONS: Choices = &[
    ("", "The service's central intake (default)"),
    ("first-available", "First available provider"),
    ("closest-to-patient", "Site closest to the patient"),
    ("specific-provider", "A specific provider or site"),
];

pub const PATIENT_LOCATIONS: Choices = &[
    ("", "Not stated"),
    ("home", "At home"),
    ("hospital-inpatient", "In hospital (inpatient)"),
    ("long-term-care", "In long-term care"),
    ("rehabilitation", "In a rehabilitation facility"),
    ("other", "Somewhere else"),
];

pub fn label_of(choices: Choices, code: &str) -> Option<&'static str> {
    choices.iter().find(|(c, _)| *c == code).map(|(_, l)| *l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_can_be_set_and_read() {
        let mut f = ReferralForm::default();
        for (i, name) in FIELDS.iter().enumerate() {
            assert!(f.set(name, &format!("v{i}")), "{name}");
        }
        for (i, name) in FIELDS.iter().enumerate() {
            assert_eq!(f.get(name), Some(format!("v{i}").as_str()));
        }
        assert!(!f.set("nope", "x"));
        assert_eq!(f.get("nope"), None);
    }

    #[test]
    fn control_characters_are_dropped_and_length_capped() {
        let mut f = ReferralForm::default();
        f.set("reason", "a\u{0}b\nc\td\u{7}");
        assert_eq!(f.reason, "ab\nc\td");
        f.set("notes", &"x".repeat(MAX_FIELD_CHARS + 10));
        assert_eq!(f.notes.chars().count(), MAX_FIELD_CHARS);
    }

    #[test]
    fn a_pick_names_service_and_code() {
        let mut f = ReferralForm::default();
        f.set_pick("svc-a::http://snomed.info/sct|123");
        assert_eq!((f.service_id.as_str(), f.code.as_str()), ("svc-a", "http://snomed.info/sct|123"));
        f.set_pick("svc-b");
        assert_eq!((f.service_id.as_str(), f.code.as_str()), ("svc-b", ""));
    }

    #[test]
    fn urlencoded_forms_fill_only_what_they_carry() {
        let f: ReferralForm = serde_json::from_str(r#"{"reason":"Knee pain","priority":"urgent"}"#).unwrap();
        assert_eq!(f.reason, "Knee pain");
        assert_eq!(f.priority_or_default(), "urgent");
        assert_eq!(ReferralForm::default().priority_or_default(), "routine");
    }
}
