//! The EHR launch when the EHR misbehaves or says no, the less common launch shapes (a
//! PractitionerRole user, a `fhirContext` draft, `private_key_jwt`), access-token refresh and
//! `Server-Timing`, all against the sandbox EHR.

mod common;

use common::*;
use reqwest::{header, StatusCode};
use sandbox::{ClientAuth, ContextFault, Faults, IdTokenFault, LaunchRequest, ReadFault, TokenFault};
use server::{
    smart::{access::access_token, now_unix},
    store::sessions as store,
};

fn hop_summary(hops: &[Hop]) -> Vec<(String, StatusCode)> {
    hops.iter().map(|h| (h.url.path().to_string(), h.status)).collect()
}

/// Runs `req` as a browser would and checks the app refused it on /callback with `status` and a
/// page containing every one of `texts`, without creating a session (no `/l/` landing, no binding
/// cookie, nothing stored). Returns the page.
async fn assert_refused(env: &TestEnv, req: LaunchRequest, status: StatusCode, texts: &[&str]) -> String {
    let before = session_count(env).await;
    let (response, session, jar, hops) = launch(env, req).await;
    assert_eq!(response.status(), status, "hops: {:?}", hop_summary(&hops));
    assert_eq!(response.url().path(), "/callback", "refused on the callback: {:?}", hop_summary(&hops));
    assert!(session.is_none(), "no session page");
    for hop in &hops {
        assert!(!hop.url.path().starts_with("/l/"), "landed on {}", hop.url);
        assert!(hop.location.as_ref().is_none_or(|l| !l.path().starts_with("/l/")), "redirected to a session");
    }
    assert!(no_session_cookie(&jar), "no binding cookie: {:?}", jar.0.keys());
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let html = response.text().await.unwrap();
    for text in texts {
        assert!(html.contains(text), "{text:?} in {html}");
    }
    assert!(!html.contains("Amelia"), "no patient data on an error page");
    assert_eq!(session_count(env).await, before, "no session stored");
    html
}

/// Runs `req` and checks it landed on a session page; returns the page and the stored row.
async fn assert_launched(env: &TestEnv, req: LaunchRequest) -> (String, store::SessionRow) {
    let (response, session, _, hops) = launch(env, req).await;
    assert_eq!(response.status(), StatusCode::OK, "hops: {:?}", hop_summary(&hops));
    let session = session.expect("landed on a session page");
    let row = store::get(&env.state.db, &session[3..], now_unix()).await.unwrap().expect("session stored");
    (response.text().await.unwrap(), row)
}

const SIGN_IN_FAILED: &str = "Sign-in with your EHR failed";

/// Only the launch's short-lived state cookie (set by `/launch`), never a session's.
fn no_session_cookie(jar: &Jar) -> bool {
    jar.0.keys().all(|k| k.starts_with("__Host-erx-s-"))
}

#[tokio::test]
async fn every_id_token_defect_is_refused_without_a_session() {
    let env = start().await;
    for fault in [
        IdTokenFault::BadSignature,
        IdTokenFault::WrongAudience,
        IdTokenFault::WrongNonce,
        IdTokenFault::Expired,
        IdTokenFault::AlgNone,
    ] {
        let mut req = launch_request("pat-1", "Practitioner/prac-1");
        req.faults = Faults { id_token: fault, ..Faults::default() };
        let html = assert_refused(&env, req, StatusCode::BAD_GATEWAY, &[SIGN_IN_FAILED]).await;
        assert!(html.contains("Launch again from the patient"), "{fault:?}: {html}");
    }
    assert_eq!(session_count(&env).await, 0);
    // The refusals did not poison anything: a clean launch still works.
    assert_launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
}

#[tokio::test]
async fn token_endpoint_failures_are_refused_without_a_session() {
    let env = start().await;
    for fault in [TokenFault::ServerError, TokenFault::InvalidGrant] {
        let mut req = launch_request("pat-1", "Practitioner/prac-1");
        req.faults = Faults { token: fault, ..Faults::default() };
        assert_refused(&env, req, StatusCode::BAD_GATEWAY, &[SIGN_IN_FAILED]).await;
    }
    assert_eq!(session_count(&env).await, 0);
}

#[tokio::test]
async fn a_launch_without_patient_context_says_no_patient_was_selected() {
    let env = start().await;
    let mut req = launch_request("pat-1", "Practitioner/prac-1");
    req.faults = Faults { launch_context: ContextFault::OmitPatient, ..Faults::default() };
    assert_refused(
        &env,
        req,
        StatusCode::BAD_REQUEST,
        &["No patient was selected", "Your EHR opened the app without a patient."],
    )
    .await;
}

#[tokio::test]
async fn patient_read_failures_say_what_the_ehr_did() {
    let env = start().await;
    let mut req = launch_request("pat-1", "Practitioner/prac-1");
    req.faults = Faults { patient_read: ReadFault::NotFound, ..Faults::default() };
    assert_refused(
        &env,
        req,
        StatusCode::BAD_GATEWAY,
        &["Patient details could not be loaded", "Your EHR says the Patient record does not exist."],
    )
    .await;

    let mut req = launch_request("pat-1", "Practitioner/prac-1");
    req.faults = Faults { patient_read: ReadFault::ServerError, ..Faults::default() };
    assert_refused(
        &env,
        req,
        StatusCode::BAD_GATEWAY,
        &[
            "Patient details could not be loaded",
            "Your EHR did not return the Patient record in time or returned an error.",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_practitioner_role_user_is_shown_with_their_role() {
    let env = start().await;
    let (html, row) = assert_launched(&env, launch_request("pat-1", "PractitionerRole/role-1")).await;
    assert!(html.contains("Sarah Chen (Family physician)"), "{html}");
    assert_eq!(row.user_ref, "PractitionerRole/role-1");
    let user = row.user().unwrap();
    assert_eq!(user.practitioner["id"], "prac-1");
    assert_eq!(user.role.as_ref().unwrap()["id"], "role-1");

    // fhirUser as an absolute URL on the issuer works the same, for a role and for a practitioner.
    let mut req = launch_request("pat-2", "PractitionerRole/role-3");
    req.fhir_user_absolute = true;
    let (html, row) = assert_launched(&env, req).await;
    assert!(html.contains("Marie-Ève Gagnon (Discharge planner)"), "{html}");
    assert!(html.contains("Zoë Ndiaye-Côté"), "{html}");
    assert_eq!(row.user_ref, "PractitionerRole/role-3");

    let mut req = launch_request("pat-1", "Practitioner/prac-2");
    req.fhir_user_absolute = true;
    let (html, row) = assert_launched(&env, req).await;
    assert!(html.contains("Rajesh Patel"), "{html}");
    assert_eq!(row.user_ref, "Practitioner/prac-2");
    assert!(row.user().unwrap().role.is_none());
}

fn stored_draft(row: &store::SessionRow) -> Option<serde_json::Value> {
    row.draft_json.as_deref().map(|d| serde_json::from_str(d).unwrap())
}

#[tokio::test]
async fn a_fhir_context_draft_is_kept_for_its_patient_only() {
    let env = start().await;
    let mut req = launch_request("pat-1", "Practitioner/prac-1");
    req.draft_service_request_id = Some("draft-1".into());
    let (_, row) = assert_launched(&env, req).await;
    let draft = stored_draft(&row).expect("draft stored on the session");
    assert_eq!(draft["resourceType"], "ServiceRequest");
    assert_eq!(draft["id"], "draft-1");
    assert_eq!(draft["subject"]["reference"], "Patient/pat-1");
    let iss = env.sandbox.fhir_base();
    assert_eq!(
        row.context().unwrap().fhir_context[0]["reference"],
        format!("{}/ServiceRequest/draft-1", iss.as_str().trim_end_matches('/')),
        "stored as {{iss}}/Type/id"
    );

    // The sandbox lets an EHR name pat-1's draft in a launch for pat-2; with only patient/ scopes
    // it refuses to return it: the launch goes on without a draft.
    let mut req = launch_request("pat-2", "Practitioner/prac-1");
    req.draft_service_request_id = Some("draft-1".into());
    let (html, row) = assert_launched(&env, req).await;
    assert!(html.contains("Zoë Ndiaye-Côté"));
    assert!(row.draft_json.is_none(), "a draft for another patient is ignored");
}

#[tokio::test]
async fn a_readable_draft_for_another_patient_stops_the_launch() {
    // With only patient/ServiceRequest scopes the EHR itself refuses to return pat-1's draft in a
    // pat-2 launch. With user/ServiceRequest.rs it returns it: the EHR's context names another
    // patient's draft, so the launch is refused as a wrong-patient launch.
    let scopes = format!("scopes = \"{} user/ServiceRequest.rs\"", server::config::DEFAULT_SCOPES);
    let env = start_with_external_ehr(
        ClientAuth::ClientSecretBasic { secret: "external-secret".into() },
        r#"{ method = "client_secret_basic", secret = "external-secret" }"#,
        &scopes,
    )
    .await;
    let mut req = launch_request("pat-2", "Practitioner/prac-1");
    req.draft_service_request_id = Some("draft-1".into());
    assert_refused(
        &env,
        req,
        StatusCode::BAD_GATEWAY,
        &[
            "The patient could not be confirmed",
            "Your EHR returned a different patient than the one you launched from: nothing was saved",
        ],
    )
    .await;

    let mut req = launch_request("pat-1", "Practitioner/prac-1");
    req.draft_service_request_id = Some("draft-1".into());
    let (_, row) = assert_launched(&env, req).await;
    assert_eq!(stored_draft(&row).expect("draft kept")["id"], "draft-1");
}

fn private_key_jwt_toml(alg: &str) -> String {
    let (file, kid) = match alg {
        "RS384" => ("client-rs384.pem", "test-client-rs384"),
        "ES384" => ("client-es384.pem", "test-client-es384"),
        other => panic!("no test key for {other}"),
    };
    format!(
        r#"{{ method = "private_key_jwt", key_file = "{}", alg = "{alg}", kid = "{kid}" }}"#,
        test_key_path(file).display()
    )
}

async fn start_private_key_jwt(alg: &str) -> TestEnv {
    start_with_external_ehr(ClientAuth::PrivateKeyJwt { jwks: test_client_jwks() }, &private_key_jwt_toml(alg), "")
        .await
}

#[tokio::test]
async fn private_key_jwt_with_rs384_and_es384_completes_a_launch() {
    for alg in ["RS384", "ES384"] {
        let env = start_private_key_jwt(alg).await;
        let (html, row) = assert_launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
        assert!(html.contains("Amelia Jeanne Tremblay"), "{alg}: {html}");
        assert!(html.contains("External EHR"), "{alg}: the registration's name is shown");
        assert_eq!(row.ehr_id, "external");
    }
}

/// Forces the session's access token to expire, then checks `access_token` refreshes it, that
/// the new token works at the EHR and is what is stored, and that a second call does not refresh.
async fn assert_refreshes(env: &TestEnv) {
    let (_, row) = assert_launched(env, launch_request("pat-1", "Practitioner/prac-1")).await;
    let old = row.tokens(&env.state.cipher).unwrap();
    assert!(old.refresh_token.is_some(), "online_access gives a refresh token");
    let now = now_unix();
    server::sql_exec!(&env.state.db, "UPDATE launch_sessions SET token_expires_at = $1 WHERE id = $2", now, &row.id)
        .unwrap();
    let row = store::get(&env.state.db, &row.id, now).await.unwrap().unwrap();

    let new = access_token(&env.state, &row).await.expect("refreshed");
    assert_ne!(new, old.access_token);
    let patient = env
        .http
        .get(format!("{}/Patient/pat-1", env.sandbox.fhir_base()))
        .bearer_auth(&new)
        .header(header::ACCEPT, "application/fhir+json")
        .send()
        .await
        .unwrap();
    assert_eq!(patient.status(), StatusCode::OK);
    let patient: serde_json::Value = patient.json().await.unwrap();
    assert_eq!(patient["id"], "pat-1");

    let stored = store::get(&env.state.db, &row.id, now_unix()).await.unwrap().unwrap();
    let tokens = stored.tokens(&env.state.cipher).unwrap();
    assert_eq!(tokens.access_token, new, "the new token is stored");
    assert_ne!(tokens.refresh_token, old.refresh_token, "the sandbox rotates refresh tokens");
    assert!(stored.token_expires_at > now_unix() + 60, "{}", stored.token_expires_at);
    assert_ne!(stored.tokens_enc, row.tokens_enc);

    // Still fresh: the same token, nothing written.
    let again = access_token(&env.state, &stored).await.unwrap();
    assert_eq!(again, new);
    let after = store::get(&env.state.db, &row.id, now_unix()).await.unwrap().unwrap();
    assert_eq!(after.tokens_enc, stored.tokens_enc, "no refresh without need");
    assert_eq!(after.token_expires_at, stored.token_expires_at);
}

#[tokio::test]
async fn an_expiring_access_token_is_refreshed_and_stored() {
    let env = start().await;
    assert_refreshes(&env).await;
}

#[tokio::test]
async fn refresh_uses_private_key_jwt_too() {
    for alg in ["RS384", "ES384"] {
        let env = start_private_key_jwt(alg).await;
        assert_refreshes(&env).await;
    }
}

#[tokio::test]
async fn the_callback_reports_time_spent_on_the_ehr() {
    let env = start().await;
    let (response, session, _, hops) = launch(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(session.is_some());
    for path in ["/launch", "/callback"] {
        let hop = hops.iter().find(|h| h.url.path() == path).unwrap();
        let value = hop.headers.get("server-timing").unwrap_or_else(|| panic!("Server-Timing on {path}"));
        let (app, ehr) = server::http::server_timing::parse(value.to_str().unwrap())
            .unwrap_or_else(|| panic!("{path}: {value:?} parses"));
        assert!(app >= 0.0, "{path}: {value:?}");
        if path == "/callback" {
            // Token exchange, JWKS and three FHIR reads: never free.
            assert!(ehr > 0.0, "{path}: {value:?}");
        }
    }
}

#[tokio::test]
async fn access_denied_on_the_callback_burns_the_state() {
    let env = start().await;
    let launch_id = env.sandbox.create_launch(launch_request("pat-1", "Practitioner/prac-1"));
    let r = env.http.get(env.sandbox.launch_url(&launch_id)).send().await.unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let authorize = url::Url::parse(r.headers()[header::LOCATION].to_str().unwrap()).unwrap();
    let state = authorize.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();

    let mut denied = env.app_url.join("/callback").unwrap();
    denied
        .query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("error_description", "The user said no")
        .append_pair("state", &state);
    let r = env.http.get(denied.clone()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get(header::SET_COOKIE).is_none(), "no session cookie");
    let html = r.text().await.unwrap();
    assert!(html.contains("Access was not granted"), "{html}");
    assert!(html.contains("Your EHR did not allow the app to open this"), "{html}");
    assert!(!html.contains("The user said no"), "the EHR's description is not echoed");

    // The EHR now issues a code for that state: it is no longer ours to accept.
    let mut jar = Jar::default();
    let (hops, r) = follow(&env, &mut jar, authorize).await;
    assert_eq!(r.url().path(), "/callback", "hops: {:?}", hop_summary(&hops));
    assert!(r.url().query_pairs().any(|(k, _)| k == "code"));
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("launch again from your EHR"));
    // Nor can the denial be replayed into anything else.
    let r = env.http.get(denied).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(no_session_cookie(&jar));
    assert_eq!(session_count(&env).await, 0);
}
