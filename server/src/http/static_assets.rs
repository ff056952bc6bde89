//! The compiled front end (`/pkg`) with cache headers (compression is applied to the whole app).
//!
//! File names are not content-hashed, so browsers revalidate (`no-cache` + Last-Modified) rather
//! than keep stale WASM after an upgrade; a 304 costs one round trip and no body.

use axum::{http::HeaderValue, Router};
use tower_http::{services::ServeDir, set_header::SetResponseHeaderLayer};

pub fn pkg_router<S: Clone + Send + Sync + 'static>(site_root: &str, pkg_dir: &str) -> Router<S> {
    let cache = SetResponseHeaderLayer::overriding(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("public, no-cache"),
    );
    let pkg = ServeDir::new(format!("{site_root}/{pkg_dir}")).precompressed_br().precompressed_gzip();
    Router::new().nest_service(&format!("/{pkg_dir}"), pkg).layer(cache)
}
