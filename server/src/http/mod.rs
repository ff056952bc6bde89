//! HTTP plumbing shared by every route: security headers, static assets, health.
pub mod health;
pub mod request_log;
pub mod security_headers;
pub mod server_timing;
pub mod static_assets;
pub mod wizard_forms;
