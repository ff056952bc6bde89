//! Shared application state handed to every handler.

use crate::{
    config::Config, directory::Directory, http::security_headers::SecurityHeaders, session::crypto::TokenCipher,
    smart::SmartClient, store::Db,
};
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone, axum::extract::FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub db: Db,
    pub security: SecurityHeaders,
    pub smart: SmartClient,
    pub cipher: TokenCipher,
    /// The services we accept referrals for.
    pub directory: Arc<Directory>,
    pub outbox: crate::outbox::Outbox,
    /// Registered sources that may call our FHIR API.
    pub api_clients: Arc<crate::api::clients::ApiClients>,
}
