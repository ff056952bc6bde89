//! The EHR's own pages: patient list with "Refer" launch controls and the postMessage
//! listener, the message inbox, and `POST /ehr/launches`.
//!
//! Close requests the page understands (only from the app's origin):
//! - SMART Web Messaging 1.0 `ui.done`:
//!   `{"messageId","messagingHandle","messageType":"ui.done","payload":{}}`; answered once on
//!   `event.source` with `{"messageId","responseToMessageId","additionalResponsesExpected":false,
//!   "payload":{"status":"success"}}` (or `failure` + `statusDetail` for an unknown handle).
//! - the app's plain close request:
//!   `{"messageType":"ereferral.close","outcome":"submitted"|"abandoned","serviceRequest":"ServiceRequest/<id>"|null}`;
//!   closes the frame (or window) whose `contentWindow` is `event.source`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::faults::Faults;
use crate::html::{escape, js_string};
use crate::launch::{self, LaunchMode, LaunchRequest};
use crate::seed::{display_name, id_of};
use crate::state::{AppState, SharedState};
use crate::store::random_token;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}\
header{background:#12355b;color:#fff;padding:.6rem 1rem;display:flex;gap:1.5rem;align-items:center}\
header a{color:#cfe3ff}main{padding:1rem}table{border-collapse:collapse;background:#fff}\
td,th{border:1px solid #d0d7de;padding:.35rem .5rem;text-align:left;vertical-align:top}\
.banner{background:#e6f4ea;border:1px solid #1e7d32;padding:.6rem;margin-bottom:1rem}\
.opts label{margin-right:1rem}dialog{width:min(1100px,95vw);height:85vh;padding:0}\
dialog .bar,.inline .bar{display:flex;justify-content:space-between;padding:.3rem .6rem;background:#e9eef5}\
dialog iframe{width:100%;height:calc(100% - 2.4rem);border:0}\
.inline{border:2px solid #12355b;margin:1rem 0;background:#fff}.inline iframe{width:100%;height:640px;border:0}\
#events{font-family:ui-monospace,monospace;font-size:.85rem}";

/// Wrap `body` in the common page layout. `nonce`: CSP nonce of the page's script, if any.
pub fn layout(title: &str, script: Option<(&str, &str)>, body: &str) -> String {
    let script = match script {
        Some((nonce, js)) => format!("<script nonce=\"{}\">{}</script>", escape(nonce), js),
        None => String::new(),
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} \u{2013} Sandbox EHR</title><style>{STYLE}</style></head><body>\
         <header><strong>Sandbox EHR</strong><nav><a href=\"/\">Patients</a> \u{b7} <a href=\"/inbox\">Inbox</a> \u{b7} \
         <a href=\"/admin/faults\">Faults</a></nav></header><main>{}</main>{}</body></html>",
        escape(title),
        body,
        script
    )
}

/// Page response with a CSP allowing in frames only the app origin and the sandbox itself (a
/// launch's iframe passes through our own `/auth/authorize` on its way back to the app), and
/// only the nonce'd script.
fn page(st: &AppState, nonce: &str, html: String) -> Response {
    let csp = format!(
        "default-src 'self'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; \
         frame-src 'self' {}; connect-src 'self'; img-src 'self' data:; frame-ancestors 'self'; base-uri 'none'; form-action 'self'",
        st.app_origin
    );
    let mut resp = Html(html).into_response();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        resp.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

fn text(v: &Value, ptr: &str) -> String {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// `GET /` — the EHR's patient list.
pub async fn home(State(st): State<SharedState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let nonce = random_token(16);
    let mut body = String::new();
    if let Some(returned) = q.get("returned") {
        body.push_str(&format!(
            "<div class=\"banner\" data-testid=\"returned-banner\">Back from the eReferral app (launch <code>{}</code>).</div>",
            escape(returned)
        ));
    }
    // Clinician selector: each practitioner and each role.
    let mut options = String::new();
    for p in st.seed.all_of("Practitioner") {
        let id = id_of(p).unwrap_or_default();
        options.push_str(&format!(
            "<option value=\"Practitioner/{0}\">{1} (Practitioner)</option>",
            escape(&id),
            escape(&display_name(p).unwrap_or_else(|| id.clone()))
        ));
    }
    for r in st.seed.all_of("PractitionerRole") {
        let id = id_of(r).unwrap_or_default();
        options.push_str(&format!(
            "<option value=\"PractitionerRole/{0}\">{1} \u{2013} {2} (PractitionerRole)</option>",
            escape(&id),
            escape(&text(r, "/practitioner/display")),
            escape(&text(r, "/code/0/text"))
        ));
    }
    body.push_str(&format!(
        "<h1>Patients</h1><div class=\"opts\"><label>Signed-in clinician <select id=\"user\" data-testid=\"clinician-select\">{options}</select></label></div>\
         <div class=\"opts\">\
         <label><input type=\"checkbox\" id=\"opt-web-messaging\" data-testid=\"opt-web-messaging\" checked> SMART Web Messaging</label>\
         <label><input type=\"checkbox\" id=\"opt-draft\" data-testid=\"opt-draft\"> Use prepared draft referral</label>\
         <label><input type=\"checkbox\" id=\"opt-fhir-user-absolute\" data-testid=\"opt-fhir-user-absolute\"> fhirUser as absolute URL</label>\
         <label><input type=\"checkbox\" id=\"opt-banner\" data-testid=\"opt-need-patient-banner\" checked> need_patient_banner</label>\
         </div>"
    ));
    body.push_str("<table data-testid=\"patient-list\"><thead><tr><th>Patient</th><th>Born</th><th>Gender</th><th>Health card</th><th>MRN</th><th>Refer</th></tr></thead><tbody>");
    for p in st.seed.all_of("Patient") {
        let id = id_of(p).unwrap_or_default();
        let ids = p.get("identifier").and_then(Value::as_array).cloned().unwrap_or_default();
        let ident = |pred: &dyn Fn(&Value) -> bool| {
            ids.iter()
                .find(|i| pred(i))
                .and_then(|i| i.get("value").and_then(Value::as_str))
                .unwrap_or("\u{2014}")
                .to_string()
        };
        let hcn = ident(&|i| {
            i.get("system").and_then(Value::as_str)
                == Some("https://fhir.infoway-inforoute.ca/NamingSystem/ca-on-patient-hcn")
        });
        let mrn = ident(&|i| i.pointer("/type/coding/0/code").and_then(Value::as_str) == Some("MR"));
        let encounter = st.seed.encounter_for(&id).unwrap_or_default();
        let draft = st.seed.draft_for(&id).unwrap_or_default();
        let mut buttons = String::new();
        for (mode, label) in [
            ("modal", "Refer (modal)"),
            ("inline", "Refer (inline)"),
            ("link", "Refer (link)"),
            ("tab", "Refer (new tab)"),
        ] {
            buttons.push_str(&format!(
                "<button type=\"button\" class=\"refer\" data-testid=\"refer-{mode}-{0}\" data-mode=\"{mode}\" data-patient-id=\"{0}\" \
                 data-encounter-id=\"{1}\" data-draft-id=\"{2}\">{label}</button> ",
                escape(&id),
                escape(&encounter),
                escape(&draft)
            ));
        }
        buttons.push_str(&format!(
            "<button type=\"button\" class=\"refer\" data-testid=\"referrals-{0}\" data-mode=\"modal\" data-intent=\"referral-status\" \
             data-patient-id=\"{0}\" data-encounter-id=\"{1}\">Referrals (status)</button> ",
            escape(&id),
            escape(&encounter)
        ));
        body.push_str(&format!(
            "<tr data-testid=\"patient-{0}\"><td>{1}{2}</td><td>{3}</td><td>{4}</td><td>{5}</td><td>{6}</td><td>{7}</td></tr>",
            escape(&id),
            escape(&display_name(p).unwrap_or_else(|| id.clone())),
            if draft.is_empty() { String::new() } else { " <small>(draft referral prepared)</small>".to_string() },
            escape(&text(p, "/birthDate")),
            escape(&text(p, "/gender")),
            escape(&hcn),
            escape(&mrn),
            buttons
        ));
    }
    body.push_str("</tbody></table>");
    body.push_str(
        "<div id=\"inline-frames\" data-testid=\"inline-frames\"></div>\
         <h2>EHR events</h2><ol id=\"events\" data-testid=\"ehr-events\"></ol>",
    );
    let js = PAGE_JS.replace("__APP_ORIGIN__", &js_string(&st.app_origin));
    page(&st, &nonce, layout("Patients", Some((&nonce, &js)), &body))
}

const PAGE_JS: &str = r#"
"use strict";
const APP_ORIGIN = __APP_ORIGIN__;
const launches = new Map(); // launchId -> {id, handle, mode, frame, container, win}
const eventsEl = document.getElementById("events");
function log(text) {
  const li = document.createElement("li");
  li.textContent = text;
  eventsEl.appendChild(li);
}
function uuid() {
  if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, x => x.toString(16).padStart(2, "0")).join("");
  return h.slice(0,8)+"-"+h.slice(8,12)+"-"+h.slice(12,16)+"-"+h.slice(16,20)+"-"+h.slice(20);
}
function makeFrame(l, mode) {
  const f = document.createElement("iframe");
  f.src = l.launch_url;
  f.title = "eReferral app";
  f.setAttribute("data-testid", "app-frame");
  f.setAttribute("data-launch-id", l.launch_id);
  f.setAttribute("data-mode", mode);
  return f;
}
function makeBar(id, label) {
  const bar = document.createElement("div");
  bar.className = "bar";
  const span = document.createElement("span");
  span.textContent = label + " \u2014 launch " + id;
  const btn = document.createElement("button");
  btn.type = "button";
  btn.textContent = "Close";
  btn.setAttribute("data-testid", "frame-close");
  btn.addEventListener("click", () => closeLaunch(id, "closed by the EHR user"));
  bar.append(span, btn);
  return bar;
}
function closeLaunch(id, why) {
  const l = launches.get(id);
  if (!l) { return false; }
  launches.delete(id);
  if (l.container) {
    if (l.container.tagName === "DIALOG" && l.container.open) { l.container.close(); }
    l.container.remove();
  }
  if (l.win && !l.win.closed) { try { l.win.close(); } catch (e) { /* ignore */ } }
  log("closed launch " + id + " (" + why + ")");
  return true;
}
async function refer(btn) {
  const mode = btn.dataset.mode;
  const useDraft = document.getElementById("opt-draft").checked;
  const body = {
    patient_id: btn.dataset.patientId,
    encounter_id: btn.dataset.encounterId || null,
    draft_service_request_id: (useDraft && btn.dataset.draftId) ? btn.dataset.draftId : null,
    user: document.getElementById("user").value,
    mode: mode,
    web_messaging: document.getElementById("opt-web-messaging").checked,
    need_patient_banner: document.getElementById("opt-banner").checked,
    fhir_user_absolute: document.getElementById("opt-fhir-user-absolute").checked,
    intent: btn.dataset.intent || null
  };
  let l;
  try {
    const r = await fetch("/ehr/launches", {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body)});
    if (!r.ok) { log("launch failed: HTTP " + r.status); return; }
    l = await r.json();
  } catch (e) { log("launch failed: " + e); return; }
  log("launch " + l.launch_id + " (" + mode + ") for Patient/" + body.patient_id + " as " + body.user);
  const entry = {id: l.launch_id, handle: l.messaging_handle || null, mode: mode, frame: null, container: null, win: null};
  if (mode === "link") { location.href = l.launch_url; return; }
  if (mode === "tab") {
    entry.win = window.open(l.launch_url, "_blank");
    launches.set(l.launch_id, entry);
    return;
  }
  const frame = makeFrame(l, mode);
  entry.frame = frame;
  if (mode === "modal") {
    const d = document.createElement("dialog");
    d.setAttribute("data-testid", "app-modal");
    d.setAttribute("data-launch-id", l.launch_id);
    d.append(makeBar(l.launch_id, "eReferral"), frame);
    d.addEventListener("cancel", (ev) => { ev.preventDefault(); closeLaunch(l.launch_id, "closed by the EHR user"); });
    document.body.appendChild(d);
    entry.container = d;
    launches.set(l.launch_id, entry);
    d.showModal();
  } else {
    const div = document.createElement("div");
    div.className = "inline";
    div.setAttribute("data-testid", "inline-app");
    div.setAttribute("data-launch-id", l.launch_id);
    div.append(makeBar(l.launch_id, "eReferral (inline)"), frame);
    document.getElementById("inline-frames").appendChild(div);
    entry.container = div;
    launches.set(l.launch_id, entry);
  }
}
document.querySelectorAll("button.refer").forEach(b => b.addEventListener("click", () => refer(b)));
function launchBySource(source) {
  for (const l of launches.values()) {
    if ((l.frame && l.frame.contentWindow === source) || (l.win && l.win === source)) { return l; }
  }
  return null;
}
window.addEventListener("message", (ev) => {
  if (ev.origin !== APP_ORIGIN) { log("ignored message from " + ev.origin); return; }
  const m = ev.data;
  if (!m || typeof m !== "object") { log("ignored non-object message from " + ev.origin); return; }
  if (typeof m.messagingHandle === "string" && typeof m.messageType === "string") {
    let target = null;
    for (const l of launches.values()) { if (l.handle && l.handle === m.messagingHandle) { target = l; } }
    const reply = {messageId: uuid(), responseToMessageId: m.messageId, additionalResponsesExpected: false, payload: {}};
    if (!target) {
      reply.payload = {status: "failure", statusDetail: {text: "Unknown or closed messaging handle"}};
      log(m.messageType + " refused: unknown messaging handle");
    } else if (m.messageType !== "ui.done") {
      reply.payload = {status: "failure", statusDetail: {text: "Unsupported messageType " + m.messageType}};
      log(m.messageType + " refused: unsupported (launch " + target.id + ")");
    } else {
      reply.payload = {status: "success"};
      log("ui.done accepted (launch " + target.id + ")");
    }
    if (ev.source) { ev.source.postMessage(reply, APP_ORIGIN); }
    if (target && m.messageType === "ui.done") { closeLaunch(target.id, "ui.done"); }
    return;
  }
  if (m.messageType === "ereferral.close") {
    const outcome = (m.outcome === "submitted" || m.outcome === "abandoned") ? m.outcome : "unknown";
    const sr = typeof m.serviceRequest === "string" ? " " + m.serviceRequest : "";
    const l = launchBySource(ev.source);
    log("close request: " + outcome + sr + (l ? " (launch " + l.id + ")" : " (no matching frame)"));
    if (l) { closeLaunch(l.id, "close request"); }
    return;
  }
  log("ignored message of unknown type from " + ev.origin);
});
"#;

/// Body of `POST /ehr/launches`.
#[derive(Debug, Deserialize)]
pub struct LaunchBody {
    pub patient_id: String,
    /// Defaults to the first Practitioner.
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub encounter_id: Option<String>,
    #[serde(default)]
    pub draft_service_request_id: Option<String>,
    /// Use the patient's prepared draft ServiceRequest, if any.
    #[serde(default)]
    pub use_draft: bool,
    #[serde(default = "default_mode")]
    pub mode: LaunchMode,
    #[serde(default = "yes")]
    pub web_messaging: bool,
    #[serde(default = "yes")]
    pub need_patient_banner: bool,
    #[serde(default)]
    pub fhir_user_absolute: bool,
    #[serde(default)]
    pub intent: Option<String>,
    #[serde(default)]
    pub faults: Faults,
}

fn default_mode() -> LaunchMode {
    LaunchMode::Modal
}
fn yes() -> bool {
    true
}

fn bad_request(msg: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg}))).into_response()
}

/// `POST /ehr/launches` → `{launch_id, launch_url, messaging_handle}`.
pub async fn create_launch(State(st): State<SharedState>, Json(b): Json<LaunchBody>) -> Response {
    if st.seed.get("Patient", &b.patient_id).is_none() {
        return bad_request("unknown patient_id");
    }
    let user = match b.user {
        Some(u) => u,
        None => match st.seed.first_id("Practitioner") {
            Some(id) => format!("Practitioner/{id}"),
            None => return bad_request("no practitioner in the seed data"),
        },
    };
    let user_ok = (user.starts_with("Practitioner/") || user.starts_with("PractitionerRole/"))
        && st.seed.resolve(&user).is_some();
    if !user_ok {
        return bad_request("user must be a known Practitioner/x or PractitionerRole/y");
    }
    let encounter_id = b.encounter_id.filter(|e| !e.is_empty()).or_else(|| st.seed.encounter_for(&b.patient_id));
    let draft = b.draft_service_request_id.filter(|d| !d.is_empty()).or_else(|| {
        if b.use_draft {
            st.seed.draft_for(&b.patient_id)
        } else {
            None
        }
    });
    let id = launch::create(
        &st,
        LaunchRequest {
            patient_id: b.patient_id,
            user,
            encounter_id,
            draft_service_request_id: draft,
            mode: b.mode,
            web_messaging: b.web_messaging,
            need_patient_banner: b.need_patient_banner,
            faults: b.faults,
            fhir_user_absolute: b.fhir_user_absolute,
            intent: b.intent.filter(|i| !i.is_empty()),
        },
    );
    let handle = st.store().launches.get(&id).and_then(|l| l.messaging_handle.clone());
    Json(json!({
        "launch_id": id,
        "launch_url": launch::launch_url(&st, &id).to_string(),
        "messaging_handle": handle,
    }))
    .into_response()
}

/// `GET /inbox` — messages received at `$process-message`.
pub async fn inbox(State(st): State<SharedState>) -> Response {
    let messages = st.store().messages.clone();
    let mut body = String::from("<h1>Inbox</h1>");
    if messages.is_empty() {
        body.push_str("<p data-testid=\"inbox-empty\">No messages received yet.</p>");
    } else {
        body.push_str("<table data-testid=\"inbox\"><thead><tr><th>Event</th><th>Patient</th><th>Received</th><th>Times received</th><th>Raw</th></tr></thead><tbody>");
        for m in messages.iter().rev() {
            body.push_str(&format!(
                "<tr data-testid=\"inbox-row\"><td>{}</td><td>{}</td><td>{}</td><td data-testid=\"times-received\">{}</td>\
                 <td><a href=\"/inbox/{}\">{}</a></td></tr>",
                escape(&m.event),
                escape(m.patient.as_deref().unwrap_or("\u{2014}")),
                escape(&m.received_at),
                m.times_received,
                escape(&url::form_urlencoded::byte_serialize(m.bundle_id.as_bytes()).collect::<String>()),
                escape(&m.bundle_id)
            ));
        }
        body.push_str("</tbody></table>");
    }
    Html(layout("Inbox", None, &body)).into_response()
}

/// `GET /inbox/{bundle_id}` — the raw Bundle as received.
pub async fn inbox_raw(State(st): State<SharedState>, Path(bundle_id): Path<String>) -> Response {
    let raw = st.store().messages.iter().find(|m| m.bundle_id == bundle_id).map(|m| m.raw.clone());
    match raw {
        Some(v) => crate::outcome::fhir_response(StatusCode::OK, &v),
        None => crate::outcome::outcome(StatusCode::NOT_FOUND, "error", "not-found", "no such message"),
    }
}
