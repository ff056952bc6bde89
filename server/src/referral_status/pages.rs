//! The clinician's status pages (inside an EHR launch): plain server-rendered HTML that works
//! without scripts, every value escaped.

use crate::console::pages::{escape, record_sections};
use crate::referral::{
    record::Detail,
    status_change::{business_status_text, describe},
};

/// One referral in the patient's list.
#[derive(Debug, Clone)]
pub struct ListRow {
    pub id: String,
    pub referral_number: String,
    pub service: String,
    pub task_status: String,
    pub business_status: String,
    pub sent: String,
    pub last_change: String,
    /// The notification to the EHR, in words.
    pub delivery: String,
}

fn layout(title: &str, launch: &str, patient: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · eReferral</title><link rel=\"stylesheet\" href=\"/pkg/ereferral.css\"></head><body>\
         <header class=\"app-header\"><strong>eReferral</strong> · <span>{}</span>\
         <nav class=\"console-nav\"><a href=\"/l/{launch}/referrals\">Referrals for this patient</a> · <a href=\"/l/{launch}\">Referral in progress</a></nav></header>\
         <main class=\"console\">{body}</main></body></html>",
        escape(title),
        escape(patient),
        launch = escape(launch)
    )
}

pub fn list(launch: &str, patient: &str, rows: &[ListRow]) -> String {
    let body = if rows.is_empty() {
        "<p data-testid=\"no-referrals\">No referrals have been sent for this patient from this EHR.</p>".to_string()
    } else {
        let rows: String = rows
            .iter()
            .map(|r| {
                format!(
                    "<tr data-testid=\"status-row\"><td><a href=\"/l/{}/referrals/{}\">{}</a></td><td>{}</td><td data-testid=\"status-text\">{}</td>\
                     <td>{} · {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(launch),
                    escape(&r.id),
                    escape(&r.referral_number),
                    escape(&r.service),
                    describe(&r.task_status, &r.business_status),
                    escape(&r.task_status),
                    escape(&business_status_text(&r.business_status)),
                    escape(&r.sent),
                    escape(&r.last_change),
                    escape(&r.delivery)
                )
            })
            .collect();
        format!(
            "<table class=\"queue\"><thead><tr><th scope=\"col\">Referral</th><th scope=\"col\">Service</th><th scope=\"col\">Status</th>\
             <th scope=\"col\">Task · business status</th><th scope=\"col\">Sent</th><th scope=\"col\">Last change</th><th scope=\"col\">Your EHR was told</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    };
    layout("Referrals", launch, patient, &format!("<h1>Referrals for {}</h1>{body}", escape(patient)))
}

pub fn detail(launch: &str, patient: &str, d: &Detail) -> String {
    layout(&format!("Referral {}", d.referral_number), launch, patient, &record_body(d))
}

/// A referral's record, read-only (or the revoked notice): for clinicians, in a launch or their own.
pub fn record_body(d: &Detail) -> String {
    let title = format!("Referral {}", d.referral_number);
    if d.revoked {
        format!(
            "<h1>{}</h1><section class=\"card\" data-testid=\"referral-revoked\"><p>This referral was revoked because the patient withdrew consent. \
             Its details have been deleted.</p></section>",
            escape(&title)
        )
    } else {
        format!("<h1>{}</h1>{}", escape(&title), record_sections(d, None, ""))
    }
}

pub fn unavailable(message: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>eReferral</title><link rel=\"stylesheet\" href=\"/pkg/ereferral.css\"></head>\
         <body><main class=\"console\"><section class=\"card error\"><h1>Not available</h1><p>{}</p></section></main></body></html>",
        escape(message)
    )
}
