//! `sandbox-ehr`: run the sandbox EHR.
//!
//! Environment: `SANDBOX_LISTEN` (default `127.0.0.1:3100`), `SANDBOX_PUBLIC_URL` (default
//! `http://{listen address}`), `SANDBOX_APP_URL` (the app's base URL, default
//! `http://localhost:3000`), `RUST_LOG` (default `info`).

use sandbox::{start, SandboxConfig};
use tracing_subscriber::EnvFilter;
use url::Url;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    if let Err(e) = run().await {
        tracing::error!("{e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let listen = std::env::var("SANDBOX_LISTEN").unwrap_or_else(|_| "127.0.0.1:3100".into());
    let app_url = std::env::var("SANDBOX_APP_URL").unwrap_or_else(|_| "http://localhost:3000".into());
    let app_url = Url::parse(&app_url).map_err(|e| format!("SANDBOX_APP_URL: {e}"))?;
    let mut config = SandboxConfig::default_for_app(&app_url);
    if let Ok(public) = std::env::var("SANDBOX_PUBLIC_URL") {
        config.public_base_url = Some(Url::parse(&public).map_err(|e| format!("SANDBOX_PUBLIC_URL: {e}"))?);
    }
    let listener =
        tokio::net::TcpListener::bind(&listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let handle = start(config, listener).await?;
    tracing::info!(
        ehr = %handle.base_url(),
        iss = %handle.fhir_base(),
        "sandbox EHR ready (client_id `ereferral`, static bearer `sandbox-static-token` for $process-message)"
    );
    tokio::signal::ctrl_c().await?;
    tracing::info!("shutting down");
    handle.shutdown().await;
    Ok(())
}
