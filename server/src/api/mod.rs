//! Our FHIR API for registered sources (EHRs): a SMART Backend Services token endpoint
//! (`client_credentials` + `private_key_jwt` against the source's registered JWKS) and reads of
//! the referrals that source launched.

pub mod assertion;
pub mod based_on;
pub mod clients;
pub mod discovery;
pub mod error;
pub mod fhir_read;
pub mod process_message;
pub mod scopes;
pub mod token_endpoint;
pub mod tokens;

use crate::state::AppState;
use axum::{
    routing::{get, post},
    Router,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/token", post(token_endpoint::token))
        .route("/.well-known/smart-configuration", get(discovery::smart_configuration))
        .route("/fhir/.well-known/smart-configuration", get(discovery::smart_configuration))
        .route("/fhir/metadata", get(discovery::capability_statement))
        .route("/fhir/$process-message", post(process_message::process_message))
        .route("/fhir/ServiceRequest/{id}", get(fhir_read::service_request))
        .route("/fhir/Task/{id}", get(fhir_read::task))
        .route("/fhir/Task", get(fhir_read::task_search))
        .route("/fhir/DocumentReference/{id}", get(fhir_read::document_reference))
        .route("/fhir/Binary/{id}", get(fhir_read::binary))
}
