//! A referral's record as people read it: its content in words, attachments, appointment,
//! timeline and the state of every message sent about it. Shared by the intake console and the
//! clinician's status pages.

use crate::store::referrals::{self, TimelineEvent};
use crate::{fhir::display::patient_banner, smart::registry, state::AppState};
use serde_json::Value;

/// `2026-11-22 12:00 UTC`.
pub fn when(unix: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix).ok().and_then(|t| t.format(&fmt).ok()).unwrap_or_default()
}

/// Everything a record page shows.
#[derive(Debug, Clone, Default)]
pub struct Detail {
    pub id: String,
    pub referral_number: String,
    pub ehr_id: String,
    pub patient_id: String,
    pub revoked: bool,
    pub task_status: String,
    pub business_status: String,
    pub status_reason: Option<String>,
    /// (label, value) pairs, already in words.
    pub facts: Vec<(String, String)>,
    /// (document id, file name, size).
    pub documents: Vec<(String, String, String)>,
    pub appointment: Option<String>,
    pub timeline: Vec<(String, TimelineEvent)>,
    /// (event, state in words).
    pub messages: Vec<(String, String)>,
    /// The last change, in words.
    pub last_change: String,
}

pub async fn load(state: &AppState, id: &str) -> Result<Option<Detail>, referrals::ReadError> {
    let Some(r) = referrals::detail(&state.db, id).await? else {
        return Ok(None);
    };
    let mut d = Detail {
        id: id.to_string(),
        referral_number: r.referral_number.clone(),
        ehr_id: r.ehr_id.clone(),
        patient_id: r.patient_id.clone(),
        revoked: r.revoked_at.is_some(),
        last_change: when(r.revoked_at.or(r.updated_at).unwrap_or(r.created_at)),
        task_status: r.task_status.clone(),
        business_status: r.business_status.clone(),
        ..Default::default()
    };
    if d.revoked {
        return Ok(Some(d));
    }
    let json = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
    let (patient, sr, task, consent) =
        (json(&r.patient_json), json(&r.service_request_json), json(&r.task_json), json(&r.consent_json));
    let text = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("—").to_string();
    d.status_reason = task.pointer("/statusReason/text").and_then(Value::as_str).map(str::to_string);
    let banner = patient_banner(&patient);
    let ehr =
        registry::registration_by_id(&state.config, &r.ehr_id).map(|e| e.name.clone()).unwrap_or(r.ehr_id.clone());
    let notes: Vec<&str> = sr
        .get("note")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|n| n.get("text").and_then(Value::as_str))
        .collect();
    d.facts = vec![
        ("Patient".into(), banner.name),
        ("Born".into(), banner.birth_date.unwrap_or_else(|| "—".into())),
        ("Gender".into(), banner.gender),
        ("Identifier".into(), banner.identifier.map(|(k, v)| format!("{k}: {v}")).unwrap_or_else(|| "—".into())),
        ("Service".into(), state.directory.get(&r.service_id).map(|s| s.name.clone()).unwrap_or_else(|| "—".into())),
        ("Requested".into(), text(&sr, "/code/text")),
        ("Priority".into(), text(&sr, "/priority")),
        ("Reason".into(), text(&sr, "/reasonCode/0/text")),
        ("Notes".into(), if notes.is_empty() { "—".into() } else { notes.join(" / ") }),
        ("Requested by".into(), text(&sr, "/requester/display")),
        (
            "Consent".into(),
            format!("{} (given by {})", text(&consent, "/provision/type"), text(&consent, "/performer/0/display")),
        ),
        ("From".into(), ehr),
        ("Sent".into(), text(&sr, "/authoredOn")),
    ];
    let docs = referrals::documents(&state.db, id).await?;
    d.documents = docs.into_iter().map(|(i, n, s)| (i, n, format!("{} KB", (s + 1023) / 1024))).collect();
    d.appointment = r.appointment_json.as_deref().map(json).map(|a| {
        let place = a.pointer("/participant/1/actor/display").and_then(Value::as_str).unwrap_or("");
        format!("{} · {} ({})", text(&a, "/start"), place, text(&a, "/status"))
    });
    d.timeline = referrals::timeline(&state.db, id).await?.into_iter().map(|e| (when(e.at), e)).collect();
    let messages = crate::store::outbox::messages_of(&state.db, id).await?;
    d.messages = messages
        .into_iter()
        .map(|(event, status, attempts, rejection)| {
            let state = match status.as_str() {
                "delivered" => "delivered".to_string(),
                "rejected" => format!("rejected by the EHR: {}", rejection.unwrap_or_default()),
                "cancelled" => "cancelled".to_string(),
                _ => format!("waiting to deliver ({attempts} attempts so far)"),
            };
            (event, state)
        })
        .collect();
    Ok(Some(d))
}
