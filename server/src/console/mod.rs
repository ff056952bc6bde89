//! The intake console: the service's staff sign in (local accounts, argon2id), see the queue of
//! incoming referrals and progress them (accept, decline, book, attended / not attended,
//! complete); every change updates the Task and tells the referring EHR through the outbox.

pub mod accounts;
pub mod auth;
pub mod handlers;
pub mod pages;

use crate::state::AppState;
use axum::{routing::get, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(handlers::queue))
        .route("/console/login", get(handlers::login_page).post(handlers::login))
        .route("/console/logout", axum::routing::post(handlers::logout))
        .route("/console/r/{id}", get(handlers::detail).post(handlers::act))
        .route("/console/r/{id}/doc/{doc}", get(handlers::document))
}
