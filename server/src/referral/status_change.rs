//! What the service does with a referral after it arrives, as a state machine over the Task:
//! accept, decline (with a reason), book or rebook an appointment, mark it attended or not, and
//! complete. Each change gives the new Task (status, BSeR business status, history in the
//! caller's timeline), the Appointment when there is one, and the event to tell the source. Pure.

use super::fhir_build::BUSINESS_STATUS_SYSTEM;
use crate::messaging::event::Event;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffAction {
    Accept,
    Decline {
        reason: String,
    },
    /// `start` is an RFC 3339 instant; `minutes` the length.
    Book {
        start: String,
        minutes: u32,
        location: String,
    },
    Attended,
    NotAttended,
    Complete,
}

impl StaffAction {
    /// The action a posted console form asks for (`action`, `reason`, `date`, `time`, `minutes`,
    /// `location`); `utc_offset` is the console's configured offset for the booking's date and time.
    pub fn from_form(f: &std::collections::HashMap<String, String>, utc_offset: &str) -> Option<StaffAction> {
        let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
        Some(match get("action").as_str() {
            "accept" => StaffAction::Accept,
            "decline" => StaffAction::Decline { reason: get("reason") },
            "book" => StaffAction::Book {
                start: format!("{}T{}:00{utc_offset}", get("date"), get("time")),
                minutes: get("minutes").parse().unwrap_or(0),
                location: get("location"),
            },
            "attended" => StaffAction::Attended,
            "not_attended" => StaffAction::NotAttended,
            "complete" => StaffAction::Complete,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error("This referral is {0}: it cannot be {1} now.")]
    NotNow(String, &'static str),
    #[error("A reason is needed to decline a referral.")]
    ReasonRequired,
    #[error("An appointment needs a date, a time and a location.")]
    AppointmentIncomplete,
}

/// A change to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub task: Value,
    pub appointment: Option<Value>,
    /// The message to send the source.
    pub event: Event,
    /// For the timeline.
    pub kind: &'static str,
    pub task_status: &'static str,
    pub business_status: &'static str,
    pub text: Option<String>,
}

fn business(code: &str) -> (&'static str, &'static str) {
    match code {
        "3.0" => ("3.0", "Accepted"),
        "4.0" => ("4.0", "Declined"),
        "5.1.1" => ("5.1.1", "Event scheduled"),
        "5.1.2" => ("5.1.2", "Event unattended"),
        "5.1.4" => ("5.1.4", "Event completed"),
        "7.0" => ("7.0", "Fulfillment completed"),
        _ => ("2.0", "Created"),
    }
}

/// A BSeR business status as `code display` (e.g. `5.1.1 Event scheduled`); `6.0` is a revocation.
pub fn business_status_text(code: &str) -> String {
    if code == "6.0" {
        return "6.0 Fulfillment cancelled".into();
    }
    let (code, display) = business(code);
    format!("{code} {display}")
}

/// Plain words for a Task status and business status, as clinicians and staff read them.
pub fn describe(task_status: &str, business_status: &str) -> &'static str {
    match (task_status, business_status) {
        ("cancelled", _) => "Revoked",
        ("rejected", _) => "Declined",
        ("completed", _) => "Completed",
        (_, "3.0") => "Accepted",
        (_, "5.1.1") => "Appointment booked",
        (_, "5.1.2") => "Appointment missed",
        (_, "5.1.4") => "Appointment attended",
        _ => "Waiting for the service",
    }
}

fn set_status(task: &Value, status: &str, code: &str, at: &str, reason: Option<&str>) -> Value {
    let (code, display) = business(code);
    let mut t = task.clone();
    t["status"] = json!(status);
    t["businessStatus"] = json!({
        "coding": [{"system": BUSINESS_STATUS_SYSTEM, "code": code, "display": display}],
        "text": display,
    });
    t["lastModified"] = json!(at);
    match reason {
        Some(r) => t["statusReason"] = json!({"text": r}),
        None => {
            if let Some(map) = t.as_object_mut() {
                map.remove("statusReason");
            }
        }
    }
    t
}

/// The longest appointment staff can book (a day).
pub const MAX_APPOINTMENT_MINUTES: u32 = 24 * 60;

fn appointment(task: &Value, sr_id: &str, start: &str, minutes: u32, location: &str, id: &str) -> Option<Value> {
    let begin = time::OffsetDateTime::parse(start, &time::format_description::well_known::Rfc3339).ok()?;
    // `checked_add`: a date near year 9999 plus the length would overflow (found by fuzzing).
    let end = begin.checked_add(time::Duration::minutes(i64::from(minutes)))?;
    let end = end.format(&time::format_description::well_known::Rfc3339).ok()?;
    let patient = task.pointer("/for/reference").cloned()?;
    Some(json!({
        "resourceType": "Appointment",
        "id": id,
        "status": "booked",
        "basedOn": [{"reference": format!("ServiceRequest/{sr_id}")}],
        "start": start,
        "end": end,
        "minutesDuration": minutes,
        "participant": [
            {"actor": {"reference": patient}, "status": "accepted", "required": "required"},
            {"actor": {"display": location}, "status": "accepted"}
        ],
    }))
}

/// The change `action` makes to `task` (of ServiceRequest `sr_id`), whose appointment is
/// `current_appointment`, at `at`. `new_appointment_id` names a first appointment.
pub fn apply(
    action: &StaffAction,
    task: &Value,
    sr_id: &str,
    current_appointment: Option<&Value>,
    at: &str,
    new_appointment_id: &str,
) -> Result<Change, ActionError> {
    let status = task.get("status").and_then(Value::as_str).unwrap_or_default();
    let code = task.pointer("/businessStatus/coding/0/code").and_then(Value::as_str).unwrap_or("2.0");
    let now = describe(status, code).to_lowercase();
    let change = |task: Value, kind, task_status, business_status, event, text: Option<String>| Change {
        task,
        appointment: None,
        event,
        kind,
        task_status,
        business_status,
        text,
    };
    match action {
        StaffAction::Accept if status == "requested" || status == "received" => Ok(change(
            set_status(task, "accepted", "3.0", at, None),
            "accepted",
            "accepted",
            "3.0",
            Event::NotifyUpdateStatus,
            None,
        )),
        StaffAction::Decline { reason } if matches!(status, "requested" | "received" | "accepted") => {
            let reason = reason.trim();
            if reason.is_empty() {
                return Err(ActionError::ReasonRequired);
            }
            Ok(change(
                set_status(task, "rejected", "4.0", at, Some(reason)),
                "declined",
                "rejected",
                "4.0",
                Event::NotifyUpdateStatus,
                Some(reason.to_string()),
            ))
        }
        StaffAction::Book { start, minutes, location } if matches!(status, "accepted" | "in-progress") => {
            let location = location.trim();
            if location.is_empty() || *minutes == 0 || *minutes > MAX_APPOINTMENT_MINUTES {
                return Err(ActionError::AppointmentIncomplete);
            }
            let id =
                current_appointment.and_then(|a| a.get("id")).and_then(Value::as_str).unwrap_or(new_appointment_id);
            let appt =
                appointment(task, sr_id, start, *minutes, location, id).ok_or(ActionError::AppointmentIncomplete)?;
            let rebook = current_appointment.is_some();
            let mut c = change(
                set_status(task, "in-progress", "5.1.1", at, None),
                if rebook { "rebooked" } else { "booked" },
                "in-progress",
                "5.1.1",
                if rebook { Event::NotifyUpdateAppointment } else { Event::NotifyAddAppointment },
                Some(format!("{start}, {location}")),
            );
            c.appointment = Some(appt);
            Ok(c)
        }
        StaffAction::Attended | StaffAction::NotAttended if status == "in-progress" && code == "5.1.1" => {
            let attended = *action == StaffAction::Attended;
            let (code, kind) = if attended { ("5.1.4", "attended") } else { ("5.1.2", "not_attended") };
            let mut appt = current_appointment.cloned();
            if let Some(a) = appt.as_mut() {
                a["status"] = json!(if attended { "fulfilled" } else { "noshow" });
            }
            let mut c = change(
                set_status(task, "in-progress", code, at, None),
                kind,
                "in-progress",
                business(code).0,
                if appt.is_some() { Event::NotifyUpdateAppointment } else { Event::NotifyUpdateStatus },
                None,
            );
            c.appointment = appt;
            Ok(c)
        }
        StaffAction::Complete if matches!(status, "accepted" | "in-progress") => Ok(change(
            set_status(task, "completed", "7.0", at, None),
            "completed",
            "completed",
            "7.0",
            Event::NotifyUpdateStatus,
            None,
        )),
        StaffAction::Accept => Err(ActionError::NotNow(now, "accepted")),
        StaffAction::Decline { .. } => Err(ActionError::NotNow(now, "declined")),
        StaffAction::Book { .. } => Err(ActionError::NotNow(now, "booked")),
        StaffAction::Attended | StaffAction::NotAttended => Err(ActionError::NotNow(now, "marked attended or not")),
        StaffAction::Complete => Err(ActionError::NotNow(now, "completed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: &str = "2026-11-22T12:00:00Z";

    fn task() -> Value {
        json!({"resourceType": "Task", "id": "t1", "status": "requested", "intent": "order",
            "businessStatus": {"coding": [{"system": BUSINESS_STATUS_SYSTEM, "code": "2.0"}]},
            "for": {"reference": "http://ehr/fhir/Patient/p1", "display": "Zoë"},
            "basedOn": [{"reference": "ServiceRequest/sr1"}]})
    }

    fn book() -> StaffAction {
        StaffAction::Book {
            start: "2026-12-01T09:30:00-05:00".into(),
            minutes: 45,
            location: "Clinic B, room 4".into(),
        }
    }

    #[test]
    fn a_booking_at_the_end_of_time_is_refused_not_a_panic() {
        let task = json!({"resourceType": "Task", "status": "accepted", "for": {"reference": "Patient/p"}});
        for (start, minutes) in
            [("9999-12-31T23:59:00+00:00", 600), ("9999-12-31T23:59:59-23:59", 1), ("2026-12-01T09:00:00Z", 100_000)]
        {
            let book = StaffAction::Book { start: start.into(), minutes, location: "Room 1".into() };
            assert_eq!(
                apply(&book, &task, "sr", None, "2026-12-01T00:00:00Z", "appt").unwrap_err(),
                ActionError::AppointmentIncomplete,
                "{start} + {minutes} min"
            );
        }
    }

    #[test]
    fn a_referral_goes_through_its_life() {
        let accepted = apply(&StaffAction::Accept, &task(), "sr1", None, AT, "a1").unwrap();
        assert_eq!((accepted.task["status"].as_str(), accepted.business_status), (Some("accepted"), "3.0"));
        assert_eq!(accepted.event, Event::NotifyUpdateStatus);
        let booked = apply(&book(), &accepted.task, "sr1", None, AT, "a1").unwrap();
        assert_eq!(booked.event, Event::NotifyAddAppointment);
        let appt = booked.appointment.clone().unwrap();
        assert_eq!((appt["id"].as_str(), appt["status"].as_str()), (Some("a1"), Some("booked")));
        assert_eq!(appt["end"], "2026-12-01T10:15:00-05:00");
        assert_eq!(appt["participant"][0]["actor"]["reference"], "http://ehr/fhir/Patient/p1");
        assert_eq!(booked.task["businessStatus"]["coding"][0]["code"], "5.1.1");
        let rebooked = apply(&book(), &booked.task, "sr1", Some(&appt), AT, "a2").unwrap();
        assert_eq!((rebooked.event, rebooked.kind), (Event::NotifyUpdateAppointment, "rebooked"));
        assert_eq!(rebooked.appointment.as_ref().unwrap()["id"], "a1", "rebooked in place");
        let attended = apply(&StaffAction::Attended, &rebooked.task, "sr1", Some(&appt), AT, "x").unwrap();
        assert_eq!(attended.business_status, "5.1.4");
        assert_eq!(attended.appointment.unwrap()["status"], "fulfilled");
        let done = apply(&StaffAction::Complete, &attended.task, "sr1", None, AT, "x").unwrap();
        assert_eq!((done.task["status"].as_str(), done.business_status), (Some("completed"), "7.0"));
        assert_eq!(describe("completed", "7.0"), "Completed");
    }

    #[test]
    fn impossible_moves_are_refused_in_plain_words() {
        assert_eq!(
            apply(&StaffAction::Decline { reason: "  ".into() }, &task(), "sr1", None, AT, "a").unwrap_err(),
            ActionError::ReasonRequired
        );
        let declined =
            apply(&StaffAction::Decline { reason: "Out of area".into() }, &task(), "sr1", None, AT, "a").unwrap();
        assert_eq!(declined.task["statusReason"]["text"], "Out of area");
        assert_eq!(declined.task_status, "rejected");
        let err = apply(&StaffAction::Accept, &declined.task, "sr1", None, AT, "a").unwrap_err();
        assert_eq!(err.to_string(), "This referral is declined: it cannot be accepted now.");
        assert!(apply(&book(), &task(), "sr1", None, AT, "a").is_err(), "accept before booking");
        assert!(apply(&StaffAction::Attended, &task(), "sr1", None, AT, "a").is_err());
        let accepted = apply(&StaffAction::Accept, &task(), "sr1", None, AT, "a").unwrap();
        let no_place = StaffAction::Book { start: "2026-12-01T09:30:00Z".into(), minutes: 30, location: " ".into() };
        assert_eq!(
            apply(&no_place, &accepted.task, "sr1", None, AT, "a").unwrap_err(),
            ActionError::AppointmentIncomplete
        );
        let bad_time = StaffAction::Book { start: "tomorrow".into(), minutes: 30, location: "Room".into() };
        assert_eq!(
            apply(&bad_time, &accepted.task, "sr1", None, AT, "a").unwrap_err(),
            ActionError::AppointmentIncomplete
        );
    }
}
