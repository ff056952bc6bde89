//! Event codes and canonical URLs as sources spell them (MessageHeader.eventCoding, profiles).
//! The input is split at the first 0xFF byte into two strings (lossy UTF-8).
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::config::DEFAULT_EVENT_SYSTEM;
use server::messaging::event::{event_of, normalize_canonical, same_canonical, Event};

fuzz_target!(|data: &[u8]| {
    let (a, b) = match data.iter().position(|&c| c == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let a = String::from_utf8_lossy(a);
    let b = String::from_utf8_lossy(b);

    let na = normalize_canonical(&a);
    // Normalising is idempotent up to the trim and percent-decoding it does.
    let _ = normalize_canonical(&na);
    assert!(same_canonical(&a, &a));
    let _ = same_canonical(&a, &b);
    let _ = same_canonical(&a, DEFAULT_EVENT_SYSTEM);

    if let Some(e) = Event::parse(&a) {
        assert_eq!(Event::parse(e.code()), Some(e));
        assert_eq!(Event::parse(e.legacy_code()), Some(e));
    }

    // As an eventCoding: {system: a, code: b}, {code: a}, and any JSON value the input might be.
    let coding = serde_json::json!({"system": &*a, "code": &*b});
    let _ = event_of(&coding, DEFAULT_EVENT_SYSTEM);
    let _ = event_of(&coding, &b);
    let _ = event_of(&serde_json::json!({"code": &*a}), DEFAULT_EVENT_SYSTEM);
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = event_of(&v, DEFAULT_EVENT_SYSTEM);
        let _ = event_of(&v, "");
    }
});
