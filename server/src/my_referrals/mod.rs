//! "My referrals": a practitioner signs in through their EHR (SMART standalone launch, the EHR as
//! identity provider) and sees the referrals they sent or authorised, across patients, from that
//! EHR only. `/my` starts the sign-in; `/me/{session}` lists; `/me/{session}/referrals/{id}`
//! shows one read-only.

pub mod session;

use crate::{
    console::pages::escape,
    fhir::display::patient_banner,
    referral::{record, status_change::describe},
    smart::registry,
    state::AppState,
};
use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
    Router,
};
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/my", get(start))
        .route("/me/{session}", get(list))
        .route("/me/{session}/referrals/{id}", get(detail))
}

fn page(status: StatusCode, title: &str, who: Option<&str>, session: Option<&str>, body: &str) -> Response {
    let nav = match (who, session) {
        (Some(w), Some(s)) => format!(
            "<nav class=\"console-nav\"><a href=\"/me/{}\">My referrals</a> · <span>Signed in through your EHR as {}</span></nav>",
            escape(s),
            escape(w)
        ),
        _ => String::new(),
    };
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · eReferral</title><link rel=\"stylesheet\" href=\"/pkg/ereferral.css\"></head><body>\
         <header class=\"app-header\"><strong>eReferral</strong>{nav}</header><main class=\"console\">{body}</main></body></html>",
        escape(title)
    );
    let mut r = (status, Html(html)).into_response();
    // A top-level tab of its own: never framed.
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(crate::http::security_headers::PLAIN_UNFRAMED_CSP),
    );
    r
}

fn gone() -> Response {
    page(
        StatusCode::GONE,
        "Sign in again",
        None,
        None,
        "<section class=\"card error\"><h1>Sign in again</h1><p>This page belongs to a sign-in that has ended or to another browser. \
         <a href=\"/my\">Sign in through your EHR</a> to see your referrals.</p></section>",
    )
}

fn failed(what: &str, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "my referrals: {what}");
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Error",
        None,
        None,
        "<h1>Something went wrong on our side</h1><p>Please try again.</p>",
    )
}

/// `/my`: with one registered EHR, straight to its sign-in; otherwise a choice.
async fn start(State(state): State<AppState>) -> Response {
    let launch =
        |iss: &str| format!("/launch?iss={}", url::form_urlencoded::byte_serialize(iss.as_bytes()).collect::<String>());
    if let [only] = state.config.ehrs.as_slice() {
        return Redirect::to(&launch(only.issuer.as_str())).into_response();
    }
    let links: String = state
        .config
        .ehrs
        .iter()
        .map(|e| format!("<li><a href=\"{}\">{}</a></li>", escape(&launch(e.issuer.as_str())), escape(&e.name)))
        .collect();
    page(
        StatusCode::OK,
        "My referrals",
        None,
        None,
        &format!("<h1>My referrals</h1><p>Sign in through your EHR:</p><ul>{links}</ul>"),
    )
}

/// The signed-in practitioner of `session` and their reference as a requester (absolute on their
/// EHR, as ServiceRequests write it); else the page to show instead.
async fn signed_in(
    state: &AppState,
    session: &str,
    headers: &HeaderMap,
) -> Result<(session::Practitioner, String), Response> {
    let who = match session::authorised(state, session, headers).await {
        Ok(Some(w)) => w,
        Ok(None) => return Err(gone()),
        Err(e) => return Err(failed("session lookup failed", e)),
    };
    let base = registry::registration_by_id(&state.config, &who.ehr_id)
        .map(|e| e.issuer.as_str().trim_end_matches('/').to_string())
        .unwrap_or_default();
    let as_requester = format!("{base}/{}", who.practitioner_ref);
    Ok((who, as_requester))
}

/// The referrals of `who` from their EHR: sent by them, or naming them as the requester.
async fn list(State(state): State<AppState>, Path(session): Path<String>, headers: HeaderMap) -> Response {
    let (who, as_requester) = match signed_in(&state, &session, &headers).await {
        Ok(w) => w,
        Err(page) => return page,
    };
    let rows =
        match crate::store::referrals::of_practitioner(&state.db, &who.ehr_id, &who.practitioner_ref, &as_requester)
            .await
        {
            Ok(r) => r,
            Err(e) => return failed("listing referrals failed", e),
        };
    let body = if rows.is_empty() {
        "<p data-testid=\"no-referrals\">You have no referrals from this EHR.</p>".to_string()
    } else {
        let rows: String = rows
            .iter()
            .map(|r| {
                let (id, number, patient, service, status, business, created) = (
                    &r.id,
                    &r.referral_number,
                    &r.patient_json,
                    &r.service_id,
                    &r.task_status,
                    &r.business_status,
                    &r.created_at,
                );
                let patient: Value = serde_json::from_str(patient).unwrap_or(Value::Null);
                format!(
                    "<tr data-testid=\"my-row\"><td><a href=\"/me/{}/referrals/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&session),
                    escape(id),
                    escape(number),
                    escape(&patient_banner(&patient).name),
                    escape(&state.directory.get(service).map(|s| s.name.clone()).unwrap_or_else(|| "—".into())),
                    describe(status, business),
                    escape(&record::when(*created))
                )
            })
            .collect();
        format!(
            "<table class=\"queue\"><thead><tr><th scope=\"col\">Referral</th><th scope=\"col\">Patient</th><th scope=\"col\">Service</th>\
             <th scope=\"col\">Status</th><th scope=\"col\">Sent</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    };
    page(
        StatusCode::OK,
        "My referrals",
        Some(&who.display_name),
        Some(&session),
        &format!("<h1>My referrals</h1>{body}"),
    )
}

async fn detail(
    State(state): State<AppState>,
    Path((session, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (who, as_requester) = match signed_in(&state, &session, &headers).await {
        Ok(w) => w,
        Err(page) => return page,
    };
    let mine: Option<(Option<String>, Option<String>)> =
        match crate::store::referrals::owners(&state.db, &id, &who.ehr_id).await {
            Ok(r) => r,
            Err(e) => return failed("referral lookup failed", e),
        };
    let allowed =
        mine.is_some_and(|(p, r)| p.as_deref() == Some(&who.practitioner_ref) || r.as_deref() == Some(&as_requester));
    if !allowed {
        return page(
            StatusCode::NOT_FOUND,
            "Not found",
            Some(&who.display_name),
            Some(&session),
            "<section class=\"card error\"><h1>Not found</h1><p>There is no such referral of yours.</p></section>",
        );
    }
    let d = match record::load(&state, &id).await {
        Ok(Some(d)) => d,
        Ok(None) => return gone(),
        Err(e) => return failed("loading a referral failed", e),
    };
    let title = format!("Referral {}", d.referral_number);
    let body = crate::referral_status::pages::record_body(&d);
    page(StatusCode::OK, &title, Some(&who.display_name), Some(&session), &body)
}
