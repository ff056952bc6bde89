//! The EHR launch end to end against the in-process sandbox EHR: the happy path and the refusals.

mod common;

use common::*;
use reqwest::{header, StatusCode};

#[tokio::test]
async fn ehr_launch_lands_on_the_launched_patient() {
    let env = start().await;
    let (response, session, jar, hops) = launch(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "hops: {:?}",
        hops.iter().map(|h| (h.url.path().to_string(), h.status)).collect::<Vec<_>>()
    );
    let session = session.expect("landed on a launch page");

    // /launch -> authorize (sandbox) -> /callback -> /l/{id}
    assert_eq!(hops[0].url.path(), "/launch");
    let authorize = hops[0].location.clone().unwrap();
    let q: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["aud"], env.sandbox.fhir_base().as_str().trim_end_matches('/'));
    assert!(q["state"].len() >= 43, "state has at least 256 bits");
    assert!(q.contains_key("nonce") && q.contains_key("launch"));
    let callback = hops.iter().find(|h| h.url.path() == "/callback").expect("callback hop");
    let cookie = callback.set_cookies.first().expect("binding cookie set");
    for attr in ["Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    assert_eq!(jar.0.len(), 1);

    let headers = response.headers().clone();
    let html = response.text().await.unwrap();
    assert!(html.contains("Amelia Jeanne Tremblay"), "patient name on the page");
    assert!(html.contains("Sarah Chen"), "signed-in user on the page");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains(&format!("frame-ancestors {}", env.sandbox.base_url().origin().ascii_serialization())),
        "{csp}"
    );
    assert!(csp.contains("'nonce-"), "{csp}");

    // No token ever reaches the browser: nothing in any hop's headers or the page.
    let row =
        server::store::sessions::get(&env.state.db, &session[3..], server::smart::now_unix()).await.unwrap().unwrap();
    let tokens = row.tokens(&env.state.cipher).unwrap();
    assert!(!html.contains(&tokens.access_token));
    for hop in &hops {
        assert!(!hop.url.as_str().contains(&tokens.access_token));
        assert!(hop.set_cookies.iter().all(|c| !c.contains(&tokens.access_token)));
    }
    // At rest the tokens are encrypted.
    assert!(!row.tokens_enc.windows(tokens.access_token.len()).any(|w| w == tokens.access_token.as_bytes()));
}

#[tokio::test]
async fn unknown_issuer_is_refused_before_any_outbound_request() {
    let env = start().await;
    // A listener that records whether anyone connected to it.
    let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let probe_addr = probe.local_addr().unwrap();
    let url = env.app_url.join(&format!("/launch?iss=http://{probe_addr}/fhir&launch=abc")).unwrap();
    let response = env.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = response.text().await.unwrap();
    assert!(body.contains("not registered"), "{body}");
    let connected = tokio::time::timeout(std::time::Duration::from_millis(300), probe.accept()).await;
    assert!(connected.is_err(), "the app contacted an unregistered issuer");
}

#[tokio::test]
async fn missing_or_malformed_launch_parameters_get_a_clear_page() {
    let env = start().await;
    for query in ["", "?iss=", "?launch=x", "?iss=not-a-url&launch=x"] {
        let response = env.http.get(env.app_url.join(&format!("/launch{query}")).unwrap()).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let body = response.text().await.unwrap();
        assert!(body.contains("opened from your EHR"), "{query}: {body}");
    }
}

#[tokio::test]
async fn replayed_and_tampered_state_say_the_launch_expired() {
    let env = start().await;
    let launch_id = env.sandbox.create_launch(launch_request("pat-2", "Practitioner/prac-1"));
    let mut jar = Jar::default();
    // Walk to the callback URL but do not call it yet.
    let r = env.http.get(env.sandbox.launch_url(&launch_id)).send().await.unwrap();
    let authorize = url::Url::parse(r.headers()[header::LOCATION].to_str().unwrap()).unwrap();
    let r = env.http.get(authorize).send().await.unwrap();
    let callback = url::Url::parse(r.headers()[header::LOCATION].to_str().unwrap()).unwrap();
    assert_eq!(callback.path(), "/callback");

    let mut tampered = callback.clone();
    let pairs: Vec<(String, String)> = callback.query_pairs().into_owned().collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs.iter().map(|(k, v)| {
        if k == "state" {
            (k.clone(), format!("{v}x"))
        } else {
            (k.clone(), v.clone())
        }
    }));
    let (_, r) = follow(&env, &mut jar, tampered).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("launch again from your EHR"));

    let (_, first) = follow(&env, &mut jar, callback.clone()).await;
    assert_eq!(first.status(), StatusCode::OK);
    let (_, replay) = follow(&env, &mut Jar::default(), callback).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(replay.text().await.unwrap().contains("launch again from your EHR"));
}

#[tokio::test]
async fn two_launches_in_one_browser_keep_their_own_patient() {
    let env = start().await;
    let (r1, s1, jar1, _) = launch(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    let (r2, s2, jar2, _) = launch(&env, launch_request("pat-3", "Practitioner/prac-2")).await;
    assert_eq!((r1.status(), r2.status()), (StatusCode::OK, StatusCode::OK));
    let (s1, s2) = (s1.unwrap(), s2.unwrap());
    assert_ne!(s1, s2);
    // One browser: both cookies in one jar.
    let mut browser = jar1.clone();
    browser.0.extend(jar2.0.clone());
    for (path, name, other) in [(&s1, "Amelia Jeanne Tremblay", "Łukasz"), (&s2, "Łukasz Wójcik", "Amelia")] {
        let r = env
            .http
            .get(env.app_url.join(path).unwrap())
            .header(header::COOKIE, browser.header())
            .send()
            .await
            .unwrap();
        let html = r.text().await.unwrap();
        assert!(html.contains(name), "{path} shows {name}");
        assert!(!html.contains(other), "{path} does not show {other}");
    }
}

#[tokio::test]
async fn a_bound_session_refuses_a_browser_without_its_cookie() {
    let env = start().await;
    let (first, session, jar, _) = launch(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    // The launching browser loads its page completely (the page is streamed: the binding is recorded
    // while it renders), as a real browser does before anyone else could ask.
    assert!(first.text().await.unwrap().contains("Amelia"));
    let session = session.unwrap();
    let url = env.app_url.join(&session).unwrap();
    // Another browser that learnt the URL, after the launching browser showed its cookie.
    let other = env.http.get(url.clone()).send().await.unwrap().text().await.unwrap();
    assert!(!other.contains("Amelia"), "the session is cookie-bound after the first page load");
    assert!(other.contains("Launch the app again from your EHR"));
    let wrong = env.http.get(url.clone()).header(header::COOKIE, jar.header().replace('=', "=x")).send().await.unwrap();
    assert!(!wrong.text().await.unwrap().contains("Amelia"));
    let same = env.http.get(url).header(header::COOKIE, jar.header()).send().await.unwrap();
    assert!(same.text().await.unwrap().contains("Amelia"), "a reload in the launching browser still works");
}

#[tokio::test]
async fn healthz_and_security_headers() {
    let env = start().await;
    let r = env.http.get(env.app_url.join("/healthz").unwrap()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::REFERRER_POLICY], "same-origin");
    assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let csp = r.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-ancestors http://127.0.0.1:"), "{csp}");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn the_patient_banner_follows_need_patient_banner() {
    let env = start().await;
    let mut hidden = launch_request("pat-1", "Practitioner/prac-1");
    hidden.need_patient_banner = false;
    let (r, _, _, _) = launch(&env, hidden).await;
    let html = r.text().await.unwrap();
    assert!(!html.contains("data-testid=\"patient-banner\""), "the EHR shows its own banner");
    assert!(html.contains("Amelia Jeanne Tremblay"), "the page still says who the referral is for");

    let (r, _, _, _) = launch(&env, launch_request("pat-4", "Practitioner/prac-1")).await;
    let html = r.text().await.unwrap();
    assert!(html.contains("data-testid=\"patient-banner\""));
    assert!(html.contains("data-testid=\"patient-gender\""));
}
