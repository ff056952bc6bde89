//! private_key_jwt (RS384, ES384) and SMART Backend Services (client_credentials).

mod common;

use common::*;
use jsonwebtoken::Algorithm;
use oauth2::basic::BasicErrorResponseType;
use oauth2::{AuthorizationCode, RequestTokenError, Scope, TokenResponse};

fn jti() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[tokio::test]
async fn client_credentials_with_rs384_and_es384_assertions() {
    let sb = spawn().await;
    for alg in [Algorithm::RS384, Algorithm::ES384] {
        let a = assertion(BACKEND_CLIENT, &token_url(&sb), alg, &jti(), 240);
        let (status, body) = post_token(
            &sb,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "system/Patient.rs system/Bundle.c"),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &a),
            ],
            None,
        )
        .await;
        assert_eq!(status, 200, "{alg:?}: {body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["scope"], "system/Patient.rs system/Bundle.c");
        assert!(body.get("refresh_token").is_none());
        let at = body["access_token"].as_str().unwrap();
        let resp = http().get(format!("{}/Patient/pat-3", sb.fhir_base())).bearer_auth(at).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
    }
}

#[tokio::test]
async fn client_credentials_via_oauth2_crate() {
    let sb = spawn().await;
    let client = oauth_client(&sb, BACKEND_CLIENT, None);
    let a = assertion(BACKEND_CLIENT, &token_url(&sb), Algorithm::ES384, &jti(), 120);
    let tok = client
        .exchange_client_credentials()
        .add_scope(Scope::new("system/*.rs".into()))
        .add_extra_param("client_assertion_type", JWT_BEARER)
        .add_extra_param("client_assertion", a)
        .request_async(&http())
        .await
        .expect("client_credentials");
    assert_eq!(tok.scopes().unwrap()[0].as_str(), "system/*.rs");
}

#[tokio::test]
async fn replayed_jti_and_bad_assertions_are_invalid_client() {
    let sb = spawn().await;
    let url = token_url(&sb);
    let a = assertion(BACKEND_CLIENT, &url, Algorithm::RS384, "same-jti", 240);
    let form = |a: &str| {
        vec![
            ("grant_type".to_string(), "client_credentials".to_string()),
            ("scope".to_string(), "system/Patient.rs".to_string()),
            ("client_assertion_type".to_string(), JWT_BEARER.to_string()),
            ("client_assertion".to_string(), a.to_string()),
        ]
    };
    let send = |f: Vec<(String, String)>| {
        let sb = &sb;
        async move {
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            post_token(sb, &f, None).await
        }
    };
    assert_eq!(send(form(&a)).await.0, 200);
    let (status, body) = send(form(&a)).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "replay");

    let wrong_aud = assertion(BACKEND_CLIENT, "http://other.example/token", Algorithm::RS384, &jti(), 240);
    assert_eq!(send(form(&wrong_aud)).await.1["error"], "invalid_client");
    let too_long = assertion(BACKEND_CLIENT, &url, Algorithm::RS384, &jti(), 3600);
    assert_eq!(send(form(&too_long)).await.1["error"], "invalid_client");
    let expired = assertion(BACKEND_CLIENT, &url, Algorithm::ES384, &jti(), -600);
    assert_eq!(send(form(&expired)).await.1["error"], "invalid_client");
    let unknown = assertion("ereferral", &url, Algorithm::RS384, &jti(), 240);
    assert_eq!(send(form(&unknown)).await.1["error"], "invalid_client", "not a private_key_jwt client");
    let mut tampered = assertion(BACKEND_CLIENT, &url, Algorithm::RS384, &jti(), 240);
    // Flip one signature character to a different one (the last may already be 'A').
    let last = tampered.pop().expect("non-empty JWT");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(send(form(&tampered)).await.1["error"], "invalid_client");
}

#[tokio::test]
async fn client_credentials_rules() {
    let sb = spawn().await;
    let (status, body) = post_token(
        &sb,
        &[("grant_type", "client_credentials"), ("scope", "system/Patient.rs")],
        Some(("ereferral", SECRET)),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unauthorized_client")));
    let a = assertion(BACKEND_CLIENT, &token_url(&sb), Algorithm::RS384, &jti(), 240);
    let (status, body) = post_token(
        &sb,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "patient/Patient.rs"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &a),
        ],
        None,
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")));
}

#[tokio::test]
async fn private_key_jwt_on_authorization_code_and_refresh() {
    let sb = spawn().await;
    let launch = sb.create_launch(launch_request("pat-1"));
    let client = oauth_client(&sb, BACKEND_CLIENT, None);
    let ar =
        auth_request(&sb, &client, "launch openid fhirUser offline_access patient/Patient.rs", Some(&launch), None);
    let code = get_code(&ar).await;
    let tok = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(ar.verifier)
        .add_extra_param("client_assertion_type", JWT_BEARER)
        .add_extra_param("client_assertion", assertion(BACKEND_CLIENT, &token_url(&sb), Algorithm::ES384, &jti(), 60))
        .request_async(&http())
        .await
        .expect("code exchange with private_key_jwt");
    assert_eq!(tok.extra_fields().extra["patient"], "pat-1");
    let rt = tok.refresh_token().unwrap();
    let r = client.exchange_refresh_token(rt).request_async(&http()).await;
    match r {
        Err(RequestTokenError::ServerResponse(e)) => {
            assert_eq!(*e.error(), BasicErrorResponseType::InvalidClient)
        }
        other => panic!("refresh without an assertion must fail: {other:?}"),
    }
    let tok2 = client
        .exchange_refresh_token(rt)
        .add_extra_param("client_assertion_type", JWT_BEARER)
        .add_extra_param("client_assertion", assertion(BACKEND_CLIENT, &token_url(&sb), Algorithm::RS384, &jti(), 60))
        .request_async(&http())
        .await
        .expect("refresh with private_key_jwt");
    assert!(tok2.refresh_token().is_some());
}
