//! Structured logs: human-readable by default, JSON lines when configured.
//! Never log PHI or tokens: log ids, issuers, statuses and error kinds.

use crate::config::{LogConfig, LogFormat};
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_new(&config.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match config.format {
        LogFormat::Human => registry.with(fmt::layer().with_target(true)).try_init(),
        LogFormat::Json => registry.with(fmt::layer().json().flatten_event(true).with_current_span(false)).try_init(),
    };
    // A second init (e.g. in tests) keeps the first subscriber.
    let _ = result;
}
