//! What is left of a revoked referral: ids and status, no personal health information (no
//! names, no reason, notes, service or code, no consent details). Pure.

use super::fhir_build::{BUSINESS_STATUS_SYSTEM, TASK_CODE, TASK_CODE_DISPLAY, TASK_CODE_SYSTEM};
use serde_json::{json, Value};

/// The patient reference without its display.
fn bare(reference: Option<&Value>) -> Value {
    match reference.and_then(|r| r.get("reference")).cloned() {
        Some(r) => json!({"reference": r}),
        None => Value::Null,
    }
}

fn identifiers(v: &Value) -> Value {
    let ids: Vec<Value> = v
        .get("identifier")
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter().filter_map(|i| Some(json!({"system": i.get("system")?, "value": i.get("value")?}))).collect()
        })
        .unwrap_or_default();
    if ids.is_empty() {
        Value::Null
    } else {
        Value::Array(ids)
    }
}

fn without_nulls(mut v: Value) -> Value {
    if let Some(map) = v.as_object_mut() {
        map.retain(|_, x| !x.is_null());
    }
    v
}

/// The ServiceRequest, `revoked`.
pub fn service_request(sr: &Value, at: &str) -> Value {
    without_nulls(json!({
        "resourceType": "ServiceRequest",
        "id": sr.get("id"),
        "meta": {"lastUpdated": at},
        "identifier": identifiers(sr),
        "status": "revoked",
        "intent": sr.get("intent").cloned().unwrap_or(json!("order")),
        "subject": bare(sr.get("subject")),
        "authoredOn": sr.get("authoredOn"),
    }))
}

/// The Task, `cancelled` with BSeR business status 6.0.
pub fn task(t: &Value, at: &str) -> Value {
    without_nulls(json!({
        "resourceType": "Task",
        "id": t.get("id"),
        "meta": {"lastUpdated": at},
        "identifier": identifiers(t),
        "basedOn": t.get("basedOn"),
        "status": "cancelled",
        "statusReason": {"text": "Revoked: the patient withdrew consent"},
        "businessStatus": {
            "coding": [{"system": BUSINESS_STATUS_SYSTEM, "code": "6.0", "display": "Fulfillment Cancelled"}],
            "text": "Revoked",
        },
        "intent": t.get("intent").cloned().unwrap_or(json!("order")),
        "code": {"coding": [{"system": TASK_CODE_SYSTEM, "code": TASK_CODE, "display": TASK_CODE_DISPLAY}]},
        "focus": t.get("focus"),
        "for": bare(t.get("for")),
        "authoredOn": t.get("authoredOn"),
        "lastModified": at,
    }))
}

/// The Consent, `inactive`, with nothing of who consented or how.
pub fn consent(c: &Value) -> Value {
    without_nulls(json!({
        "resourceType": "Consent",
        "id": c.get("id"),
        "status": "inactive",
        "scope": c.get("scope"),
        "category": c.get("category"),
        "patient": bare(c.get("patient")),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tombstones_keep_ids_and_status_only() {
        let sr = json!({"resourceType": "ServiceRequest", "id": "sr-1", "status": "active", "intent": "order",
            "identifier": [{"type": {"text": "Referral number"}, "system": "s", "value": "ER-1"}],
            "subject": {"reference": "http://ehr/fhir/Patient/p1", "display": "Zoë Ndiaye"},
            "code": {"text": "Diabetes prevention"}, "note": [{"text": "secret"}], "reasonCode": [{"text": "why"}]});
        let t = service_request(&sr, "2026-11-22T10:00:00Z");
        assert_eq!(t["status"], "revoked");
        assert_eq!(t["identifier"], json!([{"system": "s", "value": "ER-1"}]));
        assert_eq!(t["subject"], json!({"reference": "http://ehr/fhir/Patient/p1"}));
        let text = t.to_string();
        for phi in ["Zoë", "Diabetes", "secret", "why"] {
            assert!(!text.contains(phi), "{phi} in {text}");
        }
        let task = task(
            &json!({"id": "t1", "basedOn": [{"reference": "ServiceRequest/sr-1"}], "for": sr["subject"],
            "owner": {"display": "Diabetes clinic"}}),
            "2026-11-22T10:00:00Z",
        );
        assert_eq!(
            (task["status"].as_str(), task["businessStatus"]["coding"][0]["code"].as_str()),
            (Some("cancelled"), Some("6.0"))
        );
        assert!(!task.to_string().contains("Diabetes") && !task.to_string().contains("Zoë"));
        let c = consent(&json!({"id": "c1", "status": "active", "patient": sr["subject"],
            "contained": [{"resourceType": "RelatedPerson", "name": [{"text": "Fiona"}]}], "provision": {"type": "permit"}}));
        assert_eq!(c["status"], "inactive");
        assert!(!c.to_string().contains("Fiona") && c.get("provision").is_none());
    }
}
