//! Sandbox EHR: an "RMS Source" simulator for the eReferral SMART on FHIR app.
//!
//! It stands in for somebody else's EHR, written from the specifications (SMART App Launch
//! 2.2, RFC 6749, RFC 7636, RFC 7523, SMART Backend Services, OIDC Core, SMART Web
//! Messaging 1.0, FHIR R4 messaging):
//!
//! - SMART authorization server: `/auth/authorize`, `/auth/token`, `/auth/jwks`, discovery at
//!   `/fhir/.well-known/smart-configuration` and `/fhir/.well-known/openid-configuration`.
//! - A small FHIR R4 server under `/fhir` (reads, `Patient?identifier=`, `$process-message`).
//! - EHR pages: `/` (patients and "Refer" launch buttons), `/inbox`, `/admin/faults`.
//!
//! Development only: keys are committed, `sandbox-static-token` is accepted as a bearer by
//! `$process-message`, and the standalone launch signs in the first practitioner without asking.

use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

pub mod admin;
pub mod authorize;
pub mod bearer;
pub mod client_auth;
pub mod config;
pub mod discovery;
pub mod error;
pub mod faults;
pub mod fhir;
pub mod html;
pub mod id_token;
pub mod keys;
pub mod launch;
pub mod messages;
pub mod oauth_error;
pub mod outcome;
pub mod pages;
pub mod pkce;
pub mod routes;
pub mod scopes;
pub mod seed;
pub mod state;
pub mod store;
pub mod token;

pub use bearer::STATIC_DEV_TOKEN;
pub use config::{ClientAuth, ClientRegistration, SandboxConfig, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
pub use error::SandboxError;
pub use faults::{ContextFault, DiscoveryFault, Faults, IdTokenFault, ProcessMessageFault, ReadFault, TokenFault};
pub use launch::{LaunchMode, LaunchRequest};
pub use messages::ReceivedMessage;
pub use routes::router;
pub use state::{AppState, SharedState};

/// A running sandbox.
#[derive(Clone)]
pub struct SandboxHandle {
    state: SharedState,
    shutdown: Arc<Mutex<Option<oneshot::Sender<()>>>>,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

/// Start the sandbox on `listener` (already bound). Returns once it is listening; the server
/// runs on a spawned task until [`SandboxHandle::shutdown`].
pub async fn start(config: SandboxConfig, listener: TcpListener) -> Result<SandboxHandle, SandboxError> {
    let addr = listener.local_addr()?;
    let base = match &config.public_base_url {
        Some(u) => u.clone(),
        None => Url::parse(&format!("http://{addr}/"))?,
    };
    let state: SharedState = Arc::new(AppState::new(config, &base)?);
    let app = router(state.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "sandbox server stopped with an error");
        }
    });
    tracing::info!(base = %state.urls.base, iss = %state.urls.fhir_base, "sandbox EHR listening on {addr}");
    Ok(SandboxHandle { state, shutdown: Arc::new(Mutex::new(Some(tx))), task: Arc::new(Mutex::new(Some(task))) })
}

impl SandboxHandle {
    /// `http://127.0.0.1:PORT/` (or the configured public base URL), with a trailing slash.
    pub fn base_url(&self) -> Url {
        self.state.urls.base.clone()
    }

    /// `{base}/fhir`: the SMART `iss` and the OIDC issuer.
    pub fn fhir_base(&self) -> Url {
        Url::parse(&self.state.urls.fhir_base).unwrap_or_else(|_| self.base_url())
    }

    /// Set the global faults.
    pub fn set_faults(&self, f: Faults) {
        self.state.store().faults = f;
    }

    /// Create a launch as the EHR page does; returns the launch id.
    pub fn create_launch(&self, req: LaunchRequest) -> String {
        launch::create(&self.state, req)
    }

    /// `app_launch_url?iss=..&launch=..`.
    pub fn launch_url(&self, launch_id: &str) -> Url {
        launch::launch_url(&self.state, launch_id)
    }

    /// The SMART Web Messaging handle of a launch (when it was created with `web_messaging`).
    pub fn messaging_handle(&self, launch_id: &str) -> Option<String> {
        self.state.store().launches.get(launch_id).and_then(|l| l.messaging_handle.clone())
    }

    /// From now on, sign id_tokens with the next key and publish only it (a key rotation).
    pub fn rotate_signing_key(&self) {
        self.state.store().rotated = true;
    }

    /// How often `/auth/jwks` has been fetched.
    pub fn jwks_fetches(&self) -> u32 {
        self.state.store().jwks_fetches
    }

    /// How many refresh_token grants were answered with tokens.
    pub fn refreshes(&self) -> u32 {
        self.state.store().refreshes
    }

    /// Revokes every access token issued so far (refresh tokens stay valid): the next FHIR call
    /// with one gets 401, as after an EHR expired its tokens early.
    pub fn revoke_access_tokens(&self) {
        self.state.store().access_tokens.clear();
    }

    /// Messages accepted at `$process-message`, oldest first.
    pub fn received_messages(&self) -> Vec<ReceivedMessage> {
        self.state.store().messages.clone()
    }

    /// Stop accepting connections and wait for the server task to finish.
    pub async fn shutdown(self) {
        let tx = self.shutdown.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(tx) = tx {
            let _ = tx.send(());
        }
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}
