//! What an EHR answers to our `$process-message` (status + body) and to our FHIR reads
//! (OperationOutcomes). Input: 2 bytes of HTTP status (big-endian, any u16), then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use server::fhir::client::outcome_text;
use server::messaging::response::{classify, error_text, Verdict};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = u16::from_be_bytes([data[0], data[1]]);
    let body = &data[2..];
    match classify(status, body) {
        Verdict::Delivered => assert!((200..=299).contains(&status)),
        Verdict::Retry { reason } => assert!(!reason.is_empty()),
        Verdict::Rejected { text } => assert!(text.chars().count() <= 500 || (400..=499).contains(&status)),
    }
    // Also as a real status code the HTTP client could report (100..=999).
    let _ = classify(100 + status % 900, body);
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        if let Some(t) = error_text(&v) {
            assert!(t.chars().count() <= 500);
        }
        if let Some(t) = outcome_text(&v) {
            assert!(t.chars().count() <= 300);
        }
    }
});
