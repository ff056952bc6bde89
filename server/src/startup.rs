//! Wiring: from a [`Config`] to a listening server (and the embedded sandbox EHR when enabled).
//! Used by the binary and by integration tests, which bind ephemeral ports.

use crate::{config::Config, http::security_headers::SecurityHeaders, session, smart, state::AppState};
use anyhow::Context;
use leptos::config::LeptosOptions;
use std::{future::Future, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use url::Url;

/// Concurrent deliveries per app instance.
const OUTBOX_WORKERS: usize = 4;
/// A client must send a request's head within this (slow-header clients are disconnected).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Running {
    pub public_url: Url,
    pub local_addr: std::net::SocketAddr,
    pub sandbox_url: Option<Url>,
    #[cfg(feature = "sandbox")]
    pub sandbox: Option<sandbox::SandboxHandle>,
    pub state: AppState,
    listener: TcpListener,
}

/// Opens the database, starts the sandbox (if enabled) and binds the listener; call
/// [`Running::serve_until`] to serve.
pub async fn start(config: Config, leptos_options: LeptosOptions) -> anyhow::Result<Running> {
    let listener = TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    start_on(config, leptos_options, listener, None).await
}

/// Like [`start`], with the app's listener already bound and optionally the sandbox's too (tests
/// bind both to port 0 first so each knows the other's URL).
pub async fn start_on(
    config: Config,
    leptos_options: LeptosOptions,
    listener: TcpListener,
    sandbox_listener: Option<TcpListener>,
) -> anyhow::Result<Running> {
    let local_addr = listener.local_addr()?;
    let cipher = session::crypto::TokenCipher::load_or_create(config.token_key.as_deref(), &config.data_dir)
        .context("loading the token encryption key")?;
    let previous = config
        .token_key_previous
        .as_deref()
        .map(session::crypto::TokenCipher::from_base64)
        .transpose()
        .context("reading the previous token key (EREFERRAL_TOKEN_KEY_PREVIOUS)")?;
    let db = crate::store::open_rotating(&config.database_url, cipher.clone(), previous.as_ref())
        .await
        .context("opening the database")?;

    #[cfg(feature = "sandbox")]
    let sandbox_handle = match config.sandbox.enabled {
        false => None,
        true => {
            let sandbox_listener = match sandbox_listener {
                Some(l) => l,
                None => TcpListener::bind(config.sandbox.listen)
                    .await
                    .with_context(|| format!("binding the sandbox EHR on {}", config.sandbox.listen))?,
            };
            // The configuration refused a sandbox on any other address; the listener given by a
            // caller must be loopback too.
            anyhow::ensure!(
                sandbox_listener.local_addr()?.ip().is_loopback(),
                "the sandbox EHR only listens on loopback"
            );
            let mut sandbox_config = sandbox::SandboxConfig::default_for_app(&config.public_url);
            sandbox_config.public_base_url = Some(config.sandbox.public_url.clone());
            Some(sandbox::start(sandbox_config, sandbox_listener).await.context("starting the sandbox EHR")?)
        }
    };
    #[cfg(not(feature = "sandbox"))]
    drop(sandbox_listener);
    let directory = crate::directory::Directory::load(config.referral.services_file.as_deref())
        .context("loading the service directory")?;
    tracing::info!(services = directory.services().len(), "service directory loaded");
    let smart = smart::SmartClient::new(&config).context("loading client keys")?;
    let api_clients = crate::api::clients::ApiClients::load(&config).context("loading API clients' keys")?;
    let security = SecurityHeaders::new(&config.frame_ancestors(), config.public_url.scheme() == "https");
    let public_url = config.public_url.clone();
    let sandbox_url = config.sandbox.enabled.then(|| config.sandbox.public_url.clone());
    let state = AppState {
        leptos_options,
        config: Arc::new(config),
        db,
        security,
        smart,
        cipher,
        directory: Arc::new(directory),
        outbox: crate::outbox::Outbox::default(),
        api_clients: Arc::new(api_clients),
    };
    spawn_purger(state.clone());
    spawn_checkpointer(state.db.clone());
    crate::outbox::worker::spawn(state.clone(), OUTBOX_WORKERS);
    Ok(Running {
        public_url,
        local_addr,
        sandbox_url,
        #[cfg(feature = "sandbox")]
        sandbox: sandbox_handle,
        state,
        listener,
    })
}

impl Running {
    pub async fn serve_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let app = crate::app(self.state.clone());
        let limits = crate::http::serve::ServeLimits {
            header_read_timeout: HEADER_READ_TIMEOUT,
            max_connections: self.state.config.http.max_concurrent_requests.saturating_mul(4).max(64),
            drain: Duration::from_secs(self.state.config.http.request_timeout_secs),
        };
        crate::http::serve::serve(self.listener, app, limits, shutdown).await.context("serving HTTP")?;
        #[cfg(feature = "sandbox")]
        if let Some(sandbox) = self.sandbox {
            sandbox.shutdown().await;
        }
        self.state.db.close().await;
        Ok(())
    }
}

/// Moves SQLite's write-ahead log into the database file off the request path (see
/// [`crate::store::Db::checkpoint`]); the first failure of a run of failures is logged.
fn spawn_checkpointer(db: crate::store::Db) {
    if db.backend() != crate::store::Backend::Sqlite {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(crate::store::CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            match db.checkpoint().await {
                Ok(()) => failing = false,
                Err(sqlx::Error::PoolClosed) => break,
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "background WAL checkpoint failed; commits will checkpoint instead");
                }
                Err(_) => {}
            }
        }
    });
}

/// Deletes expired pending launches, sessions, sign-ins, API tokens and drafts every minute, then
/// the data keys nothing refers to any more.
fn spawn_purger(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let now = smart::now_unix();
            if let Err(e) = crate::store::launches::purge_expired(&state.db, now).await {
                tracing::warn!(error = %e, "purging expired launches failed");
            }
            if let Err(e) = crate::store::sessions::purge_expired(&state.db, now).await {
                tracing::warn!(error = %e, "purging expired sessions failed");
            }
            if let Err(e) = crate::store::api_tokens::purge_expired(&state.db, now).await {
                tracing::warn!(error = %e, "purging expired API tokens failed");
            }
            if let Err(e) = crate::store::sessions::purge_expired_practitioners(&state.db, now).await {
                tracing::warn!(error = %e, "purging expired practitioner sign-ins failed");
            }
            if let Err(e) = crate::store::staff::purge_expired_sessions(&state.db, now).await {
                tracing::warn!(error = %e, "purging expired console sign-ins failed");
            }
            match crate::store::drafts::purge_expired(&state.db, now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(drafts = n, "expired drafts purged"),
                Err(e) => tracing::warn!(error = %e, "purging expired drafts failed"),
            }
            // After their owners: the data keys of purged launches and drafts.
            match crate::store::data_keys::purge_orphans(&state.db, now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(keys = n, "data keys of purged launches and drafts destroyed"),
                Err(e) => tracing::warn!(error = %e, "purging orphaned data keys failed"),
            }
        }
    });
}
