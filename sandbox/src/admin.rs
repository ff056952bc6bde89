//! `GET|POST /admin/faults`: show and set the global faults.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;
use serde_json::Value;

use crate::faults::Faults;
use crate::html::escape;
use crate::pages::layout;
use crate::state::SharedState;

fn wants_json(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json"))
}

pub async fn show(State(st): State<SharedState>, headers: HeaderMap) -> Response {
    let faults = st.store().faults;
    if wants_json(&headers) {
        return Json(faults).into_response();
    }
    let current = serde_json::to_value(faults).unwrap_or(Value::Null);
    let select = |name: &str, options: &[&str]| -> String {
        let selected = current.get(name).and_then(Value::as_str).unwrap_or("ok");
        let opts: String = options
            .iter()
            .map(|o| {
                format!(
                    "<option value=\"{0}\"{1}>{0}</option>",
                    escape(o),
                    if *o == selected { " selected" } else { "" }
                )
            })
            .collect();
        format!(
            "<label>{0} <select name=\"{0}\" data-testid=\"fault-{0}\">{1}</select></label><br>",
            escape(name),
            opts
        )
    };
    let form = format!(
        "<h2>Global faults</h2><form method=\"post\" action=\"/admin/faults\">{}{}{}{}{}<button type=\"submit\" data-testid=\"faults-save\">Save</button></form>\
         <p>Current: <code data-testid=\"faults-current\">{}</code></p>\
         <p>Also: <code>POST /admin/faults</code> with a JSON body such as <code>{{\"process_message\":\"timeout\"}}</code> \
         (numbers too: <code>slow_token_millis</code>, <code>slow_notify_add_millis</code>); <code>POST /admin/rotate-key</code> \
         (sign id_tokens with the next key, publish only it); <code>POST /admin/revoke-tokens</code> (every access token \
         issued so far answers 401 from now on; refresh tokens still work).</p>",
        select("process_message", &["ok", "server_error", "timeout", "reject", "accept_then_timeout", "ok_with_error"]),
        select("token", &["ok", "server_error", "invalid_grant", "not_bearer", "empty_access_token", "short_lived"]),
        select(
            "id_token",
            &["ok", "expired", "bad_signature", "wrong_audience", "wrong_nonce", "alg_none", "unknown_kid"]
        ),
        format!(
            "{}{}",
            select("patient_read", &["ok", "not_found", "server_error", "other_resource"]),
            select("user_read", &["ok", "not_found", "server_error", "other_resource"])
        ),
        format!(
            "{}{}",
            select("launch_context", &["ok", "omit_patient", "malformed_patient", "other_patient_on_refresh"]),
            select("discovery", &["ok", "other_host", "jwks_other_host"])
        ),
        escape(&current.to_string()),
    );
    Html(layout("Faults", None, &form)).into_response()
}

/// `POST /admin/rotate-key`.
pub async fn rotate_key(State(st): State<SharedState>) -> Response {
    st.store().rotated = true;
    tracing::info!("signing key rotated");
    Redirect::to("/admin/faults").into_response()
}

/// `POST /admin/revoke-tokens`.
pub async fn revoke_tokens(State(st): State<SharedState>) -> Response {
    st.store().access_tokens.clear();
    tracing::info!("access tokens revoked");
    Redirect::to("/admin/faults").into_response()
}

pub async fn set(State(st): State<SharedState>, headers: HeaderMap, body: Bytes) -> Response {
    let is_json = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("json"));
    let parsed: Result<Faults, String> = if is_json {
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    } else {
        let map: serde_json::Map<String, Value> =
            url::form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect();
        serde_json::from_value(Value::Object(map)).map_err(|e| e.to_string())
    };
    let faults = match parsed {
        Ok(f) => f,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": "invalid faults", "detail": e})))
                .into_response()
        }
    };
    st.store().faults = faults;
    tracing::info!(?faults, "global faults set");
    if is_json || wants_json(&headers) {
        Json(faults).into_response()
    } else {
        Redirect::to("/admin/faults").into_response()
    }
}
