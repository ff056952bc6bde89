//! The app against an EHR that is wrong, slow or hostile (issue 11): another patient or user in a
//! read, discovery that sends us elsewhere, rotated or unknown signing keys, malformed token
//! answers, callbacks opened in another browser, tokens the EHR stops accepting. Each refusal
//! stores nothing and says plainly what happened.

mod common;

use common::*;
use reqwest::{header, StatusCode};
use sandbox::{ContextFault, DiscoveryFault, Faults, IdTokenFault, ReadFault, TokenFault};
use server::{smart::now_unix, store::sessions as store};

/// Runs `req` and checks it was refused with `status` and every text, with no session stored.
async fn refused(env: &TestEnv, req: sandbox::LaunchRequest, status: StatusCode, texts: &[&str]) -> String {
    let before = session_count(env).await;
    let (response, session, jar, hops) = launch(env, req).await;
    let trail: Vec<String> = hops.iter().map(|h| format!("{} {}", h.status, h.url.path())).collect();
    assert_eq!(response.status(), status, "{trail:?}");
    assert!(session.is_none(), "no session page: {trail:?}");
    assert!(jar.0.keys().all(|k| k.starts_with("__Host-erx-s-")), "no session cookie: {:?}", jar.0.keys());
    let html = response.text().await.unwrap();
    for text in texts {
        assert!(html.contains(text), "{text:?} in {html}");
    }
    assert_eq!(session_count(env).await, before, "nothing stored");
    html
}

const WRONG_PATIENT: &str = "Your EHR returned a different patient than the one you launched from: nothing was saved";

fn with(faults: Faults) -> sandbox::LaunchRequest {
    let mut req = launch_request("pat-1", "Practitioner/prac-1");
    req.faults = faults;
    req
}

#[tokio::test]
async fn a_patient_read_that_returns_another_patient_is_refused() {
    let env = start().await;
    let html = refused(
        &env,
        with(Faults { patient_read: ReadFault::OtherResource, ..Faults::default() }),
        StatusCode::BAD_GATEWAY,
        &["The patient could not be confirmed"],
    )
    .await;
    assert!(html.contains(WRONG_PATIENT));
    assert!(!html.contains("Amelia") && !html.contains("Zoë"), "neither patient is shown");
    // A clean launch still works.
    launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
}

#[tokio::test]
async fn a_user_read_that_returns_another_practitioner_is_refused() {
    let env = start().await;
    refused(
        &env,
        with(Faults { user_read: ReadFault::OtherResource, ..Faults::default() }),
        StatusCode::BAD_GATEWAY,
        &["Your identity could not be confirmed", "different user than the one signed in"],
    )
    .await;
    // Through a PractitionerRole, the role's practitioner is read the same way.
    let mut req = with(Faults { user_read: ReadFault::OtherResource, ..Faults::default() });
    req.user = "PractitionerRole/role-1".into();
    refused(&env, req, StatusCode::BAD_GATEWAY, &["Your identity could not be confirmed"]).await;
}

#[tokio::test]
async fn an_encounter_of_another_patient_is_refused_and_ones_own_is_stored_absolute() {
    // The sandbox lets the EHR put pat-2's encounter in pat-1's launch. With patient/ scopes it
    // will not return it: the launch goes on and names no encounter it could not check.
    let env = start().await;
    let mut req = launch_request("pat-1", "Practitioner/prac-1");
    req.encounter_id = Some("enc-2".into());
    let (l, _) = launched(&env, req).await;
    assert_eq!(row(&env, &l).await.context().unwrap().encounter, None);
    // With user/Encounter.rs it returns it: another patient's encounter stops the launch.
    let scopes = format!("scopes = \"{} user/Encounter.rs\"", server::config::DEFAULT_SCOPES);
    let external = start_with_external_ehr(
        sandbox::ClientAuth::ClientSecretBasic { secret: "external-secret".into() },
        r#"{ method = "client_secret_basic", secret = "external-secret" }"#,
        &scopes,
    )
    .await;
    let mut req = launch_request("pat-1", "Practitioner/prac-1");
    req.encounter_id = Some("enc-2".into());
    refused(&external, req, StatusCode::BAD_GATEWAY, &["The patient could not be confirmed"]).await;

    let mut req = launch_request("pat-1", "Practitioner/prac-1");
    req.encounter_id = Some("enc-1".into());
    let (l, _) = launched(&env, req).await;
    let iss = env.sandbox.fhir_base().as_str().trim_end_matches('/').to_string();
    assert_eq!(
        row(&env, &l).await.context().unwrap().encounter.as_deref(),
        Some(format!("{iss}/Encounter/enc-1").as_str())
    );
}

#[tokio::test]
async fn discovery_that_moves_the_authorization_server_is_refused_before_any_redirect() {
    let env = start().await;
    for fault in [DiscoveryFault::OtherHost, DiscoveryFault::JwksOtherHost] {
        env.sandbox.set_faults(Faults { discovery: fault, ..Faults::default() });
        let launch_id = env.sandbox.create_launch(launch_request("pat-1", "Practitioner/prac-1"));
        // The EHR's launch link: our /launch answers the page itself.
        let r = env.http.get(env.sandbox.launch_url(&launch_id)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_GATEWAY, "{fault:?}");
        assert!(r.headers().get(header::LOCATION).is_none(), "{fault:?}: the browser is sent nowhere");
        let html = r.text().await.unwrap();
        assert!(html.contains("sign-in settings point to another server"), "{fault:?}: {html}");
    }
    assert_eq!(session_count(&env).await, 0);
}

#[tokio::test]
async fn an_authorization_server_on_a_registered_auth_origin_is_used() {
    // Discovery names `localhost:{port}` for authorize and token: allowed once registered.
    let env = start_with_external_ehr(
        sandbox::ClientAuth::ClientSecretBasic { secret: "external-secret".into() },
        r#"{ method = "client_secret_basic", secret = "external-secret" }"#,
        "auth_origins = [\"http://localhost:SANDBOX_PORT\"]",
    )
    .await;
    env.sandbox.set_faults(Faults { discovery: DiscoveryFault::OtherHost, ..Faults::default() });
    let (l, body) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    assert!(body.contains("Amelia Jeanne Tremblay"), "{body}");
    assert!(l.path.starts_with("/l/"));
}

#[tokio::test]
async fn a_rotated_signing_key_is_fetched_once_and_an_unknown_one_is_refused() {
    let env = start().await;
    launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    let fetched = env.sandbox.jwks_fetches();
    assert_eq!(fetched, 1, "the JWKS is cached after the first launch");
    launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    assert_eq!(env.sandbox.jwks_fetches(), 1, "and not fetched again while its key is known");

    // The EHR rotates its key: the next id_token names a kid we have not seen.
    env.sandbox.rotate_signing_key();
    let (_, body) = launched(&env, launch_request("pat-2", "Practitioner/prac-1")).await;
    assert!(body.contains("Zoë Ndiaye-Côté"), "the launch after the rotation works");
    assert_eq!(env.sandbox.jwks_fetches(), 2, "one refetch for the new key");

    // A kid that is in no JWKS: one more look is allowed only after the refetch interval, so a
    // flood of such tokens does not make us hammer the EHR, and each is refused.
    for _ in 0..3 {
        refused(
            &env,
            with(Faults { id_token: IdTokenFault::UnknownKid, ..Faults::default() }),
            StatusCode::BAD_GATEWAY,
            &["Sign-in with your EHR failed"],
        )
        .await;
    }
    assert_eq!(env.sandbox.jwks_fetches(), 2, "rate limited: no refetch within the interval of the last");
}

#[tokio::test]
async fn malformed_token_answers_are_refused_field_by_field() {
    let env = start().await;
    for faults in [
        Faults { token: TokenFault::NotBearer, ..Faults::default() },
        Faults { token: TokenFault::EmptyAccessToken, ..Faults::default() },
        Faults { launch_context: ContextFault::MalformedPatient, ..Faults::default() },
    ] {
        refused(&env, with(faults), StatusCode::BAD_GATEWAY, &["Sign-in with your EHR failed"]).await;
    }
}

/// Starts a launch as browser `agent` and stops at the callback URL the EHR sends it to.
async fn callback_url_for(env: &TestEnv, agent: &str) -> (url::Url, Jar) {
    let launch_id = env.sandbox.create_launch(launch_request("pat-1", "Practitioner/prac-1"));
    let mut jar = Jar::default();
    let mut url = env.sandbox.launch_url(&launch_id);
    for _ in 0..6 {
        let mut req = env.http.get(url.clone()).header(header::USER_AGENT, agent);
        if url.origin() == env.app_url.origin() && !jar.0.is_empty() {
            req = req.header(header::COOKIE, jar.header());
        }
        let r = req.send().await.unwrap();
        if url.origin() == env.app_url.origin() {
            jar.absorb(&r);
        }
        let next = url.join(r.headers()[header::LOCATION].to_str().unwrap()).unwrap();
        if next.origin() == env.app_url.origin() && next.path() == "/callback" {
            return (next, jar);
        }
        url = next;
    }
    panic!("no callback");
}

#[tokio::test]
async fn a_callback_opened_in_another_browser_is_refused_and_does_not_burn_the_launch() {
    let env = start().await;
    let (callback, jar) = callback_url_for(&env, "Chromium/156 (clinician)").await;
    assert!(jar.0.keys().any(|k| k.starts_with("__Host-erx-s-")), "/launch set the state cookie");

    // Another browser (another User-Agent, no cookie) opens the URL first: refused.
    let r = env.http.get(callback.clone()).header(header::USER_AGENT, "Firefox/150 (attacker)").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get(header::SET_COOKIE).is_none());
    assert!(r.text().await.unwrap().contains("This sign-in was started in another window"));
    // A wrong state cookie is refused too.
    let name = jar.0.keys().find(|k| k.starts_with("__Host-erx-s-")).unwrap().clone();
    let r = env
        .http
        .get(callback.clone())
        .header(header::USER_AGENT, "Chromium/156 (clinician)")
        .header(header::COOKIE, format!("{name}=forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(session_count(&env).await, 0);

    // The browser that started it still finishes it.
    let r = env
        .http
        .get(callback)
        .header(header::USER_AGENT, "Chromium/156 (clinician)")
        .header(header::COOKIE, jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()[header::LOCATION].to_str().unwrap().starts_with("/l/"));
    assert_eq!(session_count(&env).await, 1);
}

#[tokio::test]
async fn a_browser_without_cookies_is_held_to_its_fingerprint() {
    let env = start().await;
    let (callback, _jar) = callback_url_for(&env, "Safari/19 (no cookies)").await;
    // The same browser, sending no cookie at all: its fingerprint matches.
    let r = env.http.get(callback).header(header::USER_AGENT, "Safari/19 (no cookies)").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let session = r.headers()[header::LOCATION].to_str().unwrap().to_string();
    let page = env.app_url.join(&session).unwrap();
    let ok = env.http.get(page.clone()).header(header::USER_AGENT, "Safari/19 (no cookies)").send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    // The session URL opened in another browser is not a bearer of the session.
    let other = env.http.get(page).header(header::USER_AGENT, "Chromium/156").send().await.unwrap();
    assert_eq!(other.status(), StatusCode::GONE);
    assert!(!other.text().await.unwrap().contains("Amelia"));
}

/// A launched session's row, fresh from the store.
async fn row(env: &TestEnv, l: &Launched) -> store::SessionRow {
    store::get(&env.state.db, l.id(), now_unix()).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_401_from_the_ehr_is_refreshed_once_and_the_referral_goes_through() {
    let env = start().await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    fill_valid_referral(&env, &l).await;
    let before = row(&env, &l).await.tokens(&env.state.cipher).unwrap();
    // The EHR expires every token early: the submit's read of the patient gets 401.
    env.sandbox.revoke_access_tokens();
    let refreshes = env.sandbox.refreshes();
    let to = l.post_see_other(&env, "/do/submit", &[]).await;
    assert!(to.ends_with("/done"), "{to}");
    assert_eq!(env.sandbox.refreshes(), refreshes + 1, "refreshed exactly once");
    assert_eq!(count(&env, "SELECT COUNT(*) FROM referrals").await, 1);
    let after = row(&env, &l).await.tokens(&env.state.cipher).unwrap();
    assert_ne!(after.access_token, before.access_token, "the new token is kept");
}

#[tokio::test]
async fn when_the_ehr_refuses_the_refresh_the_clinician_is_told_to_launch_again_and_keeps_the_draft() {
    let env = start().await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    fill_valid_referral(&env, &l).await;
    env.sandbox.revoke_access_tokens();
    env.sandbox.set_faults(Faults { token: TokenFault::InvalidGrant, ..Faults::default() });
    let r = l.post(&env, "/do/submit", &[]).await;
    assert_eq!(r.status(), StatusCode::GONE);
    let html = r.text().await.unwrap();
    assert!(html.contains("Your sign-in with your EHR has ended. What you typed is saved"), "{html}");
    assert_eq!(count(&env, "SELECT COUNT(*) FROM referrals").await, 0, "nothing sent");
    assert_eq!(count(&env, "SELECT COUNT(*) FROM referral_drafts WHERE status = 'editing'").await, 1, "nothing lost");
}

#[tokio::test]
async fn a_token_about_to_expire_is_refreshed_before_the_call() {
    let env = start().await;
    let mut req = launch_request("pat-1", "Practitioner/prac-1");
    req.faults = Faults { token: TokenFault::ShortLived, ..Faults::default() };
    let (l, _) = launched(&env, req).await;
    fill_valid_referral(&env, &l).await;
    let refreshes = env.sandbox.refreshes();
    l.post_see_other(&env, "/do/submit", &[]).await;
    assert_eq!(env.sandbox.refreshes(), refreshes + 1, "30 s left is inside the refresh margin");
    assert_eq!(count(&env, "SELECT COUNT(*) FROM referrals").await, 1);
}

#[tokio::test]
async fn a_refresh_naming_another_patient_stops_the_referral() {
    let env = start().await;
    let mut req = launch_request("pat-1", "Practitioner/prac-1");
    req.faults = Faults { launch_context: ContextFault::OtherPatientOnRefresh, ..Faults::default() };
    let (l, _) = launched(&env, req).await;
    fill_valid_referral(&env, &l).await;
    env.sandbox.revoke_access_tokens();
    let r = l.post(&env, "/do/submit", &[]).await;
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    // At submit the draft is kept: "nothing was sent" rather than the launch's "nothing was saved".
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Your EHR returned a different patient than the one you launched from: nothing was sent"));
    assert_eq!(count(&env, "SELECT COUNT(*) FROM referrals").await, 0);
    // The session is ended: it cannot be used with the other patient's tokens.
    let (status, _) = l.get(&env, "/review").await;
    assert_eq!(status, StatusCode::GONE);
}

#[tokio::test]
async fn a_patient_the_ehr_no_longer_has_at_submit_is_not_referred() {
    let env = start().await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    fill_valid_referral(&env, &l).await;
    env.sandbox.set_faults(Faults { patient_read: ReadFault::NotFound, ..Faults::default() });
    let r = l.post(&env, "/do/submit", &[]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("Your EHR no longer has this patient"));
    assert_eq!(count(&env, "SELECT COUNT(*) FROM referrals").await, 0);

    // The EHR answering with another patient at submit is refused the same way.
    env.sandbox.set_faults(Faults { patient_read: ReadFault::OtherResource, ..Faults::default() });
    let r = l.post(&env, "/do/submit", &[]).await;
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM referrals").await, 0);
    env.sandbox.set_faults(Faults::default());
    l.post_see_other(&env, "/do/submit", &[]).await;
    assert_eq!(count(&env, "SELECT COUNT(*) FROM referrals").await, 1, "once the EHR is right again");
}

/// Every reference value in `v` (outside contained resources' own `#` ids).
fn references(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map {
                match (k.as_str(), child) {
                    ("reference", serde_json::Value::String(r)) => out.push(r.clone()),
                    _ => references(child, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| references(i, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_reference_in_a_delivered_message_resolves_in_the_bundle_or_at_the_ehr() {
    let env = start().await;
    let mut req = launch_request("pat-1", "PractitionerRole/role-1");
    req.encounter_id = Some("enc-1".into());
    req.draft_service_request_id = Some("draft-1".into());
    let (l, _) = launched(&env, req).await;
    fill_valid_referral(&env, &l).await;
    l.post_see_other(&env, "/do/submit", &[]).await;
    let message = eventually("the EHR has the message", 20, || async {
        env.sandbox.received_messages().into_iter().find(|m| m.event == "notify-add-service-request")
    })
    .await;
    let bundle = message.raw;
    let entries = bundle["entry"].as_array().unwrap();
    let full_urls: Vec<String> = entries.iter().map(|e| e["fullUrl"].as_str().unwrap().to_string()).collect();
    // Every reference, relative ones resolved against their entry's base (FHIR bundle rules).
    let mut refs = Vec::new();
    for entry in entries {
        let full_url = entry["fullUrl"].as_str().unwrap();
        let base: String = full_url.rsplitn(3, '/').nth(2).unwrap().to_string();
        let mut own = Vec::new();
        references(&entry["resource"], &mut own);
        refs.extend(own.into_iter().filter(|r| !r.starts_with('#')).map(|r| {
            if r.contains("://") || r.starts_with("urn:") {
                r
            } else {
                format!("{base}/{r}")
            }
        }));
    }
    let iss = env.sandbox.fhir_base().as_str().trim_end_matches('/').to_string();
    let access = row(&env, &l).await.tokens(&env.state.cipher).unwrap().access_token;
    let mut at_ehr = 0;
    for r in &refs {
        if full_urls.contains(r) {
            continue;
        }
        assert!(r.starts_with(&format!("{iss}/")), "{r} is neither in the bundle nor on the EHR");
        let got =
            env.http.get(r).bearer_auth(&access).header(header::ACCEPT, "application/fhir+json").send().await.unwrap();
        assert_eq!(got.status(), StatusCode::OK, "{r}");
        at_ehr += 1;
    }
    assert!(
        refs.iter().any(|r| r == &format!("{iss}/Encounter/enc-1")),
        "the encounter is referenced as Type/id: {refs:?}"
    );
    assert!(refs.iter().any(|r| r == &format!("{iss}/ServiceRequest/draft-1")), "basedOn the EHR's draft: {refs:?}");
    assert!(at_ehr >= 3, "patient, encounter, draft (and practitioners) resolved at the EHR: {refs:?}");
}
