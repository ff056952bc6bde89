//! `POST /fhir/$process-message`: messages from registered sources. `revoke-service-request`
//! is handled; any other event is refused with an OperationOutcome, as is a malformed bundle.

use super::{
    error::{outcome, ApiError},
    tokens::Caller,
};
use crate::{
    messaging::{event::Event, inbound},
    referral::{
        revoke::{self, Revoked},
        submit::REFERRAL_ID_SYSTEM,
    },
    smart::registry,
    state::AppState,
};
use axum::{body::Bytes, extract::State, http::StatusCode, response::Response};
use serde_json::Value;

pub async fn process_message(State(state): State<AppState>, caller: Caller, body: Bytes) -> Result<Response, ApiError> {
    caller.require("Bundle", 'c')?;
    let ehr = registry::registration_by_id(&state.config, &caller.ehr_id)
        .ok_or_else(|| ApiError::Internal(format!("token for unregistered EHR {}", caller.ehr_id)))?;
    let message = match inbound::parse(&body, &ehr.process_message.event_system) {
        Ok(m) => m,
        Err(why) => return Ok(outcome(StatusCode::BAD_REQUEST, "error", "invalid", &why.0)),
    };
    tracing::info!(client = %caller.client_id, event = %message.event_code, "message received");
    match message.event {
        Some(Event::RevokeServiceRequest) => revoke_referral(&state, &caller, &message).await,
        _ => Ok(outcome(
            StatusCode::UNPROCESSABLE_ENTITY,
            "error",
            "not-supported",
            &format!(
                "event {:?} is not supported here; this endpoint accepts revoke-service-request",
                message.event_code
            ),
        )),
    }
}

/// The referral a revoke names: `MessageHeader.focus` → our ServiceRequest, else a ServiceRequest
/// in the bundle by id or by our referral number.
async fn referral_named(state: &AppState, caller: &Caller, m: &inbound::Inbound) -> Result<Option<String>, ApiError> {
    let mut candidates: Vec<String> =
        m.focus.iter().filter_map(|f| inbound::service_request_id(f)).map(str::to_string).collect();
    candidates
        .extend(m.service_requests.iter().filter_map(|sr| sr.get("id").and_then(Value::as_str)).map(str::to_string));
    for id in candidates {
        let found = crate::store::referrals::id_from_ehr(&state.db, &id, &caller.ehr_id).await?;
        if found.is_some() {
            return Ok(found);
        }
    }
    for sr in &m.service_requests {
        for i in sr.get("identifier").and_then(Value::as_array).into_iter().flatten() {
            if i.get("system").and_then(Value::as_str) != Some(REFERRAL_ID_SYSTEM) {
                continue;
            }
            let Some(number) = i.get("value").and_then(Value::as_str) else { continue };
            let found = crate::store::referrals::id_by_number(&state.db, number, &caller.ehr_id).await?;
            if found.is_some() {
                return Ok(found);
            }
        }
    }
    Ok(None)
}

async fn revoke_referral(state: &AppState, caller: &Caller, m: &inbound::Inbound) -> Result<Response, ApiError> {
    let Some(id) = referral_named(state, caller, m).await? else {
        return Ok(outcome(
            StatusCode::NOT_FOUND,
            "error",
            "not-found",
            "no referral of yours matches the message's focus or ServiceRequest",
        ));
    };
    match revoke::revoke(state, &caller.ehr_id, &id).await.map_err(|e| ApiError::Internal(e.to_string()))? {
        Revoked::Now => Ok(outcome(
            StatusCode::OK,
            "information",
            "informational",
            &format!("ServiceRequest/{id} revoked: its personal health information was removed and its Task cancelled"),
        )),
        Revoked::Already => Ok(outcome(
            StatusCode::OK,
            "information",
            "informational",
            &format!("ServiceRequest/{id} was already revoked"),
        )),
        Revoked::Unknown => Ok(outcome(StatusCode::NOT_FOUND, "error", "not-found", "no such referral")),
    }
}
