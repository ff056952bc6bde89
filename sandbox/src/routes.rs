//! The router: every endpoint in one place.

use axum::routing::{get, post};
use axum::Router;
use tower_http::trace::TraceLayer;

use crate::state::SharedState;
use crate::{admin, authorize, discovery, fhir, messages, pages, token};

/// Build the sandbox's router.
pub fn router(state: SharedState) -> Router {
    Router::new()
        .route("/", get(pages::home))
        .route("/healthz", get(discovery::healthz))
        .route("/smart-style.json", get(discovery::smart_style))
        .route("/inbox", get(pages::inbox))
        .route("/inbox/{bundle_id}", get(pages::inbox_raw))
        .route("/ehr/launches", post(pages::create_launch))
        .route("/admin/faults", get(admin::show).post(admin::set))
        .route("/admin/rotate-key", post(admin::rotate_key))
        .route("/admin/revoke-tokens", post(admin::revoke_tokens))
        .route("/auth/authorize", get(authorize::authorize_get).post(authorize::authorize_post))
        .route("/auth/token", post(token::token))
        .route("/auth/jwks", get(discovery::jwks))
        .route("/fhir/.well-known/smart-configuration", get(discovery::smart_configuration))
        .route("/fhir/.well-known/openid-configuration", get(discovery::openid_configuration))
        .route("/fhir/metadata", get(discovery::capability_statement))
        .route("/fhir/$process-message", post(messages::process_message))
        .route("/fhir/Patient", get(fhir::search_patient))
        .route("/fhir/{resource_type}/{id}", get(fhir::read))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
