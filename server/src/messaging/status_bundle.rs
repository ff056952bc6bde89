//! The target's update messages: `notify-update-status` (the Task changed; focus → the Task) and
//! `notify-add-appointment` / `notify-update-appointment` (focus → the Appointment). Each
//! carries the focus, then the Task and its ServiceRequest. Pure and checked like every message
//! we send (references may also point at our resources the first message carried).

use super::{
    bundle_check::{check_references, entries, BundleError},
    notify_bundle::{base_header, entry, message_bundle, HeaderInput, REFERRAL_IDENTIFIER_EXT},
};
use serde_json::{json, Value};

fn key(resource: &Value) -> String {
    let rtype = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
    let id = resource.get("id").and_then(Value::as_str).unwrap_or_default();
    format!("{rtype}/{id}")
}

/// A message about `task` (of `service_request`) whose focus is `appointment` when given, else
/// the Task.
pub fn build_update(
    header: &HeaderInput,
    fhir_base: &str,
    ehr_base: &str,
    task: &Value,
    service_request: &Value,
    appointment: Option<&Value>,
) -> Result<Value, BundleError> {
    let sr_key = key(service_request);
    if task.pointer("/basedOn/0/reference").and_then(Value::as_str) != Some(sr_key.as_str()) {
        return Err(BundleError::Disagree("the Task is not based on this ServiceRequest".into()));
    }
    if let Some(a) = appointment {
        if a.pointer("/basedOn/0/reference").and_then(Value::as_str) != Some(sr_key.as_str()) {
            return Err(BundleError::Disagree("the Appointment is not based on this ServiceRequest".into()));
        }
        if a.pointer("/participant/0/actor/reference") != task.pointer("/for/reference") {
            return Err(BundleError::Disagree("the Appointment is for another patient".into()));
        }
    }
    let focus = appointment.unwrap_or(task);
    let mut h = base_header(header, &key(focus));
    if let Some(ours) = service_request.pointer("/identifier/0") {
        h["extension"] = json!([{"url": REFERRAL_IDENTIFIER_EXT, "valueIdentifier": ours}]);
    }
    let mut list = vec![entry(fhir_base, &h)];
    list.extend(appointment.map(|a| entry(fhir_base, a)));
    list.push(entry(fhir_base, task));
    list.push(entry(fhir_base, service_request));
    let bundle = message_bundle(header, list);
    // Besides the EHR's own resources, an update may point at ours that the EHR already received
    // in the notify-add-service-request (the Consent, documents, the HealthcareService).
    check_references(&entries(&bundle)?, &[ehr_base, fhir_base])?;
    Ok(bundle)
}

/// `notify-update-status`: focus → the Task.
pub fn build_notify_update_status(
    header: &HeaderInput,
    fhir_base: &str,
    ehr_base: &str,
    task: &Value,
    service_request: &Value,
) -> Result<Value, BundleError> {
    build_update(header, fhir_base, ehr_base, task, service_request, None)
}
