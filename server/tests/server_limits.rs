//! The server enforces its own limits (issue 11): idle launches end without the page's help,
//! bodies over their limit get the route's own answer (never a reset), errors carry their real
//! status and a CSP that lets their stylesheet load, cross-site and origin-less posts are refused,
//! slow clients are cut off, and the security headers a review expects are there.

mod common;

use common::*;
use reqwest::{header, StatusCode};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn an_idle_launch_is_ended_by_the_server_and_its_draft_kept() {
    let env = start_with(&[("EREFERRAL_INACTIVITY_WARN_SECS", "1"), ("EREFERRAL_INACTIVITY_TIMEOUT_SECS", "2")]).await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    l.post_see_other(&env, "/do/step/service", &[("pick", DIABETES_PICK), ("nav", "next")]).await;
    // Activity keeps it alive…
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let (status, _) = l.get(&env, "/details").await;
        assert_eq!(status, StatusCode::OK);
    }
    // …idleness past the timeout (and its grace) ends it, scripts or not.
    tokio::time::sleep(Duration::from_millis(4200)).await;
    let (status, page) = l.get(&env, "/details").await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("closed after 1 minutes without activity") || page.contains("without activity"), "{page}");
    assert!(!page.contains("Amelia"), "no PHI once ended");
    let r = l.post(&env, "/do/step/details", &[("reason", "x"), ("nav", "next")]).await;
    assert_eq!(r.status(), StatusCode::GONE);
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM referral_drafts WHERE status = 'timed_out'").await,
        1,
        "resumable later"
    );
}

#[tokio::test]
async fn polling_the_delivery_line_does_not_keep_a_launch_alive() {
    let env = start_with(&[("EREFERRAL_INACTIVITY_WARN_SECS", "1"), ("EREFERRAL_INACTIVITY_TIMEOUT_SECS", "2")]).await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    fill_valid_referral(&env, &l).await;
    l.post_see_other(&env, "/do/submit", &[]).await;
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let _ = l.get(&env, "/do/delivery").await;
    }
    let (status, _) = l.get(&env, "/done").await;
    assert_eq!(status, StatusCode::GONE);
}

#[tokio::test]
async fn an_upload_over_the_limit_gets_the_pages_own_message() {
    let env = start_with(&[("EREFERRAL_MAX_ATTACHMENT_BYTES", "100000")]).await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(3 * 1024 * 1024, b'x');
    let r = l.upload(&env, "scan.pdf", big).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "answered, not reset");
    let to = r.headers()[header::LOCATION].to_str().unwrap().to_string();
    assert!(to.contains("/attachments"), "{to}");
    let (_, page) = l.get(&env, "/attachments").await;
    assert!(page.contains("larger than 1 MB"), "the size message, next to the field");
    assert_eq!(count(&env, "SELECT COUNT(*) FROM draft_attachments").await, 0);
}

#[tokio::test]
async fn bodies_over_the_limit_get_a_page_an_operation_outcome_or_an_oauth_error() {
    let env = start_with(&[("EREFERRAL_MAX_BODY_BYTES", "4096")]).await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    let long = "x".repeat(20_000);
    let r = l.post(&env, "/do/step/details", &[("reason", long.as_str()), ("nav", "next")]).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("What you sent is too large"));

    let token = api_token(&env, "system/Bundle.c").await;
    let r = env
        .http
        .post(env.app_url.join("fhir/$process-message").unwrap())
        .bearer_auth(&token)
        .header(header::CONTENT_TYPE, "application/fhir+json")
        .body(long.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let oo: serde_json::Value = r.json().await.unwrap();
    assert_eq!(oo["resourceType"], "OperationOutcome");
    assert_eq!(oo["issue"][0]["code"], "too-long");

    let r = env
        .http
        .post(env.app_url.join("auth/token").unwrap())
        .form(&[("client_assertion", long.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let err: serde_json::Value = r.json().await.unwrap();
    assert_eq!(err["error"], "invalid_request");
}

#[tokio::test]
async fn error_pages_carry_their_status_and_a_csp_that_loads_their_stylesheet() {
    let env = start().await;
    let gone = env
        .http
        .get(env.app_url.join("/l/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/service").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::GONE, "an unknown launch is gone, not 200");
    let missing = env.http.get(env.app_url.join("/no/such/page").unwrap()).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let bad = env.http.get(env.app_url.join("/launch?iss=not%20a%20url").unwrap()).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let csp = bad.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
    assert!(csp.contains("style-src 'self'"), "{csp}");
    assert!(bad.text().await.unwrap().contains("/pkg/ereferral.css"));
    let unknown = env
        .http
        .get(env.app_url.join("/launch?iss=https%3A%2F%2Fevil.example%2Ffhir&launch=x").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn posts_without_a_provable_origin_are_refused_everywhere() {
    let env = start().await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    let url = l.url(&env, "/do/step/service");
    let post = |origin: Option<&'static str>, fetch_site: Option<&'static str>| {
        let mut r = env.http.post(url.clone()).header(header::COOKIE, l.jar.header()).form(&[("pick", DIABETES_PICK)]);
        if let Some(o) = origin {
            r = r.header(header::ORIGIN, o);
        }
        if let Some(s) = fetch_site {
            r = r.header("sec-fetch-site", s);
        }
        r.send()
    };
    for (origin, site) in
        [(Some("null"), None), (None, None), (Some("https://evil.example"), None), (None, Some("cross-site"))]
    {
        let r = post(origin, site).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{origin:?} {site:?}");
    }
    let r = post(None, Some("same-origin")).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "Sec-Fetch-Site: same-origin alone is enough");
    let login = env.app_url.join("/console/login").unwrap();
    let r = env
        .http
        .post(login)
        .header(header::ORIGIN, "null")
        .form(&[("username", "x"), ("password", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn security_headers_a_review_expects() {
    let env = start().await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    let r = env.http.get(l.url(&env, "/service")).header(header::COOKIE, l.jar.header()).send().await.unwrap();
    let h = r.headers();
    assert_eq!(h["referrer-policy"], "same-origin", "no other site sees a launch URL; our posts carry our Origin");
    assert!(h["permissions-policy"].to_str().unwrap().contains("camera=()"));
    assert_eq!(h["cross-origin-opener-policy"], "unsafe-none", "the EHR's new tab keeps its opener to close us");
    assert!(h.get(header::STRICT_TRANSPORT_SECURITY).is_none(), "no HSTS over http");
    let console = env.http.get(env.app_url.join("/console/login").unwrap()).send().await.unwrap();
    assert_eq!(console.headers()["cross-origin-opener-policy"], "same-origin");
    assert!(console.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("frame-ancestors 'none'"));

    // Served over https (behind a TLS proxy): browsers are told to keep it so.
    let tls = start_with(&[("EREFERRAL_PUBLIC_URL", "https://ereferral.example.org/")]).await;
    let r = tls.http.get(tls_local(&tls, "/healthz")).send().await.unwrap();
    assert_eq!(r.headers()[header::STRICT_TRANSPORT_SECURITY], "max-age=31536000; includeSubDomains");
}

/// The listener of an app whose public URL is elsewhere (a proxy's).
fn tls_local(env: &TestEnv, path: &str) -> url::Url {
    let addr = env.state.config.listen;
    url::Url::parse(&format!("http://{addr}{path}")).unwrap()
}

#[tokio::test]
async fn slow_clients_cannot_hold_the_server() {
    let env = start_with(&[("EREFERRAL_MAX_CONCURRENT_REQUESTS", "2"), ("EREFERRAL_REQUEST_TIMEOUT_SECS", "3")]).await;
    let addr = env.state.config.listen;
    // Two clients start uploads and then trickle: they hold the two request slots…
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        // A form post reads its body before anything else.
        s.write_all(
            b"POST /l/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/do/step/details HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nreason=",
        )
        .await
        .unwrap();
        holders.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // …so a third request is answered at once with 503, not queued behind them.
    let r = env.http.get(env.app_url.join("/healthz").unwrap()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().get(header::RETRY_AFTER).is_some());
    // The request deadline frees the slots.
    for mut s in holders {
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await.expect("answered").unwrap();
        let head = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    }
    let r = env.http.get(env.app_url.join("/healthz").unwrap()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // A client that never finishes its request head is disconnected.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf))
        .await
        .expect("closed by the server")
        .unwrap_or(0);
    let got = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(n == 0 || got.starts_with("HTTP/1.1 408"), "{got}");
}
