//! The per-launch cookie binding a session to the browser that completed the launch.
//!
//! `__Host-erx-<first 16 chars of the session id>=<secret>; Path=/; Secure; HttpOnly;
//! SameSite=None; Partitioned`: `SameSite=None` so it is sent inside the EHR's cross-site iframe,
//! `Partitioned` (CHIPS) so browsers that block third-party cookies still keep it per EHR site.
//! Each launch has its own cookie name, so two launches in one browser never overwrite each other.

use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};

pub fn cookie_name(session_id: &str) -> String {
    let prefix: String = session_id.chars().take(16).collect();
    format!("__Host-erx-{prefix}")
}

pub fn set_cookie_value(session_id: &str, secret: &str, max_age_secs: u64) -> String {
    format!(
        "{}={secret}; Path=/; Max-Age={max_age_secs}; Secure; HttpOnly; SameSite=None; Partitioned",
        cookie_name(session_id)
    )
}

pub fn hash_secret(secret: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// The binding cookie's value for this session, if the browser sent one.
pub fn presented_secret(headers: &HeaderMap, session_id: &str) -> Option<String> {
    let name = cookie_name(session_id);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// What a request may do with a session, given its binding state.
#[derive(Debug, PartialEq, Eq)]
pub enum BindingCheck {
    /// The browser showed the right cookie.
    Bound,
    /// The browser showed the right cookie for the first time: require it from now on.
    FirstBound,
    /// No cookie, and none has ever been seen: cookies are blocked here; the id alone names it.
    Cookieless,
    /// A wrong cookie, or no cookie after one was seen.
    Refused,
}

pub fn check(stored_hash: &str, cookie_bound: bool, presented: Option<&str>) -> BindingCheck {
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
        None => BindingCheck::Cookieless,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
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
        assert_eq!(check(&h, false, Some("good")), BindingCheck::FirstBound);
        assert_eq!(check(&h, true, Some("good")), BindingCheck::Bound);
        assert_eq!(check(&h, false, None), BindingCheck::Cookieless);
        assert_eq!(check(&h, true, None), BindingCheck::Refused);
        assert_eq!(check(&h, false, Some("bad")), BindingCheck::Refused);
    }
}
