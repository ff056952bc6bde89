//! Discovery documents: SMART configuration, OpenID configuration, JWKS, the
//! CapabilityStatement (with the oauth-uris extension) and the SMART style sheet.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::config::DEFAULT_SCOPES;
use crate::faults::DiscoveryFault;
use crate::outcome::fhir_response;
use crate::state::SharedState;

fn scopes_supported() -> Vec<&'static str> {
    let mut s: Vec<&'static str> = DEFAULT_SCOPES.to_vec();
    s.extend(["system/*.rs", "system/Bundle.c"]);
    s
}

/// `url` on the other origin of [`DiscoveryFault`]: the same server under the name `localhost`.
pub fn on_other_host(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_host(Some("localhost"));
            u.to_string()
        }
        Err(_) => url.to_string(),
    }
}

/// The authorize, token and JWKS URLs as discovery tells them (after the discovery fault).
fn advertised(st: &SharedState) -> (String, String, String) {
    let u = &st.urls;
    let fault = { st.store().faults.discovery };
    match fault {
        DiscoveryFault::Ok => (u.authorize.clone(), u.token.clone(), u.jwks.clone()),
        DiscoveryFault::OtherHost => (on_other_host(&u.authorize), on_other_host(&u.token), u.jwks.clone()),
        DiscoveryFault::JwksOtherHost => (u.authorize.clone(), u.token.clone(), on_other_host(&u.jwks)),
    }
}

/// `GET /fhir/.well-known/smart-configuration` (SMART App Launch 2.2 §Conformance).
pub async fn smart_configuration(State(st): State<SharedState>) -> Json<Value> {
    let u = &st.urls;
    let (authorize, token, jwks) = advertised(&st);
    Json(json!({
        "issuer": u.fhir_base,
        "jwks_uri": jwks,
        "authorization_endpoint": authorize,
        "token_endpoint": token,
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "scopes_supported": scopes_supported(),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": [
            "launch-ehr",
            "launch-standalone",
            "authorize-post",
            "client-public",
            "client-confidential-symmetric",
            "client-confidential-asymmetric",
            "context-ehr-patient",
            "context-ehr-encounter",
            "context-standalone-patient",
            "context-passthrough-banner",
            "context-passthrough-style",
            "sso-openid-connect",
            "permission-offline",
            "permission-online",
            "permission-patient",
            "permission-user",
            "permission-v1",
            "permission-v2"
        ],
    }))
}

/// `GET /fhir/.well-known/openid-configuration` (OIDC Discovery 1.0).
pub async fn openid_configuration(State(st): State<SharedState>) -> Json<Value> {
    let u = &st.urls;
    let (authorize, token, jwks) = advertised(&st);
    Json(json!({
        "issuer": u.fhir_base,
        "jwks_uri": jwks,
        "authorization_endpoint": authorize,
        "token_endpoint": token,
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "fhirUser", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "fhirUser"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
    }))
}

/// `GET /auth/jwks`: the current signing key only (after a rotation, the new one).
pub async fn jwks(State(st): State<SharedState>) -> Json<Value> {
    let rotated = {
        let mut store = st.store();
        store.jwks_fetches += 1;
        store.rotated
    };
    Json(st.keys.jwks(rotated).clone())
}

/// `GET /smart-style.json` (`smart_style_url`).
pub async fn smart_style() -> Json<Value> {
    Json(json!({
        "color_background": "#f6f7f9",
        "color_error": "#b00020",
        "color_highlight": "#0b5cad",
        "color_modal_backdrop": "rgba(0,0,0,0.45)",
        "color_success": "#1e7d32",
        "color_text": "#1b1f24",
        "dim_border_radius": "6px",
        "dim_font_size": "16px",
        "dim_spacing_size": "16px",
        "font_family_body": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
        "font_family_heading": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
    }))
}

/// `GET /fhir/metadata`.
pub async fn capability_statement(State(st): State<SharedState>) -> Response {
    let u = &st.urls;
    let (authorize, token, _) = advertised(&st);
    let read_types = ["Patient", "Practitioner", "PractitionerRole", "Encounter", "ServiceRequest"];
    let resources: Vec<Value> = read_types
        .iter()
        .map(|t| {
            let mut r = json!({"type": t, "interaction": [{"code": "read"}]});
            if *t == "Patient" {
                r["interaction"] = json!([{"code": "read"}, {"code": "search-type"}]);
                r["searchParam"] = json!([{"name": "identifier", "type": "token"}]);
            }
            r
        })
        .collect();
    let body = json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-01",
        "kind": "instance",
        "software": {"name": "Sandbox EHR (RMS Source simulator)", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "Sandbox EHR", "url": u.fhir_base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "security": {
                "cors": false,
                "service": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "SMART-on-FHIR"
                }]}],
                "extension": [{
                    "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                    "extension": [
                        {"url": "authorize", "valueUri": authorize},
                        {"url": "token", "valueUri": token}
                    ]
                }]
            },
            "resource": resources,
            "operation": [{
                "name": "process-message",
                "definition": "http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message"
            }]
        }]
    });
    fhir_response(StatusCode::OK, &body)
}

/// `GET /healthz`.
pub async fn healthz() -> impl IntoResponse {
    "ok"
}
