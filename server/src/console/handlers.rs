//! The intake console's HTTP handlers: thin; the pages are in `pages`, the changes in
//! `referral::progress`.

use super::{
    accounts,
    auth::{self, Staff},
    pages::{self, QueueRow},
};
use crate::{
    fhir::display::patient_banner,
    referral::{
        progress::{self, ProgressError},
        record::{self, when},
        status_change::StaffAction,
    },
    state::AppState,
};
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use serde_json::Value;
use std::collections::HashMap;

/// Console pages are never framed.
fn page(status: StatusCode, html: String) -> Response {
    let mut r = (status, axum::response::Html(html)).into_response();
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(crate::http::security_headers::PLAIN_UNFRAMED_CSP),
    );
    r
}

fn internal(what: &str, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "console: {what}");
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        pages::layout(
            "Error",
            None,
            "<h1>Something went wrong on our side</h1><p>Try again; if it keeps happening, contact support.</p>",
        ),
    )
}

fn form(body: &Bytes) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// Refuses posts from other sites (the console's cookie is `SameSite=Strict` as well).
fn cross_site(state: &AppState, headers: &HeaderMap) -> bool {
    crate::http::wizard_forms::same_origin(state, headers).is_err()
}

pub async fn login_page() -> Response {
    page(StatusCode::OK, pages::login(None, ""))
}

pub async fn login(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if cross_site(&state, &headers) {
        return page(
            StatusCode::FORBIDDEN,
            pages::login(Some("The form did not come from this sign-in page. Try again."), ""),
        );
    }
    let f = form(&body);
    let username = f.get("username").map(|s| s.trim().to_string()).unwrap_or_default();
    let password = f.get("password").cloned().unwrap_or_default();
    let now = crate::smart::now_unix();
    let client = crate::http::client_addr::of(&headers).to_string();
    match accounts::reserve_attempt(&state.db, &username, &client, now).await {
        Ok(accounts::Throttle::Allowed) => {}
        Ok(limit) => {
            let text = match limit {
                accounts::Throttle::Client => {
                    "Too many failed sign-ins from this computer. Wait 15 minutes, then try again."
                }
                _ => "Too many failed sign-ins for this username. Wait 15 minutes, then try again.",
            };
            tracing::warn!(?limit, "console sign-in refused: too many failures");
            return page(StatusCode::TOO_MANY_REQUESTS, pages::login(Some(text), &username));
        }
        Err(e) => return internal("sign-in throttle failed", e),
    }
    let checked = accounts::check(&state.db, &username, &password).await;
    if let Ok(Some(_)) = &checked {
        if let Err(e) = accounts::record_success(&state.db, &username).await {
            return internal("recording a sign-in failed", e);
        }
    }
    match checked {
        Ok(Some(_)) => match auth::sign_in(&state, &username).await {
            Ok(cookie) => {
                tracing::info!(staff = %username, "console sign-in");
                let mut r = Redirect::to("/console").into_response();
                r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("ascii cookie"));
                r
            }
            Err(e) => internal("sign-in failed", e),
        },
        Ok(None) => {
            tracing::warn!("console sign-in refused");
            page(
                StatusCode::UNAUTHORIZED,
                pages::login(Some("That username and password do not match an account."), &username),
            )
        }
        Err(e) => internal("account lookup failed", e),
    }
}

pub async fn logout(State(state): State<AppState>, staff: Staff, headers: HeaderMap, body: Bytes) -> Response {
    if cross_site(&state, &headers) || !staff.csrf_ok(form(&body).get("csrf").map(String::as_str)) {
        return Redirect::to("/console").into_response();
    }
    if let Err(e) = staff.sign_out(&state).await {
        return internal("sign-out failed", e);
    }
    let mut r = Redirect::to("/console/login").into_response();
    r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&auth::clear_cookie()).expect("ascii cookie"));
    r
}

pub async fn queue(State(state): State<AppState>, staff: Staff, Query(q): Query<HashMap<String, String>>) -> Response {
    let all = q.get("all").is_some_and(|v| v == "1");
    let rows = match crate::store::referrals::queue(&state.db, all).await {
        Ok(r) => r,
        Err(e) => return internal("queue lookup failed", e),
    };
    let rows: Vec<QueueRow> = rows
        .into_iter()
        .map(|r| {
            let patient: Value = serde_json::from_str(&r.patient_json).unwrap_or(Value::Null);
            let sr: Value = serde_json::from_str(&r.service_request_json).unwrap_or(Value::Null);
            QueueRow {
                id: r.id,
                referral_number: r.referral_number,
                patient: patient_banner(&patient).name,
                service: state.directory.get(&r.service_id).map(|s| s.name.clone()).unwrap_or_else(|| "—".into()),
                priority: sr.get("priority").and_then(Value::as_str).unwrap_or("routine").to_string(),
                task_status: r.task_status,
                business_status: r.business_status,
                received: when(r.created_at),
            }
        })
        .collect();
    page(StatusCode::OK, pages::queue(&rows, all, (&staff.display_name, &staff.csrf)))
}

pub async fn detail(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match record::load(&state, &id).await {
        Ok(Some(d)) => {
            let notice =
                q.get("done").map(|k| format!("Saved: {}. The referring EHR is being told.", k.replace('_', " ")));
            page(StatusCode::OK, pages::detail(&d, (&staff.display_name, &staff.csrf), notice.as_deref(), None))
        }
        Ok(None) => page(StatusCode::NOT_FOUND, pages::layout("Not found", None, "<h1>There is no such referral</h1>")),
        Err(e) => internal("referral lookup failed", e),
    }
}

pub async fn act(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let refuse = |status: StatusCode, msg: &str| {
        let msg = msg.to_string();
        let state = state.clone();
        let staff = staff.clone();
        let id = id.clone();
        async move {
            match record::load(&state, &id).await {
                Ok(Some(d)) => page(status, pages::detail(&d, (&staff.display_name, &staff.csrf), None, Some(&msg))),
                Ok(None) => {
                    page(StatusCode::NOT_FOUND, pages::layout("Not found", None, "<h1>There is no such referral</h1>"))
                }
                Err(e) => internal("referral lookup failed", e),
            }
        }
    };
    if cross_site(&state, &headers) || !staff.csrf_ok(f.get("csrf").map(String::as_str)) {
        tracing::warn!(staff = %staff.username, "console post refused: CSRF token or origin wrong");
        return refuse(
            StatusCode::FORBIDDEN,
            "The form was out of date or did not come from this console. Nothing was changed; try again.",
        )
        .await;
    }
    let Some(action) = StaffAction::from_form(&f, &state.config.console_utc_offset) else {
        return refuse(StatusCode::BAD_REQUEST, "Unknown action. Nothing was changed.").await;
    };
    match progress::progress(&state, &id, &action, &staff.display_name).await {
        Ok(kind) => Redirect::to(&format!("/console/r/{id}?done={kind}")).into_response(),
        Err(ProgressError::Internal(e)) => internal("progressing a referral failed", e),
        Err(e) => refuse(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()).await,
    }
}

pub async fn document(
    State(state): State<AppState>,
    _staff: Staff,
    Path((id, doc)): Path<(String, String)>,
) -> Response {
    let row = crate::store::referrals::document_file(&state.db, &id, &doc).await;
    match row {
        Ok(Some((filename, content_type, data))) => {
            let safe: String = filename.chars().filter(|c| c.is_ascii_alphanumeric() || "._- ".contains(*c)).collect();
            let mut r = (StatusCode::OK, data).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_str(&content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
            );
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!("attachment; filename=\"{safe}\""))
                    .unwrap_or(HeaderValue::from_static("attachment")),
            );
            r
        }
        Ok(None) => page(StatusCode::NOT_FOUND, pages::layout("Not found", None, "<h1>There is no such file</h1>")),
        Err(e) => internal("document lookup failed", e),
    }
}
