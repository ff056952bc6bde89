//! `notify-update-status`: the target's Task changed (accepted, declined, cancelled, …). The
//! message carries the MessageHeader (focus → the Task), the Task and its ServiceRequest. Pure and
//! checked like every message we send.

use super::{
    bundle_check::{check_references, entries, BundleError},
    notify_bundle::{base_header, entry, message_bundle, HeaderInput},
};
use serde_json::Value;

pub fn build_notify_update_status(
    header: &HeaderInput,
    fhir_base: &str,
    ehr_base: &str,
    task: &Value,
    service_request: &Value,
) -> Result<Value, BundleError> {
    let task_id = task.get("id").and_then(Value::as_str).unwrap_or_default();
    let sr_id = service_request.get("id").and_then(Value::as_str).unwrap_or_default();
    let based_on = task.pointer("/basedOn/0/reference").and_then(Value::as_str);
    if based_on != Some(format!("ServiceRequest/{sr_id}").as_str()) {
        return Err(BundleError::Disagree("the Task is not based on this ServiceRequest".into()));
    }
    let mut h = base_header(header, &format!("Task/{task_id}"));
    if let Some(ours) = service_request.pointer("/identifier/0") {
        h["extension"] = serde_json::json!([{
            "url": super::notify_bundle::REFERRAL_IDENTIFIER_EXT,
            "valueIdentifier": ours,
        }]);
    }
    let bundle =
        message_bundle(header, vec![entry(fhir_base, &h), entry(fhir_base, task), entry(fhir_base, service_request)]);
    check_references(&entries(&bundle)?, &[ehr_base])?;
    Ok(bundle)
}
