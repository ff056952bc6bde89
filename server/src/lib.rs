#![recursion_limit = "512"]
//! The eReferral server (RMS Target): SMART EHR launch (backend-for-frontend), launch-scoped
//! sessions, and Leptos server rendering.

pub mod api;
pub mod backend;
pub mod config;
pub mod console;
pub mod db;
pub mod directory;
pub mod error;
pub mod fhir;
pub mod http;
pub mod messaging;
pub mod my_referrals;
pub mod outbox;
pub mod referral;
pub mod referral_status;
pub mod session;
pub mod smart;
pub mod startup;
pub mod state;
pub mod telemetry;

use axum::{middleware, routing::get, Router};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use state::AppState;
use std::sync::Arc;
use tower_http::compression::CompressionLayer;

/// The whole HTTP application. Tests call this directly with their own state.
pub fn app(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    let backend = app::backend::Backend(Arc::new(backend::ServerBackend::new(state.clone())));
    let options = state.leptos_options.clone();
    let site_root = options.site_root.to_string();
    let pkg_dir = options.site_pkg_dir.to_string();
    let leptos_context = move || provide_context(backend.clone());

    Router::new()
        .route("/healthz", get(http::health::healthz))
        .merge(smart::router())
        .merge(api::router())
        .merge(console::router())
        .merge(referral_status::router())
        .merge(my_referrals::router())
        .merge(http::wizard_forms::router(&state))
        .leptos_routes_with_context(&state, routes, leptos_context, {
            let options = options.clone();
            move || app::shell(options.clone())
        })
        .merge(http::static_assets::pkg_router(&site_root, &pkg_dir))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(app::shell))
        .layer(middleware::from_fn_with_state(state.security.clone(), http::security_headers::apply))
        .layer(CompressionLayer::new())
        .layer(http::request_log::layer())
        .with_state(state)
}
