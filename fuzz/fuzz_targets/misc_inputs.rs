//! Small parsers of outside input, one per input (the first byte picks which; the rest is the
//! input, lossy UTF-8 where a string is wanted):
//! 0 requested scopes (`scope` at the token endpoint) against allowed scopes, 1 `based-on`
//! search values, 2 a launch's `iss`, 3 `Cookie` headers (the launch binding cookie),
//! 4 `Server-Timing` values, 5 request paths as logged, 6 launch ids, 7 console usernames,
//! 8 wizard `nav` values and step slugs, 9 encrypted token blobs (`TokenCipher::decrypt`),
//! 10 the standalone sign-in's scopes, 11 request headers (`name: value` lines: the client's
//! address behind a proxy, the cross-site check), 12 paths as the error formatter routes them,
//! 13 the `kid` of an id_token's header, 14 discovered endpoints against the registration.
#![no_main]

use axum::http::{header, HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use server::session::crypto::TokenCipher;
use std::sync::OnceLock;

fn cipher() -> &'static TokenCipher {
    static C: OnceLock<TokenCipher> = OnceLock::new();
    C.get_or_init(|| TokenCipher::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").expect("a 32-byte key"))
}

/// A registration whose authorization server is also on one other listed origin.
fn registration() -> &'static server::config::EhrRegistration {
    static R: OnceLock<server::config::EhrRegistration> = OnceLock::new();
    R.get_or_init(|| {
        let sandbox = url::Url::parse("http://127.0.0.1:3001/").expect("a URL");
        let mut ehr = server::config::sandbox_registration(&sandbox);
        ehr.auth_origins = vec![AUTH_ORIGIN.to_string()];
        ehr
    })
}

const AUTH_ORIGIN: &str = "https://auth.example.org";

const SESSION: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let s = String::from_utf8_lossy(rest);
    match which % 15 {
        0 => {
            let (requested, allowed) = s.split_once('\n').unwrap_or((&s, server::config::DEFAULT_API_SCOPES));
            let granted = server::api::scopes::grant(requested, allowed);
            for g in &granted {
                assert_eq!(&server::api::scopes::normalise(g), g);
            }
            for t in ["Patient", "ServiceRequest", "*"] {
                for p in ['r', 's', 'c', 'u', 'd'] {
                    let _ = server::api::scopes::permits(&granted, t, p);
                }
            }
        }
        1 => {
            if let Some(id) = server::api::based_on::service_request_id(&s) {
                assert!(server::fhir::client::is_fhir_id(id));
            }
        }
        2 => {
            if let Some(n) = server::smart::registry::normalize_issuer(&s) {
                assert_eq!(
                    server::smart::registry::normalize_issuer(&n).as_deref(),
                    Some(n.as_str()),
                    "not idempotent"
                );
            }
        }
        3 => {
            let mut headers = HeaderMap::new();
            for line in rest.split(|&b| b == b'\n') {
                if let Ok(v) = HeaderValue::from_bytes(line) {
                    headers.append(header::COOKIE, v);
                }
            }
            let _ = server::session::binding::presented_secret(&headers, SESSION);
            let _ = server::session::binding::presented_secret(&headers, &s);
            let _ = server::session::binding::cookie_name(&s);
        }
        4 => {
            let _ = server::http::server_timing::parse(&s);
        }
        5 => {
            let shown = server::http::request_log::redacted_path(&s);
            // Cut at 200 characters; a session path keeps 8 characters of the id, "…" and 200 of the rest.
            let session = ["/l/", "/me/"].into_iter().find(|p| s.starts_with(p));
            let limit = session.map_or(200, |p| p.len() + 8 + 1 + 200);
            assert!(shown.chars().count() <= limit, "{} characters shown", shown.chars().count());
            if let Some(p) = session {
                let kept = shown[p.len()..].split('…').next().unwrap_or_default();
                assert!(kept.chars().count() <= 8, "{kept:?} of the session id logged");
            }
        }
        6 => {
            let _ = server::session::authorise::well_formed(&s);
        }
        7 => {
            let _ = server::console::accounts::valid_username(&s);
        }
        8 => {
            let _ = app::referral::steps::Nav::parse(&s);
            let _ = app::referral::steps::Step::from_slug(&s);
            let _ = server::referral::drafts::DraftStatus::parse(&s);
            let _ = server::referral::status_change::business_status_text(&s);
        }
        9 => {
            let _ = cipher().decrypt(rest);
        }
        10 => {
            let _ = server::smart::launch::standalone_scopes(&s);
        }
        11 => {
            let mut headers = HeaderMap::new();
            for line in rest.split(|&b| b == b'\n') {
                let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
                let (Ok(name), Ok(value)) = (
                    header::HeaderName::from_bytes(&line[..colon]),
                    HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
                ) else {
                    continue;
                };
                headers.append(name, value);
            }
            let xff = header::HeaderName::from_static("x-forwarded-for");
            let peer = Some(std::net::SocketAddr::from(([10, 0, 0, 1], 443)));
            for (p, h) in [(peer, Some(&xff)), (None, Some(&xff)), (peer, None)] {
                let addr = server::http::client_addr::resolve(&headers, p, h);
                assert!(addr == "unknown" || addr.parse::<std::net::IpAddr>().is_ok(), "{addr:?}");
            }
            let _ = server::http::origin_check::check(&headers, "http://localhost:3000");
            let _ = server::http::client_addr::of(&headers);
            let _ = server::session::binding::presented(&headers, "__Host-erx-abcdefghijklmnop");
        }
        13 => {
            if let Some(kid) = server::smart::id_token::header_kid(&s) {
                assert!(!kid.is_empty() && kid.len() <= 256, "{kid:?}");
            }
        }
        14 => {
            // A discovered endpoint: allowed only on the issuer's origin or a listed one, over
            // https or loopback http, without credentials.
            let ehr = registration();
            if let Ok(url) = url::Url::parse(&s) {
                if server::smart::discovery::check_endpoint("token_endpoint", &url, ehr).is_ok() {
                    let origin = url.origin().ascii_serialization();
                    assert!(
                        origin == ehr.issuer.origin().ascii_serialization() || origin == AUTH_ORIGIN,
                        "{url} allowed"
                    );
                    assert!(url.username().is_empty() && url.password().is_none(), "{url} allowed");
                }
            }
        }
        _ => {
            let _ = server::http::error_format::audience(&s);
        }
    }
});
