//! One log line per request: method, path (never the query, which carries OAuth codes and state;
//! session ids cut to a prefix), status and latency.

use axum::{body::Body, http::Request};
use tower_http::trace::{DefaultOnResponse, MakeSpan, TraceLayer};
use tracing::{Level, Span};

#[derive(Clone, Copy)]
pub struct RedactedSpan;

impl MakeSpan<Body> for RedactedSpan {
    fn make_span(&mut self, request: &Request<Body>) -> Span {
        tracing::info_span!("request", method = %request.method(), path = %redacted_path(request.uri().path()))
    }
}

type Classifier = tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>;

pub fn layer() -> TraceLayer<Classifier, RedactedSpan, (), DefaultOnResponse> {
    TraceLayer::new_for_http()
        .make_span_with(RedactedSpan)
        .on_request(())
        .on_response(DefaultOnResponse::new().level(Level::INFO))
}

/// Paths whose next segment names a session (a bearer of access): a launch (`/l/`) or a
/// practitioner's sign-in (`/me/`).
const SESSION_PREFIXES: [&str; 2] = ["/l/", "/me/"];

/// `/l/<43-char session id>/…` → `/l/<first 8>…/…` (and `/me/…` alike): enough to correlate,
/// useless to replay. Other paths are cut at 200 characters.
pub fn redacted_path(path: &str) -> String {
    for prefix in SESSION_PREFIXES {
        if let Some(rest) = path.strip_prefix(prefix) {
            let (id, tail) = rest.split_once('/').map(|(a, b)| (a, format!("/{b}"))).unwrap_or((rest, String::new()));
            let shown: String = id.chars().take(8).collect();
            let tail: String = tail.chars().take(200).collect();
            return format!("{prefix}{shown}…{tail}");
        }
    }
    path.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_cut() {
        assert_eq!(redacted_path("/l/abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"), "/l/abcdefgh…");
        assert_eq!(redacted_path("/l/abcdefghijklmnop/referral"), "/l/abcdefgh…/referral");
        assert_eq!(redacted_path("/callback"), "/callback");
        assert_eq!(
            redacted_path("/me/abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG/referrals/r1"),
            "/me/abcdefgh…/referrals/r1"
        );
    }
}
