//! EHR launch, standalone launch and every authorization/token rejection, driven by an
//! independent OAuth client (the `oauth2` crate).

mod common;

use common::*;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use oauth2::basic::BasicErrorResponseType;
use oauth2::{AuthorizationCode, PkceCodeVerifier, RefreshToken, RequestTokenError, TokenResponse};
use sandbox::{ContextFault, Faults, IdTokenFault, LaunchMode, TokenFault};
use serde_json::Value;

async fn jwks(sb: &sandbox::SandboxHandle) -> JwkSet {
    http().get(sb.base_url().join("auth/jwks").unwrap()).send().await.unwrap().json().await.unwrap()
}

async fn verify_id_token(sb: &sandbox::SandboxHandle, token: &str, client_id: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let set = jwks(sb).await;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = set.find(&kid).ok_or("kid not in JWKS")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[client_id]);
    v.set_issuer(&[sb.fhir_base().as_str()]);
    v.leeway = 5;
    jsonwebtoken::decode::<Value>(token, &key, &v).map(|d| d.claims).map_err(|e| e.to_string())
}

fn oauth_error<RE: std::error::Error + 'static>(
    r: Result<SmartTokenResponse, RequestTokenError<RE, oauth2::basic::BasicErrorResponse>>,
) -> BasicErrorResponseType {
    match r {
        Err(RequestTokenError::ServerResponse(e)) => e.error().clone(),
        Err(other) => panic!("expected an OAuth error response, got {other:?}"),
        Ok(t) => panic!("expected an error, got a token: {t:?}"),
    }
}

async fn read(sb: &sandbox::SandboxHandle, path: &str, token: &str) -> (u16, Value) {
    let resp = http().get(format!("{}/{path}", sb.fhir_base())).bearer_auth(token).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn ehr_launch_full_flow_with_context_id_token_and_fhir_read() {
    let sb = spawn().await;
    let mut req = launch_request("pat-1");
    req.draft_service_request_id = Some("draft-1".into());
    req.need_patient_banner = true;
    let launch = sb.create_launch(req);
    let launch_url = sb.launch_url(&launch);
    let q: std::collections::HashMap<_, _> = launch_url.query_pairs().into_owned().collect();
    assert_eq!(q["iss"], sb.fhir_base().as_str());
    assert_eq!(q["launch"], launch);
    assert!(launch_url.as_str().starts_with("http://localhost:3000/launch?"));

    let client = oauth_client(&sb, "ereferral", Some(SECRET));
    let ar = auth_request(&sb, &client, EHR_SCOPES, Some(&launch), Some("n-0S6_WzA2Mj"));
    let code = get_code(&ar).await;
    let tok = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(ar.verifier)
        .request_async(&http())
        .await
        .expect("token");
    let x = &tok.extra_fields().extra;
    assert_eq!(x["patient"], "pat-1");
    assert_eq!(x["encounter"], "enc-1");
    assert_eq!(x["fhirContext"][0]["reference"], "ServiceRequest/draft-1");
    assert_eq!(x["need_patient_banner"], true);
    assert!(x["smart_style_url"].as_str().unwrap().ends_with("/smart-style.json"));
    let handle = x["smart_web_messaging_handle"].as_str().unwrap();
    assert_eq!(Some(handle.to_string()), sb.messaging_handle(&launch));
    let origin = sb.base_url().origin().ascii_serialization();
    assert_eq!(x["smart_web_messaging_origin"], origin.as_str());
    assert!(x.get("ereferral_return_url").is_none(), "only for link mode");
    assert_eq!(tok.expires_in(), Some(std::time::Duration::from_secs(3600)));
    assert!(tok.refresh_token().is_some(), "offline_access was requested");
    let scope: Vec<String> = tok.scopes().unwrap().iter().map(|s| s.to_string()).collect();
    assert!(scope.contains(&"patient/Patient.rs".to_string()));

    let claims = verify_id_token(&sb, x["id_token"].as_str().unwrap(), "ereferral").await.expect("valid id_token");
    assert_eq!(claims["fhirUser"], "Practitioner/prac-1");
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert!(claims["exp"].as_i64().unwrap() > now());

    let at = tok.access_token().secret();
    let (status, patient) = read(&sb, "Patient/pat-1", at).await;
    assert_eq!(status, 200);
    assert_eq!(patient["id"], "pat-1");
    let (status, _) = read(&sb, "ServiceRequest/draft-1", at).await;
    assert_eq!(status, 200);
    let (status, _) = read(&sb, "Practitioner/prac-1", at).await;
    assert_eq!(status, 200);
    let (status, _) = read(&sb, "Patient/pat-2", at).await;
    assert_eq!(status, 403, "patient/ scope reaches only the launch patient");

    // The launch id is single use.
    let again = auth_request(&sb, &client, EHR_SCOPES, Some(&launch), None);
    let (status, q) = authorize(&again.url).await;
    assert_eq!(status, 302);
    assert_eq!(q.unwrap()["error"], "invalid_request");
    sb.shutdown().await;
}

#[tokio::test]
async fn fhir_user_absolute_role_and_link_mode_return_url() {
    let sb = spawn().await;
    let mut req = launch_request("pat-2");
    req.user = "PractitionerRole/role-3".into();
    req.fhir_user_absolute = true;
    req.mode = LaunchMode::Link;
    req.web_messaging = false;
    req.encounter_id = None;
    let launch = sb.create_launch(req);
    let client = oauth_client(&sb, "ereferral", Some(SECRET));
    let ar = auth_request(&sb, &client, "launch openid fhirUser patient/Patient.rs", Some(&launch), None);
    let code = get_code(&ar).await;
    let tok = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(ar.verifier)
        .request_async(&http())
        .await
        .expect("token");
    let x = &tok.extra_fields().extra;
    assert!(x.get("smart_web_messaging_handle").is_none());
    assert!(x.get("encounter").is_none());
    assert!(x.get("fhirContext").is_none());
    assert!(tok.refresh_token().is_none(), "no offline_access/online_access requested");
    let ret = x["ereferral_return_url"].as_str().unwrap();
    assert_eq!(ret, format!("{}?returned={launch}", sb.base_url()));
    let claims = verify_id_token(&sb, x["id_token"].as_str().unwrap(), "ereferral").await.unwrap();
    assert_eq!(claims["fhirUser"], format!("{}/PractitionerRole/role-3", sb.fhir_base()));
    assert!(claims.get("nonce").is_none());
}

#[tokio::test]
async fn wrong_code_verifier_is_invalid_grant() {
    let sb = spawn().await;
    let launch = sb.create_launch(launch_request("pat-1"));
    let client = oauth_client(&sb, "ereferral", Some(SECRET));
    let ar = auth_request(&sb, &client, EHR_SCOPES, Some(&launch), None);
    let code = get_code(&ar).await;
    let r = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new("x".repeat(64)))
        .request_async(&http())
        .await;
    assert_eq!(oauth_error(r), BasicErrorResponseType::InvalidGrant);
}

#[tokio::test]
async fn reused_code_is_invalid_grant_and_revokes_tokens() {
    let sb = spawn().await;
    let launch = sb.create_launch(launch_request("pat-1"));
    let client = oauth_client(&sb, "ereferral", Some(SECRET));
    let ar = auth_request(&sb, &client, EHR_SCOPES, Some(&launch), None);
    let code = get_code(&ar).await;
    let verifier = ar.verifier.secret().clone();
    let tok = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.clone()))
        .request_async(&http())
        .await
        .expect("first exchange");
    let at = tok.access_token().secret().clone();
    assert_eq!(read(&sb, "Patient/pat-1", &at).await.0, 200);
    let r = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&http())
        .await;
    assert_eq!(oauth_error(r), BasicErrorResponseType::InvalidGrant);
    assert_eq!(read(&sb, "Patient/pat-1", &at).await.0, 401, "token revoked after code reuse");
    let rt = tok.refresh_token().unwrap().clone();
    let r = client.exchange_refresh_token(&rt).request_async(&http()).await;
    assert_eq!(oauth_error(r), BasicErrorResponseType::InvalidGrant);
}

#[tokio::test]
async fn redirect_uri_mismatch_at_authorize_is_an_error_page() {
    let sb = spawn().await;
    let launch = sb.create_launch(launch_request("pat-1"));
    let client = oauth_client(&sb, "ereferral", Some(SECRET))
        .set_redirect_uri(oauth2::RedirectUrl::new("http://evil.example/callback".into()).unwrap());
    let ar = auth_request(&sb, &client, EHR_SCOPES, Some(&launch), None);
    let resp = http().get(ar.url.clone()).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp.headers().get("location").is_none(), "never redirect to an unregistered URI");
    assert!(resp.text().await.unwrap().contains("not registered"));
}

#[tokio::test]
async fn redirect_uri_mismatch_at_token_is_invalid_grant() {
    let sb = spawn().await;
    let launch = sb.create_launch(launch_request("pat-1"));
    let client = oauth_client(&sb, "ereferral", Some(SECRET));
    let ar = auth_request(&sb, &client, EHR_SCOPES, Some(&launch), None);
    let code = get_code(&ar).await;
    let other = client.set_redirect_uri(oauth2::RedirectUrl::new("http://localhost:3000/other".into()).unwrap());
    let r =
        other.exchange_code(AuthorizationCode::new(code)).set_pkce_verifier(ar.verifier).request_async(&http()).await;
    assert_eq!(oauth_error(r), BasicErrorResponseType::InvalidGrant);
}

#[tokio::test]
async fn unknown_client_gets_error_page_and_invalid_client() {
    let sb = spawn().await;
    let launch = sb.create_launch(launch_request("pat-1"));
    let client = oauth_client(&sb, "nobody", Some("secret"));
    let ar = auth_request(&sb, &client, EHR_SCOPES, Some(&launch), None);
    let resp = http().get(ar.url.clone()).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp.headers().get("location").is_none());

    let r = client
        .exchange_code(AuthorizationCode::new("whatever".into()))
        .set_pkce_verifier(PkceCodeVerifier::new("y".repeat(50)))
        .request_async(&http())
        .await;
    assert_eq!(oauth_error(r), BasicErrorResponseType::InvalidClient);
    let wrong_secret = oauth_client(&sb, "ereferral", Some("not-the-secret"));
    let r = wrong_secret
        .exchange_code(AuthorizationCode::new("whatever".into()))
        .set_pkce_verifier(PkceCodeVerifier::new("y".repeat(50)))
        .request_async(&http())
        .await;
    assert_eq!(oauth_error(r), BasicErrorResponseType::InvalidClient);
    let (status, body) =
        post_token(&sb, &[("grant_type", "authorization_code"), ("code", "x")], Some(("ereferral", "bad"))).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn missing_aud_plain_pkce_and_unknown_scope_are_redirected_errors() {
    let sb = spawn().await;
    let client = oauth_client(&sb, "ereferral", Some(SECRET));
    let launch = sb.create_launch(launch_request("pat-1"));
    let ar = auth_request(&sb, &client, EHR_SCOPES, Some(&launch), None);

    let mut no_aud = ar.url.clone();
    let pairs: Vec<(String, String)> = ar.url.query_pairs().into_owned().filter(|(k, _)| k != "aud").collect();
    no_aud.query_pairs_mut().clear().extend_pairs(pairs);
    let (status, q) = authorize(&no_aud).await;
    assert_eq!(status, 302);
    let q = q.unwrap();
    assert_eq!(q["error"], "invalid_request");
    assert!(q.contains_key("error_description"));
    assert_eq!(q.get("state"), Some(ar.state.secret()));

    let mut wrong_aud = ar.url.clone();
    let pairs: Vec<(String, String)> = ar
        .url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| if k == "aud" { (k, "http://other.example/fhir".into()) } else { (k, v) })
        .collect();
    wrong_aud.query_pairs_mut().clear().extend_pairs(pairs);
    assert_eq!(authorize(&wrong_aud).await.1.unwrap()["error"], "invalid_request");

    let mut plain = ar.url.clone();
    let pairs: Vec<(String, String)> = ar
        .url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| match k.as_str() {
            "code_challenge_method" => (k, "plain".to_string()),
            "code_challenge" => (k, "p".repeat(50)),
            _ => (k, v),
        })
        .collect();
    plain.query_pairs_mut().clear().extend_pairs(pairs);
    assert_eq!(authorize(&plain).await.1.unwrap()["error"], "invalid_request");

    let mut no_pkce = ar.url.clone();
    let pairs: Vec<(String, String)> =
        ar.url.query_pairs().into_owned().filter(|(k, _)| !k.starts_with("code_challenge")).collect();
    no_pkce.query_pairs_mut().clear().extend_pairs(pairs);
    assert_eq!(authorize(&no_pkce).await.1.unwrap()["error"], "invalid_request");

    let bad_scope = auth_request(&sb, &client, "launch openid patient/Observation.cruds", Some(&launch), None);
    assert_eq!(authorize(&bad_scope.url).await.1.unwrap()["error"], "invalid_scope");
    let v1 = auth_request(&sb, &client, "launch openid fhirUser patient/Patient.read", Some(&launch), None);
    assert!(authorize(&v1.url).await.1.unwrap().contains_key("code"), "v1 scopes accepted");

    let unknown_launch = auth_request(&sb, &client, EHR_SCOPES, Some("no-such-launch"), None);
    assert_eq!(authorize(&unknown_launch.url).await.1.unwrap()["error"], "invalid_request");
}

#[tokio::test]
async fn refresh_token_grant_rotates() {
    let sb = spawn().await;
    let launch = sb.create_launch(launch_request("pat-1"));
    let client = oauth_client(&sb, "ereferral", Some(SECRET));
    let ar = auth_request(&sb, &client, EHR_SCOPES, Some(&launch), Some("nonce-1"));
    let code = get_code(&ar).await;
    let tok = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(ar.verifier)
        .request_async(&http())
        .await
        .unwrap();
    let rt1 = tok.refresh_token().unwrap().clone();
    let tok2 = client.exchange_refresh_token(&rt1).request_async(&http()).await.expect("refresh");
    let rt2 = tok2.refresh_token().unwrap().clone();
    assert_ne!(rt1.secret(), rt2.secret(), "rotated");
    assert_eq!(tok2.extra_fields().extra["patient"], "pat-1");
    assert_eq!(read(&sb, "Patient/pat-1", tok2.access_token().secret()).await.0, 200);
    let r = client.exchange_refresh_token(&rt1).request_async(&http()).await;
    assert_eq!(oauth_error(r), BasicErrorResponseType::InvalidGrant, "old refresh token is dead");
    let other = oauth_client(&sb, PUBLIC_CLIENT, None);
    let r = other.exchange_refresh_token(&RefreshToken::new(rt2.secret().clone())).request_async(&http()).await;
    assert_eq!(oauth_error(r), BasicErrorResponseType::InvalidGrant, "bound to its client");
}

#[tokio::test]
async fn public_client_standalone_launch_picks_first_patient() {
    let sb = spawn().await;
    let client = oauth_client(&sb, PUBLIC_CLIENT, None);
    let ar = auth_request(&sb, &client, "launch/patient openid fhirUser patient/Patient.rs", None, None);
    let code = get_code(&ar).await;
    let tok = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(ar.verifier)
        .request_async(&http())
        .await
        .expect("public client token");
    let x = &tok.extra_fields().extra;
    assert_eq!(x["patient"], "pat-1");
    assert_eq!(x["need_patient_banner"], true);
    let claims = verify_id_token(&sb, x["id_token"].as_str().unwrap(), PUBLIC_CLIENT).await.unwrap();
    assert_eq!(claims["fhirUser"], "Practitioner/prac-1");
}

#[tokio::test]
async fn id_token_faults_produce_their_defect() {
    let sb = spawn().await;
    let client = oauth_client(&sb, "ereferral", Some(SECRET));
    for fault in [
        IdTokenFault::Expired,
        IdTokenFault::BadSignature,
        IdTokenFault::WrongAudience,
        IdTokenFault::WrongNonce,
        IdTokenFault::AlgNone,
    ] {
        let mut req = launch_request("pat-1");
        req.faults = Faults { id_token: fault, ..Faults::default() };
        let launch = sb.create_launch(req);
        let ar = auth_request(&sb, &client, EHR_SCOPES, Some(&launch), Some("the-nonce"));
        let code = get_code(&ar).await;
        let tok = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(ar.verifier)
            .request_async(&http())
            .await
            .unwrap();
        let id_token = tok.extra_fields().extra["id_token"].as_str().unwrap().to_string();
        let verified = verify_id_token(&sb, &id_token, "ereferral").await;
        match fault {
            IdTokenFault::WrongNonce => {
                let claims = verified.expect("signature is fine");
                assert_ne!(claims["nonce"], "the-nonce");
            }
            IdTokenFault::AlgNone => {
                assert!(id_token.ends_with('.'));
                let header: Value =
                    serde_json::from_slice(&base64_decode(id_token.split('.').next().unwrap())).unwrap();
                assert_eq!(header["alg"], "none");
            }
            _ => assert!(verified.is_err(), "{fault:?} must not verify"),
        }
    }
}

#[tokio::test]
async fn omit_patient_context_fault_drops_patient_from_the_token_response_only() {
    let sb = spawn().await;
    let client = oauth_client(&sb, "ereferral", Some(SECRET));
    let mut req = launch_request("pat-1");
    req.faults = Faults { launch_context: ContextFault::OmitPatient, ..Faults::default() };
    let launch = sb.create_launch(req);
    let ar = auth_request(&sb, &client, EHR_SCOPES, Some(&launch), None);
    let code = get_code(&ar).await;
    let tok = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(ar.verifier)
        .request_async(&http())
        .await
        .expect("token");
    let x = &tok.extra_fields().extra;
    assert!(x.get("patient").is_none(), "no patient in {x:?}");
    assert_eq!(x["encounter"], "enc-1", "the rest of the context is still there");
    assert!(x["id_token"].is_string());
    // The grant itself is unchanged: patient/ scopes still resolve against the launch patient.
    let (status, _) = read(&sb, "Patient/pat-1", tok.access_token().secret()).await;
    assert_eq!(status, 200);
    // The global knob does the same, and a refresh keeps omitting the patient.
    let rt = tok.refresh_token().expect("refresh token").clone();
    let refreshed = client.exchange_refresh_token(&rt).request_async(&http()).await.expect("refresh");
    assert!(refreshed.extra_fields().extra.get("patient").is_none());
    sb.set_faults(Faults { launch_context: ContextFault::OmitPatient, ..Faults::default() });
    let launch = sb.create_launch(launch_request("pat-1"));
    let ar = auth_request(&sb, &client, EHR_SCOPES, Some(&launch), None);
    let code = get_code(&ar).await;
    let tok = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(ar.verifier)
        .request_async(&http())
        .await
        .expect("token");
    assert!(tok.extra_fields().extra.get("patient").is_none());
    sb.set_faults(Faults::default());
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()
}

#[tokio::test]
async fn token_faults() {
    let sb = spawn().await;
    let client = oauth_client(&sb, "ereferral", Some(SECRET));
    sb.set_faults(Faults { token: TokenFault::ServerError, ..Faults::default() });
    let launch = sb.create_launch(launch_request("pat-1"));
    let ar = auth_request(&sb, &client, EHR_SCOPES, Some(&launch), None);
    let code = get_code(&ar).await;
    let verifier = ar.verifier.secret().clone();
    let (status, body) = post_token(
        &sb,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
        Some(("ereferral", SECRET)),
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(body["error"], "server_error");
    sb.set_faults(Faults { token: TokenFault::InvalidGrant, ..Faults::default() });
    let (status, body) = post_token(
        &sb,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
        Some(("ereferral", SECRET)),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    sb.set_faults(Faults::default());
    let (status, body) = post_token(
        &sb,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
        Some(("ereferral", SECRET)),
    )
    .await;
    assert_eq!(status, 200, "a fault does not consume the code: {body}");
}

#[tokio::test]
async fn discovery_documents() {
    let sb = spawn().await;
    let c: Value = http()
        .get(format!("{}/.well-known/smart-configuration", sb.fhir_base()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(c["issuer"], sb.fhir_base().as_str());
    assert_eq!(c["token_endpoint"], token_url(&sb));
    assert_eq!(c["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert!(c["capabilities"].as_array().unwrap().iter().any(|x| x == "launch-ehr"));
    let o: Value = http()
        .get(format!("{}/.well-known/openid-configuration", sb.fhir_base()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(o["issuer"], sb.fhir_base().as_str());
    assert_eq!(o["id_token_signing_alg_values_supported"], serde_json::json!(["RS256"]));
    let set = jwks(&sb).await;
    assert_eq!(set.keys.len(), 1);
    let resp = http().get(format!("{}/metadata", sb.fhir_base())).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "application/fhir+json");
    let cs: Value = resp.json().await.unwrap();
    let ext = &cs["rest"][0]["security"]["extension"][0];
    assert_eq!(ext["url"], "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris");
    assert_eq!(ext["extension"][1]["valueUri"], token_url(&sb));
}
