//! Clinicians check their referrals from an EHR launch: `/l/{launch}/referrals` lists the
//! launched patient's referrals from the same registered EHR (status, last change, whether the
//! EHR was told), and `/l/{launch}/referrals/{id}` shows one with its timeline and content,
//! read-only. Nothing of another patient or another EHR is ever shown.

pub mod pages;

use crate::{
    fhir::display::patient_banner,
    referral::{delivery, record, submit::NOTIFY_ADD_EVENT},
    session::authorise::authorised_session,
    state::AppState,
};
use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Response},
    routing::get,
    Router,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/l/{launch}/referrals", get(list)).route("/l/{launch}/referrals/{id}", get(detail))
}

/// Status pages open inside the EHR's frame: the plain-page CSP (set for every response that has
/// none of its own) lets only registered EHR origins frame them.
fn page(_state: &AppState, status: StatusCode, html: String) -> Response {
    (status, Html(html)).into_response()
}

fn failed(state: &AppState, what: &str, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "status pages: {what}");
    page(state, StatusCode::INTERNAL_SERVER_ERROR, pages::unavailable(&app::error::AppError::Internal.to_string()))
}

async fn list(State(state): State<AppState>, Path(launch): Path<String>, headers: HeaderMap) -> Response {
    let session = match authorised_session(&state, &launch, &headers).await {
        Ok(s) => s,
        Err(e) => return page(&state, StatusCode::GONE, pages::unavailable(&e.to_string())),
    };
    let rows = match crate::store::referrals::of_patient(&state.db, &session.ehr_id, &session.patient_id).await {
        Ok(r) => r,
        Err(e) => return failed(&state, "listing referrals failed", e),
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let row = match crate::store::outbox::delivery(&state.db, &r.id, NOTIFY_ADD_EVENT).await {
            Ok(row) => row,
            Err(e) => return failed(&state, "delivery lookup failed", e),
        };
        let told = match delivery::view_of(row.as_ref()) {
            app::wizard_api::DeliveryView::Delivered => "Yes".to_string(),
            app::wizard_api::DeliveryView::Retrying { .. } => "Not yet (retrying)".to_string(),
            app::wizard_api::DeliveryView::Rejected { reason } => format!("Rejected by the EHR: {reason}"),
        };
        out.push(pages::ListRow {
            service: state.directory.get(&r.service_id).map(|s| s.name.clone()).unwrap_or_else(|| "—".into()),
            referral_number: r.referral_number,
            task_status: r.task_status,
            business_status: r.business_status,
            sent: record::when(r.created_at),
            last_change: record::when(r.revoked_at.or(r.updated_at).unwrap_or(r.created_at)),
            delivery: if r.revoked_at.is_some() { "—".into() } else { told },
            id: r.id,
        });
    }
    let patient = session.patient().map(|p| patient_banner(&p).name).unwrap_or_default();
    page(&state, StatusCode::OK, pages::list(&launch, &patient, &out))
}

async fn detail(
    State(state): State<AppState>,
    Path((launch, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let session = match authorised_session(&state, &launch, &headers).await {
        Ok(s) => s,
        Err(e) => return page(&state, StatusCode::GONE, pages::unavailable(&e.to_string())),
    };
    let d = match record::load(&state, &id).await {
        Ok(d) => d,
        Err(e) => return failed(&state, "loading a referral failed", e),
    };
    // Only the launched patient's referrals from the launching EHR: anything else is "not found".
    let Some(d) = d.filter(|d| d.ehr_id == session.ehr_id && d.patient_id == session.patient_id) else {
        return page(
            &state,
            StatusCode::NOT_FOUND,
            pages::unavailable("There is no such referral for this patient. Go back to the list of referrals."),
        );
    };
    let patient = session.patient().map(|p| patient_banner(&p).name).unwrap_or_default();
    page(&state, StatusCode::OK, pages::detail(&launch, &patient, &d))
}
