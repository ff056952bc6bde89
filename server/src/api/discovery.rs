//! What a source needs to find our API: SMART configuration (Backend Services) and a
//! CapabilityStatement.

use super::{error::fhir_json, token_endpoint::token_url};
use crate::state::AppState;
use axum::{extract::State, http::StatusCode, response::Response, Json};
use serde_json::{json, Value};

pub async fn smart_configuration(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "token_endpoint": token_url(&state.config),
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": crate::config::DEFAULT_API_SCOPES.split_whitespace().collect::<Vec<_>>(),
        "capabilities": ["client-confidential-asymmetric"],
    }))
}

pub async fn capability_statement(State(state): State<AppState>) -> Response {
    let read = |t: &str| json!({"type": t, "interaction": [{"code": "read"}]});
    let body = json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-22",
        "kind": "instance",
        "software": {"name": "ereferral-server", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "eReferral (RMS Target)", "url": crate::referral::submit::fhir_base(&state)},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [{
            "mode": "server",
            "security": {
                "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}]}],
                "extension": [{
                    "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                    "extension": [{"url": "token", "valueUri": token_url(&state.config)}]
                }]
            },
            "resource": [
                read("ServiceRequest"),
                {"type": "Task", "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": [{"name": "based-on", "type": "reference"}, {"name": "_id", "type": "token"}]},
                read("DocumentReference"),
                read("Binary"),
            ]
        }]
    });
    fhir_json(StatusCode::OK, body.to_string())
}
