//! The client's address, worked out once per request: the TCP peer, or the last value of the
//! header the operator's reverse proxy sets (`http.client_ip_header`). Handlers read it from an
//! internal request header that this layer overwrites, so a client cannot choose it.

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use std::net::{IpAddr, SocketAddr};

/// Set on every request by [`tag`]; any value the client sent is replaced.
pub const HEADER: HeaderName = HeaderName::from_static("x-erx-client-addr");

/// `None`: the TCP peer; `Some(header)`: the proxy's header.
#[derive(Clone)]
pub struct ClientAddrSource(pub Option<HeaderName>);

/// The client's address as the request says it: the last address in `header` (the one our proxy
/// appended), else the peer's.
pub fn resolve(headers: &HeaderMap, peer: Option<SocketAddr>, header: Option<&HeaderName>) -> String {
    let from_proxy = header.and_then(|name| {
        let last = headers.get_all(name).iter().last()?.to_str().ok()?;
        last.rsplit(',').next()?.trim().parse::<IpAddr>().ok()
    });
    match (from_proxy, peer) {
        (Some(ip), _) => ip.to_string(),
        (None, Some(peer)) => peer.ip().to_string(),
        (None, None) => "unknown".to_string(),
    }
}

pub async fn tag(State(source): State<ClientAddrSource>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let addr = resolve(request.headers(), peer, source.0.as_ref());
    let value = HeaderValue::from_str(&addr).unwrap_or(HeaderValue::from_static("unknown"));
    request.headers_mut().insert(HEADER, value);
    next.run(request).await
}

/// The address [`tag`] recorded for this request.
pub fn of(headers: &HeaderMap) -> &str {
    headers.get(HEADER).and_then(|v| v.to_str().ok()).unwrap_or("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_header_wins_only_when_configured_and_valid() {
        let peer: SocketAddr = "10.1.1.1:5000".parse().unwrap();
        let xff = HeaderName::from_static("x-forwarded-for");
        let mut h = HeaderMap::new();
        h.append(&xff, HeaderValue::from_static("203.0.113.9, 198.51.100.7"));
        assert_eq!(resolve(&h, Some(peer), None), "10.1.1.1", "not configured: the peer");
        assert_eq!(resolve(&h, Some(peer), Some(&xff)), "198.51.100.7", "the last hop, which our proxy added");
        let mut junk = HeaderMap::new();
        junk.append(&xff, HeaderValue::from_static("not-an-ip"));
        assert_eq!(resolve(&junk, Some(peer), Some(&xff)), "10.1.1.1");
        assert_eq!(resolve(&HeaderMap::new(), None, None), "unknown");
    }
}
