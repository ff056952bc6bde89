//! Reading a message a source sends us (`POST /fhir/$process-message`). Tolerant where the guides
//! drift (event spellings, system variants: see [`super::event`]), strict about structure. Pure.

use super::event::{event_of, Event};
use serde_json::Value;

/// What a well-formed message says.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    pub bundle_id: Option<String>,
    pub header_id: Option<String>,
    /// `None`: an event we do not know (its code is in `event_code`).
    pub event: Option<Event>,
    pub event_code: String,
    /// `MessageHeader.focus[].reference`.
    pub focus: Vec<String>,
    /// The ServiceRequests in the bundle.
    pub service_requests: Vec<Value>,
}

/// Why a body is not a message we can read (said back in an OperationOutcome).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

pub fn parse(body: &[u8], event_system: &str) -> Result<Inbound, Malformed> {
    let bad = |s: &str| Malformed(s.to_string());
    let bundle: Value = serde_json::from_slice(body).map_err(|e| Malformed(format!("the body is not JSON: {e}")))?;
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(bad("the body must be a FHIR Bundle"));
    }
    if bundle.get("type").and_then(Value::as_str) != Some("message") {
        return Err(bad("Bundle.type must be message"));
    }
    let entries = bundle
        .get("entry")
        .and_then(Value::as_array)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| bad("the Bundle has no entries"))?;
    let resources: Vec<&Value> = entries.iter().filter_map(|e| e.get("resource")).collect();
    if resources.len() != entries.len() {
        return Err(bad("every entry needs a resource"));
    }
    let header = resources[0];
    if header.get("resourceType").and_then(Value::as_str) != Some("MessageHeader") {
        return Err(bad("the first entry must be a MessageHeader"));
    }
    let coding = header.get("eventCoding").ok_or_else(|| bad("MessageHeader.eventCoding is required"))?;
    let event_code = coding
        .get("code")
        .and_then(Value::as_str)
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| bad("MessageHeader.eventCoding.code is required"))?
        .trim()
        .to_string();
    let text = |v: Option<&Value>| v.and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    Ok(Inbound {
        bundle_id: text(bundle.get("id")),
        header_id: text(header.get("id")),
        event: event_of(coding, event_system),
        event_code,
        focus: header
            .get("focus")
            .and_then(Value::as_array)
            .map(|f| f.iter().filter_map(|r| text(r.get("reference"))).collect())
            .unwrap_or_default(),
        service_requests: resources
            .iter()
            .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("ServiceRequest"))
            .map(|r| (*r).clone())
            .collect(),
    })
}

/// The id in a `ServiceRequest/{id}` reference (relative or absolute).
pub fn service_request_id(reference: &str) -> Option<&str> {
    let at = reference.rfind("ServiceRequest/")?;
    let id = &reference[at + "ServiceRequest/".len()..];
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SYS: &str = "https://ehealthontario.ca/fhir/CodeSystem/message-event-code";

    fn msg(code: &str, system: &str) -> Vec<u8> {
        json!({"resourceType": "Bundle", "id": "b", "type": "message", "entry": [
            {"resource": {"resourceType": "MessageHeader", "id": "h",
                "eventCoding": {"system": system, "code": code},
                "focus": [{"reference": "https://us.example/fhir/ServiceRequest/sr-1"}]}},
            {"resource": {"resourceType": "ServiceRequest", "id": "sr-1"}}
        ]})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn old_spellings_and_system_variants_are_read() {
        let m =
            parse(&msg("revoke-servicerequest", "http://ehealthontario.ca/fhir/CodeSystem/message-event-code/"), SYS)
                .unwrap();
        assert_eq!(m.event, Some(Event::RevokeServiceRequest));
        assert_eq!(m.focus, ["https://us.example/fhir/ServiceRequest/sr-1"]);
        assert_eq!(service_request_id(&m.focus[0]), Some("sr-1"));
        assert_eq!(m.service_requests.len(), 1);
        let unknown = parse(&msg("do-a-dance", SYS), SYS).unwrap();
        assert_eq!((unknown.event, unknown.event_code.as_str()), (None, "do-a-dance"));
        assert_eq!(parse(&msg("revoke-service-request", "http://other/cs"), SYS).unwrap().event, None);
    }

    #[test]
    fn malformed_bodies_are_explained() {
        assert!(parse(b"not json", SYS).unwrap_err().0.contains("not JSON"));
        assert!(parse(br#"{"resourceType":"Patient"}"#, SYS).is_err());
        assert!(parse(br#"{"resourceType":"Bundle","type":"collection","entry":[]}"#, SYS).is_err());
        let headless =
            br#"{"resourceType":"Bundle","type":"message","entry":[{"resource":{"resourceType":"Patient"}}]}"#;
        assert!(parse(headless, SYS).unwrap_err().0.contains("MessageHeader"));
        let no_code = br#"{"resourceType":"Bundle","type":"message","entry":[{"resource":{"resourceType":"MessageHeader","eventCoding":{}}}]}"#;
        assert!(parse(no_code, SYS).unwrap_err().0.contains("code"));
        assert_eq!(service_request_id("Task/1"), None);
    }
}
