#![recursion_limit = "512"]
//! The eReferral server (RMS Target): SMART EHR launch (backend-for-frontend), launch-scoped
//! sessions, and Leptos server rendering.

pub mod api;
pub mod backend;
pub mod config;
pub mod console;
pub mod directory;
pub mod error;
pub mod fhir;
pub mod http;
pub mod messaging;
pub mod my_referrals;
pub mod outbox;
pub mod referral;
pub mod referral_status;
pub mod sandbox_credentials;
pub mod session;
pub mod smart;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;

use axum::{
    error_handling::HandleErrorLayer,
    extract::DefaultBodyLimit,
    http::{header, HeaderName, StatusCode},
    middleware,
    routing::get,
    Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use state::AppState;
use std::{sync::Arc, time::Duration};
use tower::ServiceBuilder;
use tower_http::{compression::CompressionLayer, timeout::TimeoutLayer};

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
        .merge(http::wizard_forms::router())
        .leptos_routes_with_context(&state, routes, leptos_context, {
            let options = options.clone();
            move || app::shell(options.clone())
        })
        .merge(http::static_assets::pkg_router(&site_root, &pkg_dir))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(app::shell))
        // Innermost first: body limits that answer instead of resetting (our own, per route),
        // panics as 500s, compression, the request deadline, the concurrency cap (503 at once when
        // full), bare framework errors in each route's format, security headers, the client's
        // address, and one log line per request.
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(body_limits(&state), http::body_limit::limit))
        .layer(middleware::from_fn(http::catch_panic::catch_panic))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(state.config.http.request_timeout_secs),
        ))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "2")])
                }))
                .load_shed()
                // Global: `Router::layer` layers each route on its own, and one limit must
                // count every route's requests.
                .layer(tower::limit::GlobalConcurrencyLimitLayer::new(state.config.http.max_concurrent_requests)),
        )
        .layer(middleware::from_fn(http::error_format::format_bare_errors))
        .layer(middleware::from_fn_with_state(state.security.clone(), http::security_headers::apply))
        .layer(middleware::from_fn_with_state(client_addr_source(&state), http::client_addr::tag))
        .layer(http::request_log::layer())
        .with_state(state)
}

fn body_limits(state: &AppState) -> http::body_limit::Limits {
    // An attachment post: the largest allowed file plus the multipart framing.
    let uploads = state.config.referral.max_attachment_bytes as usize + 64 * 1024;
    http::body_limit::Limits { uploads, other: state.config.http.max_body_bytes }
}

fn client_addr_source(state: &AppState) -> http::client_addr::ClientAddrSource {
    http::client_addr::ClientAddrSource(
        state.config.http.client_ip_header.as_deref().and_then(|h| HeaderName::from_bytes(h.as_bytes()).ok()),
    )
}
