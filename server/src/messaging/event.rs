//! Message event codes: emitted in the configured system and spelling, read tolerantly (the
//! older guides' spellings without the hyphen, `http`/`https` and trailing-slash variants of a
//! system, and `%7C` for the `|` in canonical URLs).

use crate::config::EventSpelling;

/// The eReferral events this app knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    NotifyAddServiceRequest,
    AddServiceRequest,
    NotifyUpdateServiceRequest,
    NotifyUpdateStatus,
    NotifyAddAppointment,
    NotifyUpdateAppointment,
    RevokeServiceRequest,
}

impl Event {
    pub const ALL: [Event; 7] = [
        Event::NotifyAddServiceRequest,
        Event::AddServiceRequest,
        Event::NotifyUpdateServiceRequest,
        Event::NotifyUpdateStatus,
        Event::NotifyAddAppointment,
        Event::NotifyUpdateAppointment,
        Event::RevokeServiceRequest,
    ];

    /// The current guide's spelling (also what the outbox stores).
    pub fn code(self) -> &'static str {
        match self {
            Event::NotifyAddServiceRequest => "notify-add-service-request",
            Event::AddServiceRequest => "add-service-request",
            Event::NotifyUpdateServiceRequest => "notify-update-service-request",
            Event::NotifyUpdateStatus => "notify-update-status",
            Event::NotifyAddAppointment => "notify-add-appointment",
            Event::NotifyUpdateAppointment => "notify-update-appointment",
            Event::RevokeServiceRequest => "revoke-service-request",
        }
    }

    /// The older guides' spelling (`…-servicerequest`); the same as [`Event::code`] for events
    /// whose name has no "service request".
    pub fn legacy_code(self) -> &'static str {
        match self {
            Event::NotifyAddServiceRequest => "notify-add-servicerequest",
            Event::AddServiceRequest => "add-servicerequest",
            Event::NotifyUpdateServiceRequest => "notify-update-servicerequest",
            Event::RevokeServiceRequest => "revoke-servicerequest",
            other => other.code(),
        }
    }

    pub fn display(self) -> &'static str {
        match self {
            Event::NotifyAddServiceRequest => "Notify add service request",
            Event::AddServiceRequest => "Add service request",
            Event::NotifyUpdateServiceRequest => "Notify update service request",
            Event::NotifyUpdateStatus => "Notify update status",
            Event::NotifyAddAppointment => "Notify add appointment",
            Event::NotifyUpdateAppointment => "Notify update appointment",
            Event::RevokeServiceRequest => "Revoke service request",
        }
    }

    /// The code to emit under `spelling`.
    pub fn emitted(self, spelling: EventSpelling) -> &'static str {
        match spelling {
            EventSpelling::Hyphenated => self.code(),
            EventSpelling::Legacy => self.legacy_code(),
        }
    }

    /// Reads an event code in either spelling, ignoring case and surrounding space.
    pub fn parse(code: &str) -> Option<Event> {
        let wanted = code.trim().to_ascii_lowercase();
        Event::ALL.into_iter().find(|e| e.code() == wanted || e.legacy_code() == wanted)
    }
}

/// A code system or profile URL in a comparable form: `%7C`/`%7c` decoded to `|`, the scheme
/// compared without regard to http/https, and no trailing slash.
pub fn normalize_canonical(url: &str) -> String {
    let decoded = url.trim().replace("%7C", "|").replace("%7c", "|");
    let (base, version) = match decoded.split_once('|') {
        Some((b, v)) => (b.to_string(), Some(v.to_string())),
        None => (decoded, None),
    };
    // `get` (not `[..n]`): the text is anybody's, and a multi-byte character may straddle byte n.
    let strip = |prefix: &str| {
        base.get(..prefix.len()).filter(|p| p.eq_ignore_ascii_case(prefix)).map(|_| &base[prefix.len()..])
    };
    let lower_scheme = match strip("https://").or_else(|| strip("http://")) {
        Some(rest) => format!("http://{rest}"),
        None => base.clone(),
    };
    let base = lower_scheme.trim_end_matches('/').to_string();
    match version {
        Some(v) => format!("{base}|{v}"),
        None => base,
    }
}

/// Whether two code systems (or profile URLs) name the same thing under [`normalize_canonical`].
pub fn same_canonical(a: &str, b: &str) -> bool {
    normalize_canonical(a) == normalize_canonical(b)
}

/// The event of a MessageHeader's `eventCoding`, when its system is `expected_system` (in any
/// tolerated form) or absent, and its code is a known event in either spelling.
pub fn event_of(event_coding: &serde_json::Value, expected_system: &str) -> Option<Event> {
    if let Some(system) = event_coding.get("system").and_then(serde_json::Value::as_str) {
        if !same_canonical(system, expected_system) {
            return None;
        }
    }
    Event::parse(event_coding.get("code")?.as_str()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_spellings_parse_and_the_configured_one_is_emitted() {
        assert_eq!(Event::parse("notify-add-servicerequest"), Some(Event::NotifyAddServiceRequest));
        assert_eq!(Event::parse(" Notify-Add-Service-Request "), Some(Event::NotifyAddServiceRequest));
        assert_eq!(Event::parse("revoke-servicerequest"), Some(Event::RevokeServiceRequest));
        assert_eq!(Event::parse("notify-update-status"), Some(Event::NotifyUpdateStatus));
        assert_eq!(Event::parse("notify-add-service"), None);
        assert_eq!(Event::NotifyAddServiceRequest.emitted(EventSpelling::Legacy), "notify-add-servicerequest");
        assert_eq!(Event::NotifyAddServiceRequest.emitted(EventSpelling::Hyphenated), "notify-add-service-request");
        for e in Event::ALL {
            assert_eq!(Event::parse(e.code()), Some(e));
            assert_eq!(Event::parse(e.legacy_code()), Some(e));
        }
    }

    #[test]
    fn canonicals_compare_across_encodings_and_schemes() {
        let p = "http://ehealthontario.ca/fhir/StructureDefinition/ca-on-eReferral-profile-ServiceRequest|0.11.0";
        assert!(same_canonical(
            p,
            "https://ehealthontario.ca/fhir/StructureDefinition/ca-on-eReferral-profile-ServiceRequest%7C0.11.0"
        ));
        assert!(same_canonical(
            "https://ehealthontario.ca/fhir/CodeSystem/message-event-code/",
            "http://ehealthontario.ca/fhir/CodeSystem/message-event-code"
        ));
        assert!(!same_canonical(
            p,
            "http://ehealthontario.ca/fhir/StructureDefinition/ca-on-eReferral-profile-Task|0.11.0"
        ));
    }

    #[test]
    fn non_ascii_systems_never_panic() {
        for s in ["ééééé", "httpé://x", "https:/é", "hé", "€€€€€€€€€", "HTTPS://Ä/cs", "http://"]
        {
            let _ = normalize_canonical(s);
            assert!(!same_canonical(s, "https://ehealthontario.ca/fhir/CodeSystem/message-event-code"));
        }
        assert_eq!(normalize_canonical("HTTPS://Ä/cs/"), "http://Ä/cs");
        let c = json!({"system": "ééééééé", "code": "revoke-service-request"});
        assert_eq!(event_of(&c, "https://ehealthontario.ca/fhir/CodeSystem/message-event-code"), None);
    }

    #[test]
    fn event_coding_needs_the_expected_system() {
        let sys = "https://ehealthontario.ca/fhir/CodeSystem/message-event-code";
        let c = json!({"system": "http://ehealthontario.ca/fhir/CodeSystem/message-event-code", "code": "revoke-servicerequest"});
        assert_eq!(event_of(&c, sys), Some(Event::RevokeServiceRequest));
        assert_eq!(event_of(&json!({"code": "notify-update-status"}), sys), Some(Event::NotifyUpdateStatus));
        assert_eq!(event_of(&json!({"system": "http://other.example/cs", "code": "notify-update-status"}), sys), None);
        assert_eq!(event_of(&json!({"system": sys}), sys), None);
    }
}
