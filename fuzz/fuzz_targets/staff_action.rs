//! The intake console's staff actions (`POST /console/r/{id}/act`, urlencoded: `action`,
//! `reason`, `date`, `time`, `minutes`, `location`): what the form becomes, applied to a Task in
//! every state (`StaffAction::from_form`, then `server::referral::status_change::apply`).
//!
//! Found: a booking ending after 9999-12-31 panicked in `status_change::appointment`
//! (`OffsetDateTime + Duration`); fixed with `checked_add`. Reproducers: fuzz/regressions/staff_action/.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use server::referral::status_change::{apply, describe, StaffAction, MAX_APPOINTMENT_MINUTES};
use std::collections::HashMap;
use std::sync::OnceLock;

fn tasks() -> &'static [Value] {
    static T: OnceLock<Vec<Value>> = OnceLock::new();
    T.get_or_init(|| {
        [
            ("requested", "2.0"),
            ("accepted", "3.0"),
            ("in-progress", "5.1.1"),
            ("in-progress", "5.1.2"),
            ("completed", "7.0"),
        ]
        .into_iter()
        .map(|(status, code)| {
            json!({"resourceType": "Task", "id": "t1", "status": status,
                    "businessStatus": {"coding": [{"code": code}]},
                    "for": {"reference": "https://ehr.example.org/fhir/Patient/p1"},
                    "focus": {"reference": "ServiceRequest/sr1"}})
        })
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let form: HashMap<String, String> = url::form_urlencoded::parse(data).into_owned().collect();
    let appointment = json!({"resourceType": "Appointment", "id": "a1", "status": "booked"});
    // The configured offset (`EREFERRAL_CONSOLE_UTC_OFFSET`) is the operator's; try the usual ones.
    for offset in ["Z", "-05:00", "+14:00"] {
        let Some(action) = StaffAction::from_form(&form, offset) else { return };
        for task in tasks() {
            for current in [None, Some(&appointment)] {
                if let Ok(change) = apply(&action, task, "sr1", current, "2026-11-22T12:00:00Z", "a-new") {
                    let _ = describe(change.task_status, change.business_status);
                    if let Some(a) = &change.appointment {
                        assert!(a.get("id").is_some());
                        if let StaffAction::Book { minutes, .. } = &action {
                            assert!((1..=MAX_APPOINTMENT_MINUTES).contains(minutes), "booked {minutes} minutes");
                            assert!(a.get("end").and_then(Value::as_str).is_some_and(|e| !e.is_empty()));
                        }
                    }
                }
            }
        }
    }
});
