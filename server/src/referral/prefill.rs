//! A new draft's starting values, from what the EHR already told us: its draft ServiceRequest
//! (`fhirContext`) and the launched user's role. Pure.

use crate::directory::Directory;
use app::referral::form::{ReferralForm, PRIORITIES};
use serde_json::Value;

/// Whether the launched user is a delegate (their PractitionerRole has one of `codes`).
pub fn is_delegate(role: Option<&Value>, codes: &[String]) -> bool {
    role.and_then(|r| r.get("code")).and_then(Value::as_array).into_iter().flatten().any(|cc| {
        cc.get("coding")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("code").and_then(Value::as_str))
            .any(|code| codes.iter().any(|d| d == code))
    })
}

/// How the EHR's draft names its requester, for the "authorized by" choice.
pub fn draft_requester(source_draft: Option<&Value>) -> Option<String> {
    let r = source_draft?.get("requester")?;
    r.get("display").and_then(Value::as_str).or_else(|| r.get("reference").and_then(Value::as_str)).map(str::to_string)
}

/// The first draft values. `delegate` users default to the draft's requester as authorizer.
pub fn initial_form(source_draft: Option<&Value>, directory: &Directory, delegate: bool) -> ReferralForm {
    let mut f = ReferralForm::default();
    if let Some(d) = source_draft {
        // The requested code picks the service when exactly one service offers it.
        let codings = d.pointer("/code/coding").and_then(Value::as_array).cloned().unwrap_or_default();
        for c in &codings {
            let (Some(system), Some(code)) =
                (c.get("system").and_then(Value::as_str), c.get("code").and_then(Value::as_str))
            else {
                continue;
            };
            if let [only] = directory.offering_code(system, code).as_slice() {
                f.service_id = only.id.clone();
                f.code = format!("{system}|{code}");
                break;
            }
        }
        let reasons: Vec<String> = d
            .get("reasonCode")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| {
                r.get("text")
                    .and_then(Value::as_str)
                    .or_else(|| r.pointer("/coding/0/display").and_then(Value::as_str))
                    .map(str::to_string)
            })
            .collect();
        f.set("reason", &reasons.join("\n"));
        if let Some(p) = d.get("priority").and_then(Value::as_str) {
            if PRIORITIES.iter().any(|(c, _)| *c == p) {
                f.priority = p.to_string();
            }
        }
        let notes: Vec<&str> = d
            .get("note")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|n| n.get("text").and_then(Value::as_str))
            .collect();
        f.set("notes", &notes.join("\n\n"));
    }
    if delegate && draft_requester(source_draft).is_some() {
        f.authorizer = "draft".into();
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn draft() -> Value {
        json!({
            "resourceType": "ServiceRequest", "id": "draft-1", "priority": "urgent",
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "736379004"}]},
            "requester": {"reference": "PractitionerRole/role-1", "display": "Dr. Sarah Chen"},
            "reasonCode": [{"text": "Prediabetes"}, {"coding": [{"display": "Obesity"}]}],
            "note": [{"text": "Prefers French."}, {"text": "Works nights."}]
        })
    }

    #[test]
    fn a_source_draft_fills_service_reason_priority_and_notes() {
        let dir = Directory::builtin();
        let f = initial_form(Some(&draft()), &dir, false);
        let (svc, _) = dir.offering(&f.service_id, &f.code).expect("the draft's code picks a service");
        assert!(svc.name.to_lowercase().contains("diabetes"));
        assert_eq!(f.reason, "Prediabetes\nObesity");
        assert_eq!(f.priority, "urgent");
        assert_eq!(f.notes, "Prefers French.\n\nWorks nights.");
        assert_eq!(f.authorizer, "", "a clinician authorizes their own referral by default");
    }

    #[test]
    fn delegates_default_to_the_drafts_requester() {
        let dir = Directory::builtin();
        assert_eq!(initial_form(Some(&draft()), &dir, true).authorizer, "draft");
        assert_eq!(initial_form(None, &dir, true).authorizer, "");
        assert_eq!(draft_requester(Some(&draft())).as_deref(), Some("Dr. Sarah Chen"));
    }

    #[test]
    fn unknown_codes_and_priorities_are_left_for_the_clinician() {
        let dir = Directory::builtin();
        let d = json!({"code": {"coding": [{"system": "x", "code": "y"}]}, "priority": "whenever"});
        let f = initial_form(Some(&d), &dir, false);
        assert_eq!((f.service_id.as_str(), f.code.as_str(), f.priority.as_str()), ("", "", ""));
    }

    #[test]
    fn delegate_roles_are_recognised_by_code() {
        let role = json!({"code": [{"coding": [{"system": "http://snomed.info/sct", "code": "309397000"}]}]});
        assert!(is_delegate(Some(&role), &["309397000".into()]));
        assert!(!is_delegate(Some(&role), &["62247001".into()]));
        assert!(!is_delegate(None, &["309397000".into()]));
    }
}
