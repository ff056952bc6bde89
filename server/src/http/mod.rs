//! HTTP plumbing shared by every route: security headers, static assets, health.
pub mod body_limit;
pub mod catch_panic;
pub mod client_addr;
pub mod error_format;
pub mod health;
pub mod origin_check;
pub mod request_log;
pub mod security_headers;
pub mod serve;
pub mod server_timing;
pub mod static_assets;
pub mod wizard_forms;
