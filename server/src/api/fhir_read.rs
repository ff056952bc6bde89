//! FHIR reads for registered sources: the referrals they launched, and nothing of anyone
//! else's (another source's referral answers exactly like a missing one).

use super::{
    based_on,
    error::{fhir_json, ApiError},
    tokens::Caller,
};
use crate::{state::AppState, store::referrals};
use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{json, Value};
use std::collections::HashMap;

fn base(state: &AppState) -> String {
    crate::referral::submit::fhir_base(state)
}

fn logged(caller: &Caller, what: &str, found: bool) {
    tracing::info!(client = %caller.client_id, resource = what, found, "FHIR API read");
}

pub async fn service_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("ServiceRequest", 'r')?;
    let row = referrals::service_request_json(&state.db, &id, &caller.ehr_id).await?;
    logged(&caller, "ServiceRequest", row.is_some());
    Ok(fhir_json(StatusCode::OK, row.ok_or(ApiError::NotFound)?))
}

pub async fn task(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    caller.require("Task", 'r')?;
    let row = referrals::task_json(&state.db, &id, &caller.ehr_id).await?;
    logged(&caller, "Task", row.is_some());
    Ok(fhir_json(StatusCode::OK, row.ok_or(ApiError::NotFound)?))
}

/// `GET /fhir/Task?based-on=…` or `?_id=…`: a searchset Bundle.
pub async fn task_search(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    caller.require("Task", 's')?;
    if let Some(unknown) = params.keys().find(|k| !matches!(k.as_str(), "based-on" | "_id" | "_format")) {
        return Err(ApiError::BadRequest(format!("search parameter {unknown:?} is not supported")));
    }
    let rows: Vec<(String, String)> = match (params.get("based-on"), params.get("_id")) {
        (Some(v), None) => match based_on::service_request_id(v) {
            Some(sr) => referrals::tasks_based_on(&state.db, sr, &caller.ehr_id).await?,
            None => vec![],
        },
        (None, Some(id)) => referrals::tasks_with_id(&state.db, id, &caller.ehr_id).await?,
        _ => return Err(ApiError::BadRequest("search Task by exactly one of based-on and _id".into())),
    };
    logged(&caller, "Task search", !rows.is_empty());
    let base = base(&state);
    let entries: Vec<Value> = rows
        .iter()
        .map(|(id, task)| {
            let resource: Value = serde_json::from_str(task).unwrap_or(Value::Null);
            json!({"fullUrl": format!("{base}/Task/{id}"), "resource": resource, "search": {"mode": "match"}})
        })
        .collect();
    let mut bundle = json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "type": "searchset",
        "total": entries.len(),
    });
    if !entries.is_empty() {
        bundle["entry"] = Value::Array(entries);
    }
    Ok(fhir_json(StatusCode::OK, bundle.to_string()))
}

pub async fn document_reference(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("DocumentReference", 'r')?;
    let row = referrals::document_reference_json(&state.db, &id, &caller.ehr_id).await?;
    logged(&caller, "DocumentReference", row.is_some());
    Ok(fhir_json(StatusCode::OK, row.ok_or(ApiError::NotFound)?))
}

/// The attachment's bytes with their content type, or a FHIR Binary when the client asks for
/// `application/fhir+json`.
pub async fn binary(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require("Binary", 'r')?;
    let row = referrals::binary(&state.db, &id, &caller.ehr_id).await?;
    logged(&caller, "Binary", row.is_some());
    let (content_type, data) = row.ok_or(ApiError::NotFound)?;
    let wants_fhir = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/fhir+json") || a.contains("application/json"));
    if wants_fhir {
        use base64::Engine;
        let body = json!({
            "resourceType": "Binary",
            "id": id,
            "contentType": content_type,
            "data": base64::engine::general_purpose::STANDARD.encode(&data),
        });
        return Ok(fhir_json(StatusCode::OK, body.to_string()));
    }
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::CONTENT_DISPOSITION, "attachment".to_string()),
        ],
        data,
    )
        .into_response())
}
