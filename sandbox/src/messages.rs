//! `POST /fhir/$process-message`: the RMS Source receiving FHIR R4 messages
//! (e.g. `notify-add-service-request`) from the eReferral app.
//!
//! Authorization: any live access token issued by this sandbox, or one of its configured static
//! bearers (by default the development bearer [`STATIC_DEV_TOKEN`](crate::bearer::STATIC_DEV_TOKEN)).
//! A Bundle whose `Bundle.id` (or `identifier.value`) or MessageHeader id was already
//! received is acknowledged as a duplicate and not stored twice.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;
use serde_json::{json, Value};

use crate::bearer::{bearer, live_token};
use crate::faults::ProcessMessageFault;
use crate::outcome::{fhir_response, operation_outcome, outcome, unauthorized};
use crate::seed::{display_name, subject_of};
use crate::state::SharedState;

/// How long the `Timeout` fault waits before answering 504.
pub const TIMEOUT_FAULT_DELAY: Duration = Duration::from_secs(30);
pub const REJECT_TEXT: &str = "Referral rejected by sandbox EHR: patient not found in EHR";

/// A message the sandbox accepted.
#[derive(Debug, Clone, Serialize)]
pub struct ReceivedMessage {
    pub bundle_id: String,
    pub message_header_id: String,
    /// `MessageHeader.eventCoding.code`.
    pub event: String,
    /// Display name of the Patient in the bundle, else the subject reference.
    pub patient: Option<String>,
    /// RFC 3339.
    pub received_at: String,
    pub raw: Value,
    pub times_received: u32,
}

/// What a valid message bundle says about itself.
#[derive(Debug)]
struct Parsed {
    bundle_id: String,
    header_id: String,
    event: String,
    patient: Option<String>,
}

fn invalid(diagnostics: &str) -> Response {
    outcome(StatusCode::BAD_REQUEST, "error", "invalid", diagnostics)
}

fn parse(bundle: &Value) -> Result<Parsed, String> {
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err("the body must be a FHIR Bundle".into());
    }
    if bundle.get("type").and_then(Value::as_str) != Some("message") {
        return Err("Bundle.type must be `message`".into());
    }
    let entries = bundle
        .get("entry")
        .and_then(Value::as_array)
        .filter(|e| !e.is_empty())
        .ok_or("Bundle.entry must not be empty")?;
    let header = entries[0]
        .get("resource")
        .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("MessageHeader"))
        .ok_or("Bundle.entry[0] must be a MessageHeader")?;
    let event = header
        .pointer("/eventCoding/code")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .ok_or("MessageHeader.eventCoding.code is required")?
        .to_string();
    let bundle_id = bundle
        .get("id")
        .and_then(Value::as_str)
        .or_else(|| bundle.pointer("/identifier/value").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .ok_or("Bundle.id (or Bundle.identifier.value) is required for de-duplication")?
        .to_string();
    let header_id = header.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
    let resources = || entries.iter().filter_map(|e| e.get("resource"));
    let patient = resources()
        .find(|r| r.get("resourceType").and_then(Value::as_str) == Some("Patient"))
        .and_then(|p| display_name(p).or_else(|| p.get("id").and_then(Value::as_str).map(|id| format!("Patient/{id}"))))
        .or_else(|| resources().find_map(subject_of));
    Ok(Parsed { bundle_id, header_id, event, patient })
}

pub async fn process_message(State(st): State<SharedState>, headers: HeaderMap, body: Bytes) -> Response {
    let authorized = bearer(&headers).is_some_and(|b| st.config.static_bearers.iter().any(|s| s == b))
        || live_token(&st, &headers).is_some();
    if !authorized {
        return unauthorized("a bearer token from this sandbox (or the static dev token) is required");
    }
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        let mime = ct.split(';').next().unwrap_or_default().trim();
        if mime != "application/fhir+json" && mime != "application/json" {
            return outcome(StatusCode::UNSUPPORTED_MEDIA_TYPE, "error", "not-supported", "send application/fhir+json");
        }
    }
    let bundle: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return invalid(&format!("the body is not valid JSON: {e}")),
    };
    let parsed = match parse(&bundle) {
        Ok(p) => p,
        Err(why) => return invalid(&why),
    };
    let (fault, slow_add) = {
        let f = st.store().faults;
        (f.process_message, f.slow_notify_add_millis)
    };
    if slow_add > 0 && parsed.event.starts_with("notify-add-service") {
        tokio::time::sleep(Duration::from_millis(slow_add)).await;
    }
    match fault {
        ProcessMessageFault::Ok | ProcessMessageFault::AcceptThenTimeout => {}
        ProcessMessageFault::OkWithError => {
            // Some EHRs answer 200 and put the failure in the OperationOutcome.
            return fhir_response(
                StatusCode::OK,
                &operation_outcome("error", "processing", "sandbox fault: the message could not be processed"),
            );
        }
        ProcessMessageFault::ServerError => {
            return outcome(
                StatusCode::INTERNAL_SERVER_ERROR,
                "fatal",
                "exception",
                "sandbox fault: internal error while processing the message",
            )
        }
        ProcessMessageFault::Timeout => {
            tokio::time::sleep(TIMEOUT_FAULT_DELAY).await;
            return outcome(
                StatusCode::GATEWAY_TIMEOUT,
                "fatal",
                "timeout",
                "sandbox fault: the EHR did not process the message in time",
            );
        }
        ProcessMessageFault::Reject => {
            let body = json!({
                "resourceType": "OperationOutcome",
                "id": uuid::Uuid::new_v4().to_string(),
                "issue": [{
                    "severity": "error",
                    "code": "business-rule",
                    "details": {"text": REJECT_TEXT},
                    "diagnostics": REJECT_TEXT
                }]
            });
            return fhir_response(StatusCode::UNPROCESSABLE_ENTITY, &body);
        }
    }
    let response = record(&st, parsed, bundle);
    if fault == ProcessMessageFault::AcceptThenTimeout {
        tokio::time::sleep(TIMEOUT_FAULT_DELAY).await;
        return outcome(
            StatusCode::GATEWAY_TIMEOUT,
            "fatal",
            "timeout",
            "sandbox fault: the message was processed but the answer timed out",
        );
    }
    response
}

/// Stores a new message, or counts a duplicate (same Bundle or MessageHeader id).
fn record(st: &SharedState, parsed: Parsed, bundle: Value) -> Response {
    let mut store = st.store();
    let duplicate = store.messages.iter_mut().find(|m| {
        m.bundle_id == parsed.bundle_id || (!parsed.header_id.is_empty() && m.message_header_id == parsed.header_id)
    });
    if let Some(existing) = duplicate {
        existing.times_received += 1;
        let text = format!(
            "duplicate acknowledged: message {} was already received ({} times)",
            existing.bundle_id, existing.times_received
        );
        drop(store);
        return fhir_response(StatusCode::OK, &operation_outcome("information", "informational", &text));
    }
    let received_at =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    tracing::info!(event = %parsed.event, bundle = %parsed.bundle_id, "message received");
    let text = format!("message {} ({}) accepted", parsed.bundle_id, parsed.event);
    store.messages.push(ReceivedMessage {
        bundle_id: parsed.bundle_id,
        message_header_id: parsed.header_id,
        event: parsed.event,
        patient: parsed.patient,
        received_at,
        raw: bundle,
        times_received: 1,
    });
    drop(store);
    fhir_response(StatusCode::OK, &operation_outcome("information", "informational", &text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_requires_message_header_first() {
        let ok = json!({"resourceType": "Bundle", "id": "b1", "type": "message", "entry": [
            {"resource": {"resourceType": "MessageHeader", "id": "h1", "eventCoding": {"code": "notify-add-service-request"}}},
            {"resource": {"resourceType": "Patient", "name": [{"given": ["Zoë"], "family": "Ndiaye-Côté"}]}}
        ]});
        let p = parse(&ok).unwrap();
        assert_eq!(p.event, "notify-add-service-request");
        assert_eq!(p.patient.as_deref(), Some("Zoë Ndiaye-Côté"));
        let bad = json!({"resourceType": "Bundle", "id": "b1", "type": "message", "entry": [
            {"resource": {"resourceType": "Patient"}}
        ]});
        assert!(parse(&bad).is_err());
        let no_event = json!({"resourceType": "Bundle", "id": "b1", "type": "message", "entry": [
            {"resource": {"resourceType": "MessageHeader"}}
        ]});
        assert!(parse(&no_event).is_err());
    }
}
