//! FHIR R4 reads (`GET /fhir/{type}/{id}`) and `GET /fhir/Patient?identifier=`, guarded by
//! SMART scopes: `patient/` scopes reach only the launch patient's compartment, `user/` and
//! `system/` scopes reach everything of the type.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::bearer::live_token;
use crate::faults::ReadFault;
use crate::outcome::{fhir_response, outcome, unauthorized};
use crate::scopes::{contexts_allowing, ScopeContext};
use crate::seed::subject_of;
use crate::state::SharedState;
use crate::store::AccessToken;

/// Resource types this server can read.
pub const READABLE: &[&str] = &["Patient", "Practitioner", "PractitionerRole", "Encounter", "ServiceRequest"];

/// Is the resource in the compartment of `patient_id`?
fn in_patient_compartment(resource: &Value, patient_id: &str) -> bool {
    let reference = format!("Patient/{patient_id}");
    match resource.get("resourceType").and_then(Value::as_str) {
        Some("Patient") => resource.get("id").and_then(Value::as_str) == Some(patient_id),
        _ => subject_of(resource).as_deref() == Some(reference.as_str()),
    }
}

/// May `token` read `resource`?
fn may_read(token: &AccessToken, resource_type: &str, resource: Option<&Value>) -> bool {
    let contexts = contexts_allowing(&token.scope, resource_type, 'r');
    if contexts.contains(&ScopeContext::User) || contexts.contains(&ScopeContext::System) {
        return true;
    }
    if !contexts.contains(&ScopeContext::Patient) {
        return false;
    }
    let Some(patient) = token.context.as_ref().and_then(|c| c.patient.as_deref()) else {
        return false;
    };
    // An unknown id is answered 404 only to those who could read it if it existed.
    resource.is_none_or(|r| in_patient_compartment(r, patient))
}

pub async fn read(
    State(st): State<SharedState>,
    Path((resource_type, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !READABLE.contains(&resource_type.as_str()) {
        return outcome(
            StatusCode::NOT_FOUND,
            "error",
            "not-supported",
            &format!("resource type {resource_type} is not supported by this server"),
        );
    }
    let Some(token) = live_token(&st, &headers) else {
        return unauthorized("a valid bearer access token is required");
    };
    let resource = st.seed.get(&resource_type, &id);
    if !may_read(&token, &resource_type, resource) {
        return outcome(
            StatusCode::FORBIDDEN,
            "error",
            "forbidden",
            &format!("the token's scopes do not allow reading {resource_type}/{id}"),
        );
    }
    let global = st.store().faults;
    let faults = token.context.as_ref().map(|c| c.faults).unwrap_or_default().merged_over(&global);
    let fault = match resource_type.as_str() {
        "Patient" => faults.patient_read,
        "Practitioner" => faults.user_read,
        _ => ReadFault::Ok,
    };
    if fault == ReadFault::OtherResource {
        // Another resource of the type: the first one that is not the one asked for.
        if let Some(other) = st.seed.all_of(&resource_type).find(|r| r.get("id").and_then(Value::as_str) != Some(&id)) {
            return fhir_response(StatusCode::OK, other);
        }
    }
    if resource_type == "Patient" {
        match fault {
            ReadFault::Ok | ReadFault::OtherResource => {}
            ReadFault::NotFound => {
                return outcome(StatusCode::NOT_FOUND, "error", "not-found", &format!("Patient/{id} not found"))
            }
            ReadFault::ServerError => {
                return outcome(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "fatal",
                    "exception",
                    "sandbox fault: the patient store is unavailable",
                )
            }
        }
    }
    match resource {
        Some(r) => fhir_response(StatusCode::OK, r),
        None => outcome(StatusCode::NOT_FOUND, "error", "not-found", &format!("{resource_type}/{id} not found")),
    }
}

/// `GET /fhir/Patient?identifier=[system|]value`.
pub async fn search_patient(
    State(st): State<SharedState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(token) = live_token(&st, &headers) else {
        return unauthorized("a valid bearer access token is required");
    };
    let contexts = contexts_allowing(&token.scope, "Patient", 's');
    if contexts.is_empty() {
        return outcome(
            StatusCode::FORBIDDEN,
            "error",
            "forbidden",
            "the token's scopes do not allow searching Patient",
        );
    }
    let Some(identifier) = q.get("identifier").filter(|s| !s.is_empty()) else {
        return outcome(
            StatusCode::BAD_REQUEST,
            "error",
            "not-supported",
            "only the identifier search parameter is supported",
        );
    };
    let (system, value) = match identifier.split_once('|') {
        Some((s, v)) => (Some(s), v),
        None => (None, identifier.as_str()),
    };
    let wide = contexts.contains(&ScopeContext::User) || contexts.contains(&ScopeContext::System);
    let own = token.context.as_ref().and_then(|c| c.patient.clone());
    let matches: Vec<Value> = st
        .seed
        .all_of("Patient")
        .filter(|p| wide || own.as_deref().is_some_and(|pid| in_patient_compartment(p, pid)))
        .filter(|p| {
            p.get("identifier").and_then(Value::as_array).is_some_and(|ids| {
                ids.iter().any(|i| {
                    i.get("value").and_then(Value::as_str) == Some(value)
                        && system.is_none_or(|s| s.is_empty() || i.get("system").and_then(Value::as_str) == Some(s))
                })
            })
        })
        .cloned()
        .collect();
    let entries: Vec<Value> = matches
        .into_iter()
        .map(|p| {
            let id = p.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
            json!({"fullUrl": format!("{}/Patient/{id}", st.urls.fhir_base), "resource": p, "search": {"mode": "match"}})
        })
        .collect();
    let body = json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "type": "searchset",
        "total": entries.len(),
        "entry": entries,
    });
    fhir_response(StatusCode::OK, &body)
}
