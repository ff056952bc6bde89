//! Validation of the referral form, step by step, in plain words for the clinician. The server
//! runs it on every post (it decides); the browser runs the same code as the clinician types.

use super::{
    form::{label_of, ReferralForm, PATIENT_LOCATIONS, PRIORITIES, RELATIONSHIPS, ROUTING_OPTIONS},
    steps::Step,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// What validation needs to know beyond the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationContext {
    /// Today, `YYYY-MM-DD`, where the clinician is (consent cannot be dated in the future).
    pub today: String,
    /// The launched user is a delegate (e.g. a discharge planner): someone else must authorize.
    pub delegate: bool,
    /// The EHR's draft named a requester, offered as the authorizer.
    pub has_draft_requester: bool,
}

pub const MAX_REASON_CHARS: usize = 2_000;
pub const MAX_NOTES_CHARS: usize = 8_000;
pub const MAX_SHORT_CHARS: usize = 200;

/// The errors of one step (empty when valid).
pub fn validate_step(step: Step, f: &ReferralForm, ctx: &ValidationContext) -> Vec<FieldError> {
    let mut e = Vec::new();
    match step {
        Step::Service => {
            if f.service_id.trim().is_empty() {
                e.push(FieldError::new("service_id", "Choose the service you are referring to."));
            } else if f.code.trim().is_empty() {
                e.push(FieldError::new("code", "Choose what you are requesting from this service."));
            }
        }
        Step::Details => {
            let reason = f.reason.trim();
            if reason.is_empty() {
                e.push(FieldError::new("reason", "Enter the reason for referral."));
            } else if reason.chars().count() > MAX_REASON_CHARS {
                e.push(too_long("reason", "the reason", MAX_REASON_CHARS, reason));
            }
            if !f.priority.is_empty() && label_of(PRIORITIES, &f.priority).is_none() {
                e.push(FieldError::new(
                    "priority",
                    "Choose a priority: routine, urgent, as soon as possible, or immediately.",
                ));
            }
            if f.notes.trim().chars().count() > MAX_NOTES_CHARS {
                e.push(too_long("notes", "the clinical notes", MAX_NOTES_CHARS, f.notes.trim()));
            }
        }
        Step::Attachments | Step::Review => {}
        Step::Consent => {
            match f.consent_decision.as_str() {
                "permit" | "deny" => {}
                "" => {
                    e.push(FieldError::new("consent_decision", "Record whether the patient agrees to this referral."))
                }
                _ => e.push(FieldError::new("consent_decision", "Choose either “agrees” or “does not agree”.")),
            }
            match f.consent_by.as_str() {
                "patient" => {}
                "related" => {
                    if f.consent_related_name.trim().is_empty() {
                        e.push(FieldError::new(
                            "consent_related_name",
                            "Enter the name of the person who gave consent.",
                        ));
                    } else if f.consent_related_name.trim().chars().count() > MAX_SHORT_CHARS {
                        e.push(too_long("consent_related_name", "the name", MAX_SHORT_CHARS, &f.consent_related_name));
                    }
                    if label_of(RELATIONSHIPS, &f.consent_related_relationship).is_none() {
                        e.push(FieldError::new(
                            "consent_related_relationship",
                            "Choose how this person is related to the patient.",
                        ));
                    }
                }
                _ => e.push(FieldError::new("consent_by", "Record who gave consent: the patient or a related person.")),
            }
            match parse_date(f.consent_date.trim()) {
                None if f.consent_date.trim().is_empty() => {
                    e.push(FieldError::new("consent_date", "Enter the date consent was given."))
                }
                None => {
                    e.push(FieldError::new("consent_date", "Enter the date as year-month-day, for example 2026-03-14."))
                }
                Some(d) if parse_date(&ctx.today).is_some_and(|today| d > today) => {
                    e.push(FieldError::new("consent_date", "The consent date cannot be in the future."))
                }
                Some(_) => {}
            }
        }
        Step::Routing => {
            if label_of(ROUTING_OPTIONS, &f.routing).is_none() {
                e.push(FieldError::new("routing", "Choose one of the routing options."));
            } else if f.routing == "specific-provider" && f.routing_note.trim().is_empty() {
                e.push(FieldError::new("routing_note", "Name the provider or site you are asking for."));
            }
            if f.routing_note.trim().chars().count() > MAX_SHORT_CHARS {
                e.push(too_long("routing_note", "the provider or site", MAX_SHORT_CHARS, &f.routing_note));
            }
            if label_of(PATIENT_LOCATIONS, &f.patient_location).is_none() {
                e.push(FieldError::new("patient_location", "Choose where the patient is now."));
            }
            match f.authorizer.as_str() {
                "" | "self" if ctx.delegate => e.push(FieldError::new(
                    "authorizer",
                    "You are sending this on someone's behalf: choose the clinician who authorizes it.",
                )),
                "" | "self" => {}
                "draft" if ctx.has_draft_requester => {}
                "draft" => e.push(FieldError::new("authorizer", "Choose who authorizes this referral.")),
                "other" => {
                    if f.authorizer_name.trim().is_empty() {
                        e.push(FieldError::new("authorizer_name", "Enter the authorizing clinician's name."));
                    } else if f.authorizer_name.trim().chars().count() > MAX_SHORT_CHARS {
                        e.push(too_long("authorizer_name", "the name", MAX_SHORT_CHARS, &f.authorizer_name));
                    }
                    if f.authorizer_licence.trim().chars().count() > 40 {
                        e.push(FieldError::new("authorizer_licence", "A licence number has at most 40 characters."));
                    }
                }
                _ => e.push(FieldError::new("authorizer", "Choose who authorizes this referral.")),
            }
        }
    }
    e
}

/// Why the referral cannot be sent yet, beyond field errors: consent must be a permit.
pub fn submit_blocker(f: &ReferralForm) -> Option<&'static str> {
    (f.consent_decision == "deny").then_some(
        "The patient has not agreed to this referral, so it cannot be sent. Cancel it, or record consent if the patient agrees.",
    )
}

fn too_long(field: &str, what: &str, max: usize, value: &str) -> FieldError {
    FieldError::new(field, format!("Keep {what} under {max} characters (it has {}).", value.chars().count()))
}

/// A calendar date `YYYY-MM-DD` as a comparable number, or `None`.
pub fn parse_date(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (y >= 1900 && (1..=days).contains(&d)).then_some(y * 10_000 + m * 100 + d)
}

/// The message for `field` among `errors`, if any.
pub fn message_for<'a>(errors: &'a [FieldError], field: &str) -> Option<&'a str> {
    errors.iter().find(|e| e.field == field).map(|e| e.message.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ValidationContext {
        ValidationContext { today: "2026-11-22".into(), delegate: false, has_draft_requester: false }
    }
    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn service_step_needs_service_then_code() {
        let mut f = ReferralForm::default();
        assert_eq!(fields(&validate_step(Step::Service, &f, &ctx())), ["service_id"]);
        f.service_id = "svc-diabetes".into();
        assert_eq!(fields(&validate_step(Step::Service, &f, &ctx())), ["code"]);
        f.code = "http://snomed.info/sct|736379004".into();
        assert!(validate_step(Step::Service, &f, &ctx()).is_empty());
    }

    #[test]
    fn reason_is_required_and_bounded_priority_must_be_known() {
        let mut f = ReferralForm { reason: "   ".into(), priority: "whenever".into(), ..Default::default() };
        assert_eq!(fields(&validate_step(Step::Details, &f, &ctx())), ["reason", "priority"]);
        f.reason = "x".repeat(MAX_REASON_CHARS + 1);
        f.priority = "stat".into();
        let e = validate_step(Step::Details, &f, &ctx());
        assert_eq!(fields(&e), ["reason"]);
        assert!(e[0].message.contains("2001"), "{}", e[0].message);
        f.reason = "Knee pain for 6 months".into();
        f.priority = String::new();
        assert!(validate_step(Step::Details, &f, &ctx()).is_empty(), "an empty priority means routine");
    }

    #[test]
    fn consent_needs_decision_giver_and_a_past_date() {
        let mut f = ReferralForm::default();
        assert_eq!(
            fields(&validate_step(Step::Consent, &f, &ctx())),
            ["consent_decision", "consent_by", "consent_date"]
        );
        f.consent_decision = "permit".into();
        f.consent_by = "related".into();
        f.consent_date = "2026-11-23".into();
        assert_eq!(
            fields(&validate_step(Step::Consent, &f, &ctx())),
            ["consent_related_name", "consent_related_relationship", "consent_date"]
        );
        f.consent_related_name = "Jean Tremblay".into();
        f.consent_related_relationship = "SPS".into();
        f.consent_date = "2026-02-30".into();
        let e = validate_step(Step::Consent, &f, &ctx());
        assert_eq!(fields(&e), ["consent_date"]);
        assert!(e[0].message.contains("year-month-day"));
        f.consent_date = "2026-11-22".into();
        assert!(validate_step(Step::Consent, &f, &ctx()).is_empty());
        f.consent_decision = "deny".into();
        assert!(validate_step(Step::Consent, &f, &ctx()).is_empty(), "a refusal is recorded, not an input error");
        assert!(submit_blocker(&f).is_some());
        f.consent_decision = "permit".into();
        assert!(submit_blocker(&f).is_none());
    }

    #[test]
    fn delegates_must_name_the_authorizer() {
        let mut f = ReferralForm::default();
        assert!(validate_step(Step::Routing, &f, &ctx()).is_empty(), "every routing field is optional");
        let delegate = ValidationContext { delegate: true, ..ctx() };
        assert_eq!(fields(&validate_step(Step::Routing, &f, &delegate)), ["authorizer"]);
        f.authorizer = "draft".into();
        assert_eq!(fields(&validate_step(Step::Routing, &f, &delegate)), ["authorizer"], "no draft requester");
        let with_draft = ValidationContext { has_draft_requester: true, ..delegate.clone() };
        assert!(validate_step(Step::Routing, &f, &with_draft).is_empty());
        f.authorizer = "other".into();
        assert_eq!(fields(&validate_step(Step::Routing, &f, &delegate)), ["authorizer_name"]);
        f.authorizer_name = "Dr. Rajesh Patel".into();
        assert!(validate_step(Step::Routing, &f, &delegate).is_empty());
    }

    #[test]
    fn routing_choices_are_checked() {
        let mut f = ReferralForm { routing: "teleport".into(), patient_location: "moon".into(), ..Default::default() };
        assert_eq!(fields(&validate_step(Step::Routing, &f, &ctx())), ["routing", "patient_location"]);
        f.routing = "specific-provider".into();
        f.patient_location = "home".into();
        assert_eq!(fields(&validate_step(Step::Routing, &f, &ctx())), ["routing_note"]);
        f.routing_note = "Dr. Gagnon's clinic".into();
        assert!(validate_step(Step::Routing, &f, &ctx()).is_empty());
    }

    #[test]
    fn dates_parse_strictly() {
        assert!(parse_date("2024-02-29").is_some());
        assert!(parse_date("2023-02-29").is_none());
        assert!(parse_date("2026-13-01").is_none());
        assert!(parse_date("26-1-1").is_none());
        assert!(parse_date("2026-1-01").is_none());
        assert!(parse_date("2026-01-01") < parse_date("2026-01-02"));
    }
}
