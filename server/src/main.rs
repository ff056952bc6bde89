//! The eReferral server binary: config, logs, database, the embedded sandbox EHR (by default),
//! and the HTTP server with graceful shutdown.

use anyhow::Context;
use server::{
    config::{Config, LogFormat},
    startup,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config_path = std::env::args()
        .skip_while(|a| a != "--config")
        .nth(1)
        .or_else(|| std::env::var("EREFERRAL_CONFIG").ok().filter(|p| !p.is_empty()));
    let file = match &config_path {
        Some(path) => Some(std::fs::read_to_string(path).with_context(|| format!("reading config file {path}"))?),
        None => None,
    };
    let config =
        Config::from_sources(file.as_deref(), &|name| std::env::var(name).ok()).context("loading configuration")?;
    server::telemetry::init(&config.log);
    let log_format = config.log.format.clone();
    let leptos_options = leptos::config::get_configuration(None).context("reading Leptos options")?.leptos_options;

    let running = startup::start(config, leptos_options).await?;
    let sandbox = running.sandbox_url.as_ref().map(|u| u.as_str()).unwrap_or("off");
    tracing::info!(app = %running.public_url, sandbox, "eReferral is up");
    if let (Some(sandbox), LogFormat::Human) = (&running.sandbox_url, &log_format) {
        println!(
            "\n  eReferral app:   {}\n  Sandbox EHR:     {}  <- open this, pick a patient, click Refer\n",
            running.public_url, sandbox
        );
    }
    running.serve_until(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}
