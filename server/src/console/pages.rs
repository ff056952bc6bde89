//! The intake console's HTML: plain server-rendered pages and forms (no scripts), every value
//! escaped. Pure: the handlers gather the data.

use crate::referral::{
    record::Detail,
    status_change::{business_status_text, describe},
};

pub use crate::error::escape_html as escape;

/// A whole page.
pub fn layout(title: &str, signed_in: Option<(&str, &str)>, body: &str) -> String {
    let bar = match signed_in {
        Some((name, csrf)) => format!(
            "<nav class=\"console-nav\"><a href=\"/console\">Referral queue</a> · <span>Signed in as {}</span> \
             <form method=\"post\" action=\"/console/logout\" class=\"inline-form\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\" class=\"secondary\">Sign out</button></form></nav>",
            escape(name),
            escape(csrf)
        ),
        None => String::new(),
    };
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · eReferral intake</title><link rel=\"stylesheet\" href=\"/pkg/ereferral.css\"></head>\
         <body><header class=\"app-header\"><strong>eReferral intake console</strong>{bar}</header><main class=\"console\">{body}</main></body></html>",
        escape(title)
    )
}

pub fn login(error: Option<&str>, username: &str) -> String {
    let error = error
        .map(|e| format!("<div class=\"error-summary\" role=\"alert\"><p>{}</p></div>", escape(e)))
        .unwrap_or_default();
    layout(
        "Sign in",
        None,
        &format!(
            "<section class=\"card\"><h1>Sign in</h1>{error}<form method=\"post\" action=\"/console/login\">\
             <div class=\"field\"><label for=\"username\">Username</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required value=\"{}\"></div>\
             <div class=\"field\"><label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required></div>\
             <button type=\"submit\" data-testid=\"sign-in\">Sign in</button></form></section>",
            escape(username)
        ),
    )
}

/// One row of the queue.
#[derive(Debug, Clone)]
pub struct QueueRow {
    pub id: String,
    pub referral_number: String,
    pub patient: String,
    pub service: String,
    pub priority: String,
    pub task_status: String,
    pub business_status: String,
    pub received: String,
}

pub fn queue(rows: &[QueueRow], all: bool, staff: (&str, &str)) -> String {
    let body: String = rows
        .iter()
        .map(|r| {
            format!(
                "<tr data-testid=\"queue-row\"><td><a href=\"/console/r/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td data-testid=\"queue-status\">{}</td><td>{}</td></tr>",
                escape(&r.id),
                escape(&r.referral_number),
                escape(&r.patient),
                escape(&r.service),
                escape(&r.priority),
                describe(&r.task_status, &r.business_status),
                escape(&r.received)
            )
        })
        .collect();
    let table = if rows.is_empty() {
        "<p data-testid=\"queue-empty\">No referrals here.</p>".to_string()
    } else {
        format!(
            "<table class=\"queue\"><thead><tr><th scope=\"col\">Referral</th><th scope=\"col\">Patient</th><th scope=\"col\">Service</th>\
             <th scope=\"col\">Priority</th><th scope=\"col\">Status</th><th scope=\"col\">Received</th></tr></thead><tbody>{body}</tbody></table>"
        )
    };
    let switch = if all {
        "<a href=\"/console\">Show open referrals only</a>"
    } else {
        "<a href=\"/console?all=1\">Show all referrals</a>"
    };
    layout(
        "Referral queue",
        Some(staff),
        &format!("<h1>{}</h1><p>{switch}</p>{table}", if all { "All referrals" } else { "Open referrals" }),
    )
}

fn hidden(csrf: &str, action: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"action\" value=\"{}\">",
        escape(csrf),
        escape(action)
    )
}

fn simple_action(id: &str, csrf: &str, action: &str, label: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/console/r/{}\" class=\"inline-form\">{}<button type=\"submit\" data-testid=\"action-{}\">{}</button></form>",
        escape(id),
        hidden(csrf, action),
        escape(action),
        escape(label)
    )
}

fn actions(d: &Detail, csrf: &str) -> String {
    let id = &d.id;
    let open = matches!(d.task_status.as_str(), "requested" | "received");
    let accepted = matches!(d.task_status.as_str(), "accepted" | "in-progress");
    let booked = d.task_status == "in-progress" && d.business_status == "5.1.1";
    let mut out = String::new();
    if open {
        out.push_str(&simple_action(id, csrf, "accept", "Accept referral"));
    }
    if open || d.task_status == "accepted" {
        out.push_str(&format!(
            "<form method=\"post\" action=\"/console/r/{0}\" class=\"card\">{1}<h3>Decline</h3>\
             <div class=\"field\"><label for=\"reason\">Reason (sent to the referring clinician's EHR)</label>\
             <textarea id=\"reason\" name=\"reason\" required rows=\"2\"></textarea></div>\
             <button type=\"submit\" class=\"danger\" data-testid=\"action-decline\">Decline referral</button></form>",
            escape(id),
            hidden(csrf, "decline")
        ));
    }
    if accepted {
        out.push_str(&format!(
            "<form method=\"post\" action=\"/console/r/{0}\" class=\"card\">{1}<h3>{2}</h3>\
             <div class=\"field\"><label for=\"date\">Date</label><input id=\"date\" name=\"date\" type=\"date\" required></div>\
             <div class=\"field\"><label for=\"time\">Time</label><input id=\"time\" name=\"time\" type=\"time\" required></div>\
             <div class=\"field\"><label for=\"minutes\">Length (minutes)</label><input id=\"minutes\" name=\"minutes\" type=\"number\" min=\"5\" max=\"480\" value=\"30\" required></div>\
             <div class=\"field\"><label for=\"location\">Location</label><input id=\"location\" name=\"location\" required></div>\
             <button type=\"submit\" data-testid=\"action-book\">{2}</button></form>",
            escape(id),
            hidden(csrf, "book"),
            if d.appointment.is_some() { "Change the appointment" } else { "Book an appointment" }
        ));
    }
    if booked {
        out.push_str(&simple_action(id, csrf, "attended", "Mark attended"));
        out.push_str(&simple_action(id, csrf, "not_attended", "Mark not attended"));
    }
    if accepted {
        out.push_str(&simple_action(id, csrf, "complete", "Mark completed"));
    }
    if out.is_empty() {
        "<p>No further changes are possible.</p>".into()
    } else {
        out
    }
}

/// The status line, appointment, content, attachments and timeline of a record. Attachments link
/// to `{doc_base}/{id}` when a base is given (staff), else are listed by name.
pub fn record_sections(d: &Detail, doc_base: Option<&str>, middle: &str) -> String {
    let facts: String = d.facts.iter().map(|(k, v)| format!("<dt>{}</dt><dd>{}</dd>", escape(k), escape(v))).collect();
    let docs: String = d
        .documents
        .iter()
        .map(|(id, name, size)| match doc_base {
            Some(base) => {
                format!("<li><a href=\"{}/{}\">{}</a> ({})</li>", escape(base), escape(id), escape(name), escape(size))
            }
            None => format!("<li>{} ({})</li>", escape(name), escape(size)),
        })
        .collect();
    let docs = if docs.is_empty() { "<p>None.</p>".into() } else { format!("<ul>{docs}</ul>") };
    let timeline: String = d
        .timeline
        .iter()
        .map(|(when, e)| {
            format!(
                "<li data-testid=\"timeline-event\"><strong>{}</strong> · {}{}{}</li>",
                escape(&e.kind.replace('_', " ")),
                escape(when),
                e.text.as_deref().map(|t| format!(" · {}", escape(t))).unwrap_or_default(),
                e.actor.as_deref().map(|a| format!(" · by {}", escape(a))).unwrap_or_default()
            )
        })
        .collect();
    let messages: String = d.messages.iter().map(|(e, s)| format!("<li>{} · {}</li>", escape(e), escape(s))).collect();
    let status = describe(&d.task_status, &d.business_status);
    let reason = d.status_reason.as_deref().map(|r| format!(" ({})", escape(r))).unwrap_or_default();
    let appointment = d
        .appointment
        .as_deref()
        .map(|a| format!("<p>Appointment: <strong data-testid=\"appointment\">{}</strong></p>", escape(a)))
        .unwrap_or_default();
    format!(
        "<p>Status: <strong data-testid=\"detail-status\">{status}</strong>{reason} · Task {} · business status {} · last change {}</p>{appointment}\
         <section class=\"card\"><h2>Referral</h2><dl class=\"review\">{facts}</dl><h3>Attachments</h3>{docs}</section>{middle}\
         <section class=\"card\"><h2>Timeline</h2><ol>{timeline}</ol><h3>Messages to the referring EHR</h3><ul>{messages}</ul></section>",
        escape(&d.task_status),
        escape(&business_status_text(&d.business_status)),
        escape(&d.last_change)
    )
}

pub fn detail(d: &Detail, staff: (&str, &str), notice: Option<&str>, error: Option<&str>) -> String {
    let title = format!("Referral {}", d.referral_number);
    if d.revoked {
        return layout(
            &title,
            Some(staff),
            &format!(
                "<section class=\"card\" data-testid=\"referral-revoked\"><h1>{}</h1><p>This referral was revoked: the patient withdrew consent. \
                 Its details have been deleted; do not act on it.</p></section>",
                escape(&title)
            ),
        );
    }
    let notice = notice
        .map(|n| format!("<p class=\"delivery delivery-delivered\" role=\"status\">{}</p>", escape(n)))
        .unwrap_or_default();
    let error = error
        .map(|e| {
            format!(
                "<div class=\"error-summary\" role=\"alert\" data-testid=\"console-error\"><p>{}</p></div>",
                escape(e)
            )
        })
        .unwrap_or_default();
    let actions = format!("<section class=\"card\"><h2>Actions</h2>{}</section>", actions(d, staff.1));
    let docs = format!("/console/r/{}/doc", d.id);
    layout(
        &title,
        Some(staff),
        &format!("<h1>{}</h1>{notice}{error}{}", escape(&title), record_sections(d, Some(&docs), &actions)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_from_outside_is_escaped() {
        assert_eq!(escape("<b a=\"x\">O'Brien & co</b>"), "&lt;b a=&quot;x&quot;&gt;O&#39;Brien &amp; co&lt;/b&gt;");
        let d = Detail {
            id: "r1".into(),
            referral_number: "ER-1".into(),
            task_status: "requested".into(),
            business_status: "2.0".into(),
            facts: vec![("Reason".into(), "</dd><script>x</script>".into())],
            ..Default::default()
        };
        let html = detail(&d, ("Nurse <Kim>", "tok\""), None, None);
        assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"));
        assert!(html.contains("Nurse &lt;Kim&gt;") && html.contains("tok&quot;"));
        assert!(html.contains("action-accept") && html.contains("action-decline") && !html.contains("action-book"));
    }
}
