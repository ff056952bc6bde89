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
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--config") {
        args.drain(at..(at + 2).min(args.len()));
    }
    if args.first().map(String::as_str) == Some("staff") {
        return staff_command(&config, &args[1..]).await;
    }
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

/// `server staff add <username> [--name "Display Name"]`: creates an intake console account. The
/// password comes from `EREFERRAL_STAFF_PASSWORD`, else the first line of standard input.
async fn staff_command(config: &Config, args: &[String]) -> anyhow::Result<()> {
    let usage = "usage: server staff add <username> [--name \"Display Name\"]  (password from EREFERRAL_STAFF_PASSWORD or stdin)";
    let [verb, username, rest @ ..] = args else { anyhow::bail!(usage) };
    if verb != "add" {
        anyhow::bail!(usage);
    }
    let name = match rest {
        [] => username.clone(),
        [flag, name] if flag == "--name" => name.clone(),
        _ => anyhow::bail!(usage),
    };
    let password = match std::env::var("EREFERRAL_STAFF_PASSWORD").ok().filter(|p| !p.is_empty()) {
        Some(p) => p,
        None => {
            eprintln!("password for {username} (one line):");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("reading the password")?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    let cipher = server::session::crypto::TokenCipher::load_or_create(config.token_key.as_deref(), &config.data_dir)
        .context("loading the token encryption key")?;
    let db = server::store::open(&config.database_url, cipher).await.context("opening the database")?;
    server::console::accounts::create(&db, username, &name, &password).await.context("creating the account")?;
    println!("staff account {username:?} created; sign in at {}console", config.public_url);
    Ok(())
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
