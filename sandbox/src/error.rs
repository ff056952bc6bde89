//! Errors of the sandbox library itself (start-up, keys, seed data).

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot read the listener's local address: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid base URL: {0}")]
    Url(#[from] url::ParseError),
    #[error("invalid signing key: {0}")]
    Key(#[from] jsonwebtoken::errors::Error),
    #[error("invalid seed data: {0}")]
    Seed(#[from] serde_json::Error),
    #[error("invalid configuration: {0}")]
    Config(String),
}
