//! `POST /fhir/$process-message` bodies: what any registered source (or anyone holding a token)
//! can send us.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::config::DEFAULT_EVENT_SYSTEM;
use server::messaging::inbound::{parse, service_request_id};

fuzz_target!(|data: &[u8]| {
    let Ok(message) = parse(data, DEFAULT_EVENT_SYSTEM) else { return };
    for focus in &message.focus {
        if let Some(id) = service_request_id(focus) {
            assert!(!id.is_empty() && !id.contains('/'));
        }
    }
    // The event code is trimmed and never empty once parsed.
    assert!(!message.event_code.is_empty());
    assert_eq!(message.event_code.trim(), message.event_code);
});
