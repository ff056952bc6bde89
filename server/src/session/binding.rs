//! The per-launch cookie binding a session to the browser that completed the launch.
//!
//! `__Host-erx-<first 16 chars of the session id>=<secret>; Path=/; Secure; HttpOnly;
//! SameSite=None; Partitioned`: `SameSite=None` so it is sent inside the EHR's cross-site iframe,
//! `Partitioned` (CHIPS) so browsers that block third-party cookies still keep it per EHR site.
//! Each launch has its own cookie name, so two launches in one browser never overwrite each other.
//!
//! `/launch` sets a second, short-lived cookie of the same kind for the OAuth `state`
//! (`__Host-erx-s-<first 16 chars of the state>`), which `/callback` requires: a callback URL
//! opened in another browser cannot take the launch (login CSRF, session swap).
//!
//! Where a browser sends no cookies at all (third-party cookies blocked and no CHIPS), the
//! binding falls back to a fingerprint of the client's address and `User-Agent`: weaker (a
//! machine behind the same NAT with the same browser build passes), but a URL opened on another
//! network or in another browser does not.

use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};

pub fn cookie_name(session_id: &str) -> String {
    let prefix: String = session_id.chars().take(16).collect();
    format!("__Host-erx-{prefix}")
}

pub fn set_cookie_value(session_id: &str, secret: &str, max_age_secs: u64) -> String {
    cookie(&cookie_name(session_id), secret, max_age_secs)
}

/// The cookie binding a launch's OAuth `state` to the browser that called `/launch`.
pub fn state_cookie_name(state: &str) -> String {
    let prefix: String = state.chars().take(16).collect();
    format!("__Host-erx-s-{prefix}")
}

pub fn set_state_cookie(state: &str, secret: &str, max_age_secs: u64) -> String {
    cookie(&state_cookie_name(state), secret, max_age_secs)
}

/// Removes the state cookie once the callback used it.
pub fn clear_state_cookie(state: &str) -> String {
    cookie(&state_cookie_name(state), "", 0)
}

fn cookie(name: &str, value: &str, max_age_secs: u64) -> String {
    format!("{name}={value}; Path=/; Max-Age={max_age_secs}; Secure; HttpOnly; SameSite=None; Partitioned")
}

/// What a browser that sends no cookie is recognised by: its address and `User-Agent`, hashed.
pub fn fingerprint(client_addr: &str, headers: &HeaderMap) -> String {
    let agent = headers.get(header::USER_AGENT).map(|v| v.as_bytes()).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(b"erx-fp-1\0");
    h.update(client_addr.as_bytes());
    h.update(b"\0");
    h.update(agent);
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.finalize())
}

pub fn hash_secret(secret: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// The binding cookie's value for this session, if the browser sent one.
pub fn presented_secret(headers: &HeaderMap, session_id: &str) -> Option<String> {
    presented(headers, &cookie_name(session_id))
}

/// The value of cookie `name`, if the browser sent one.
pub fn presented(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// What a request may do with a session, given its binding state.
#[derive(Debug, PartialEq, Eq)]
pub enum BindingCheck {
    /// The browser showed the right cookie.
    Bound,
    /// The browser showed the right cookie for the first time: require it from now on.
    FirstBound,
    /// No cookie, none has ever been seen, and the fingerprint matches: cookies are blocked in
    /// this browser.
    Cookieless,
    /// A wrong cookie, no cookie after one was seen, or no cookie from another machine or browser.
    Refused,
}

/// How a request's cookie (or its absence, and then its fingerprint) relates to a binding.
pub fn check(
    stored_hash: &str,
    cookie_bound: bool,
    presented: Option<&str>,
    stored_fingerprint: &str,
    fingerprint: &str,
) -> BindingCheck {
    match presented {
        Some(secret) if constant_time_eq(hash_secret(secret).as_bytes(), stored_hash.as_bytes()) => {
            if cookie_bound {
                BindingCheck::Bound
            } else {
                BindingCheck::FirstBound
            }
        }
        Some(_) => BindingCheck::Refused,
        None if cookie_bound => BindingCheck::Refused,
        None if constant_time_eq(stored_fingerprint.as_bytes(), fingerprint.as_bytes()) => BindingCheck::Cookieless,
        None => BindingCheck::Refused,
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookie_attributes_suit_a_cross_site_iframe() {
        let v = set_cookie_value("abcdefghijklmnopqrstuvwxyz", "s3cret", 60);
        assert!(v.starts_with("__Host-erx-abcdefghijklmnop=s3cret;"));
        for attr in ["Path=/", "Secure", "HttpOnly", "SameSite=None", "Partitioned", "Max-Age=60"] {
            assert!(v.contains(attr), "{attr}");
        }
    }

    #[test]
    fn presented_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; __Host-erx-AAAAAAAAAAAAAAAA=x"));
        h.append(header::COOKIE, HeaderValue::from_static("__Host-erx-BBBBBBBBBBBBBBBB=y"));
        assert_eq!(presented_secret(&h, "AAAAAAAAAAAAAAAAzzz").as_deref(), Some("x"));
        assert_eq!(presented_secret(&h, "BBBBBBBBBBBBBBBBqqq").as_deref(), Some("y"));
        assert_eq!(presented_secret(&h, "CCCCCCCCCCCCCCCC"), None);
    }

    #[test]
    fn binding_rules() {
        let h = hash_secret("good");
        let fp = "fp-here";
        assert_eq!(check(&h, false, Some("good"), fp, "fp-elsewhere"), BindingCheck::FirstBound);
        assert_eq!(check(&h, true, Some("good"), fp, fp), BindingCheck::Bound);
        assert_eq!(check(&h, false, None, fp, fp), BindingCheck::Cookieless);
        assert_eq!(check(&h, false, None, fp, "fp-elsewhere"), BindingCheck::Refused);
        assert_eq!(check(&h, true, None, fp, fp), BindingCheck::Refused);
        assert_eq!(check(&h, false, Some("bad"), fp, fp), BindingCheck::Refused);
    }

    #[test]
    fn fingerprints_tell_browsers_and_addresses_apart() {
        let mut a = HeaderMap::new();
        a.insert(header::USER_AGENT, HeaderValue::from_static("Chromium/156"));
        let mut b = HeaderMap::new();
        b.insert(header::USER_AGENT, HeaderValue::from_static("Firefox/150"));
        assert_eq!(fingerprint("10.0.0.1", &a), fingerprint("10.0.0.1", &a));
        assert_ne!(fingerprint("10.0.0.1", &a), fingerprint("10.0.0.2", &a));
        assert_ne!(fingerprint("10.0.0.1", &a), fingerprint("10.0.0.1", &b));
        assert_ne!(fingerprint("10.0.0.1", &a), fingerprint("10.0.0.1", &HeaderMap::new()));
        assert_eq!(fingerprint("x", &a).len(), 43);
    }

    #[test]
    fn state_cookies_are_per_launch() {
        let v = set_state_cookie("abcdefghijklmnopqrstuvwxyz", "sec", 600);
        assert!(v.starts_with("__Host-erx-s-abcdefghijklmnop=sec;"), "{v}");
        assert!(clear_state_cookie("abcdefghijklmnopq").contains("Max-Age=0"));
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("__Host-erx-s-abcdefghijklmnop=; other=1"));
        assert_eq!(presented(&h, &state_cookie_name("abcdefghijklmnopqrs")), None, "an emptied cookie is none");
    }
}
