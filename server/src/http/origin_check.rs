//! Cross-site request refusal for every state-changing route that a browser's cookie or launch id
//! authorises (wizard, console, sign-in forms): the post must say it comes from our own origin.
//! Browsers send `Origin` on every POST and `Sec-Fetch-Site` on every request; a post with
//! neither, or with `Origin: null` (sandboxed frames, some redirects, `file:` pages), is refused
//! too, since it cannot prove where it comes from. Token-authenticated APIs (`/auth/token`,
//! `/fhir/…`) are called by servers and are not checked here.

use axum::http::{header, HeaderMap};

/// Why a post was refused (logged; the client is told only that it came from elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossSite {
    FetchSite,
    Origin,
    NullOrigin,
    NoProvenance,
}

/// `Ok` when the request says it comes from `our_origin` (`scheme://host[:port]`).
pub fn check(headers: &HeaderMap, our_origin: &str) -> Result<(), CrossSite> {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if fetch_site.is_some_and(|v| v != "same-origin") {
        return Err(CrossSite::FetchSite);
    }
    match headers.get(header::ORIGIN).map(|v| v.to_str().unwrap_or("")) {
        Some("null") => Err(CrossSite::NullOrigin),
        Some(origin) if origin != our_origin => Err(CrossSite::Origin),
        Some(_) => Ok(()),
        None if fetch_site.is_some() => Ok(()),
        None => Err(CrossSite::NoProvenance),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    const US: &str = "https://app.example.org";

    #[test]
    fn only_posts_from_our_origin_pass() {
        assert_eq!(check(&headers(&[("origin", US)]), US), Ok(()));
        assert_eq!(check(&headers(&[("origin", US), ("sec-fetch-site", "same-origin")]), US), Ok(()));
        assert_eq!(check(&headers(&[("sec-fetch-site", "same-origin")]), US), Ok(()));
        assert_eq!(check(&headers(&[("origin", "https://evil.example")]), US), Err(CrossSite::Origin));
        assert_eq!(check(&headers(&[("origin", "null")]), US), Err(CrossSite::NullOrigin));
        assert_eq!(
            check(&headers(&[("origin", "null"), ("sec-fetch-site", "same-origin")]), US),
            Err(CrossSite::NullOrigin)
        );
        for site in ["cross-site", "same-site", "none"] {
            let h = headers(&[("origin", US), ("sec-fetch-site", site)]);
            assert_eq!(check(&h, US), Err(CrossSite::FetchSite), "{site}");
        }
        assert_eq!(check(&HeaderMap::new(), US), Err(CrossSite::NoProvenance));
    }
}
