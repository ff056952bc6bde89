//! The FHIR API for registered sources: SMART Backend Services tokens from our token endpoint,
//! reads of the referrals a source launched, and refusals of everybody else.

mod common;

use common::fhir_validation::assert_valid_fhir;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const ALL_SCOPES: &str = "system/ServiceRequest.rs system/Task.rs system/DocumentReference.rs system/Binary.rs";

/// A client assertion: `(client_id, kid, PEM file, alg)`, for `aud`, expiring in `exp_in` seconds.
fn assertion(
    client: &str,
    kid: &str,
    pem: &std::path::Path,
    alg: Algorithm,
    aud: &str,
    exp_in: i64,
    jti: &str,
) -> String {
    let pem = std::fs::read(pem).unwrap();
    let key = match alg {
        Algorithm::ES384 => EncodingKey::from_ec_pem(&pem).unwrap(),
        Algorithm::RS384 => EncodingKey::from_rsa_pem(&pem).unwrap(),
        Algorithm::HS256 => EncodingKey::from_secret(b"a shared secret is not allowed"),
        other => panic!("{other:?}"),
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    let now = server::smart::now_unix();
    let claims = json!({"iss": client, "sub": client, "aud": aud, "exp": now + exp_in, "iat": now, "jti": jti});
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

fn sandbox_key() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sandbox/keys/api-client-es384.pem")
}

fn jti() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn token_url(env: &TestEnv) -> String {
    format!("{}auth/token", env.app_url)
}

/// The sandbox EHR's assertion (its registered key), valid for our token endpoint.
fn sandbox_assertion(env: &TestEnv) -> String {
    assertion("sandbox-ehr", "sandbox-ehr-api-es384", &sandbox_key(), Algorithm::ES384, &token_url(env), 120, &jti())
}

async fn token_request(env: &TestEnv, assertion: &str, scope: &str) -> (StatusCode, Value) {
    let r = env
        .http
        .post(token_url(env))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", scope),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

async fn token(env: &TestEnv, assertion: &str, scope: &str) -> String {
    let (status, body) = token_request(env, assertion, scope).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

async fn read(env: &TestEnv, token: Option<&str>, path: &str) -> (StatusCode, Value) {
    let mut r = env.http.get(format!("{}fhir/{path}", env.app_url)).header("accept", "application/fhir+json");
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Submits a referral with an attachment; returns `(ServiceRequest id, Task id, document id)`.
async fn submitted(env: &TestEnv) -> (String, String, String) {
    let (l, _) = launched(env, launch_request("pat-1", "Practitioner/prac-1")).await;
    fill_valid_referral(env, &l).await;
    l.upload(env, "letter.pdf", b"%PDF-1.7\nthe letter".to_vec()).await;
    l.post_see_other(env, "/do/submit", &[]).await;
    let ids: (String, String) = server::sql_one!(&env.state.db, "SELECT id, task_id FROM referrals").unwrap();
    let doc: String = server::sql_scalar!(&env.state.db, "SELECT id FROM referral_documents").unwrap();
    (ids.0, ids.1, doc)
}

#[tokio::test]
async fn a_registered_source_reads_its_referral_task_and_attachments() {
    let env = start().await;
    let (sr_id, task_id, doc_id) = submitted(&env).await;

    let (_, config) = {
        let r = env.http.get(format!("{}.well-known/smart-configuration", env.app_url)).send().await.unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(config["token_endpoint"], token_url(&env));
    assert_eq!(config["grant_types_supported"], json!(["client_credentials"]));

    let (status, body) =
        token_request(&env, &sandbox_assertion(&env), &format!("{ALL_SCOPES} system/Patient.rs")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["scope"], ALL_SCOPES, "only what the client may have");
    let t = body["access_token"].as_str().unwrap();

    let (status, sr) = read(&env, Some(t), &format!("ServiceRequest/{sr_id}")).await;
    assert_eq!(status, StatusCode::OK);
    let stored = first_referral(&env).await.0;
    assert_eq!(sr, serde_json::from_str::<Value>(&stored).unwrap());
    let (status, task) = read(&env, Some(t), &format!("Task/{task_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(task["basedOn"][0]["reference"], format!("ServiceRequest/{sr_id}"));

    let absolute = format!("{}fhir/ServiceRequest/{sr_id}", env.app_url);
    for based_on in [format!("ServiceRequest/{sr_id}"), sr_id.clone(), absolute] {
        let q: String = url::form_urlencoded::byte_serialize(based_on.as_bytes()).collect();
        let (status, bundle) = read(&env, Some(t), &format!("Task?based-on={q}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!((bundle["type"].as_str(), bundle["total"].as_u64()), (Some("searchset"), Some(1)), "{based_on}");
        assert_eq!(bundle["entry"][0]["resource"]["id"], task_id.as_str());
    }
    let (_, by_id) = read(&env, Some(t), &format!("Task?_id={task_id}")).await;
    assert_eq!(by_id["total"], 1);
    let (_, none) = read(&env, Some(t), "Task?based-on=ServiceRequest/nope").await;
    assert_eq!(none["total"], 0);
    assert!(none.get("entry").is_none());

    let (status, doc) = read(&env, Some(t), &format!("DocumentReference/{doc_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["content"][0]["attachment"]["url"], format!("{}fhir/Binary/{doc_id}", env.app_url));
    let raw = env.http.get(format!("{}fhir/Binary/{doc_id}", env.app_url)).bearer_auth(t).send().await.unwrap();
    assert_eq!(raw.headers()["content-type"], "application/pdf");
    assert_eq!(raw.bytes().await.unwrap().as_ref(), b"%PDF-1.7\nthe letter");
    let (_, binary) = read(&env, Some(t), &format!("Binary/{doc_id}")).await;
    assert_eq!(binary["resourceType"], "Binary");
    assert_eq!(binary["contentType"], "application/pdf");

    let (_, metadata) = read(&env, None, "metadata").await;
    assert_eq!(metadata["fhirVersion"], "4.0.1");
    assert_valid_fhir(&[sr, task, by_id, none, doc, binary, metadata]);
}

#[tokio::test]
async fn bad_tokens_and_bad_assertions_are_refused() {
    let env = start().await;
    let (sr_id, _, _) = submitted(&env).await;
    let path = format!("ServiceRequest/{sr_id}");

    let r = env.http.get(format!("{}fhir/{path}", env.app_url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["resourceType"], "OperationOutcome");
    assert_eq!(read(&env, Some("not-a-token"), &path).await.0, StatusCode::UNAUTHORIZED);

    let aud = token_url(&env);
    let key = sandbox_key();
    let kid = "sandbox-ehr-api-es384";
    let cases: Vec<(&str, String)> = vec![
        ("expired", assertion("sandbox-ehr", kid, &key, Algorithm::ES384, &aud, -300, &jti())),
        ("too long-lived", assertion("sandbox-ehr", kid, &key, Algorithm::ES384, &aud, 3600, &jti())),
        (
            "wrong audience",
            assertion("sandbox-ehr", kid, &key, Algorithm::ES384, "https://other.example/token", 120, &jti()),
        ),
        ("unknown client", assertion("somebody", kid, &key, Algorithm::ES384, &aud, 120, &jti())),
        ("unknown kid", assertion("sandbox-ehr", "other-kid", &key, Algorithm::ES384, &aud, 120, &jti())),
        (
            "a key that is not registered",
            assertion("sandbox-ehr", kid, &test_key_path("client-es384.pem"), Algorithm::ES384, &aud, 120, &jti()),
        ),
        ("HS256", assertion("sandbox-ehr", kid, &key, Algorithm::HS256, &aud, 120, &jti())),
        ("not a JWT", "garbage".to_string()),
    ];
    for (what, a) in cases {
        let (status, body) = token_request(&env, &a, ALL_SCOPES).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "{what}");
    }
    let once = sandbox_assertion(&env);
    assert_eq!(token_request(&env, &once, ALL_SCOPES).await.0, StatusCode::OK);
    let (status, body) = token_request(&env, &once, ALL_SCOPES).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "replayed jti");

    let (status, body) = token_request(&env, &sandbox_assertion(&env), "system/Patient.rs").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_scope")));
    let r = env
        .http
        .post(token_url(&env))
        .form(&[("grant_type", "authorization_code"), ("code", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "unsupported_grant_type");

    // A token for Tasks only cannot read the ServiceRequest.
    let tasks_only = token(&env, &sandbox_assertion(&env), "system/Task.rs").await;
    assert_eq!(read(&env, Some(&tasks_only), &path).await.0, StatusCode::FORBIDDEN);
    assert_eq!(read(&env, Some(&tasks_only), "Task?subject=Patient/pat-1").await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn another_registered_source_cannot_see_the_referral() {
    // The external EHR launches and refers; the built-in sandbox is registered too, as a
    // second source with its own API client.
    let env = start_with_external_ehr_delivering(
        sandbox::ClientAuth::ClientSecretBasic { secret: "s3cret".into() },
        r#"{ method = "client_secret_basic", secret = "s3cret" }"#,
        &format!(r#"{{ method = "static_bearer", token = "{}" }}"#, EXTERNAL_BEARER),
        "",
        &format!(
            r#"api_client = {{ client_id = "external-api", jwks_file = "{}" }}"#,
            test_key_path("client-jwks.json").display()
        ),
        &[("EREFERRAL_SANDBOX", "on"), ("EREFERRAL_SANDBOX_LISTEN", "127.0.0.1:0")],
    )
    .await;
    let (sr_id, task_id, doc_id) = submitted(&env).await;
    let aud = token_url(&env);
    let theirs = assertion(
        "external-api",
        "test-client-es384",
        &test_key_path("client-es384.pem"),
        Algorithm::ES384,
        &aud,
        120,
        &jti(),
    );
    let owner = token(&env, &theirs, ALL_SCOPES).await;
    let other = token(&env, &sandbox_assertion(&env), ALL_SCOPES).await;
    for path in [format!("ServiceRequest/{sr_id}"), format!("Task/{task_id}"), format!("DocumentReference/{doc_id}")] {
        assert_eq!(read(&env, Some(&owner), &path).await.0, StatusCode::OK, "{path}");
        let (status, body) = read(&env, Some(&other), &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["issue"][0]["code"], "not-found", "the same answer as for a missing one");
    }
    let (_, none) = read(&env, Some(&other), &format!("Task?based-on=ServiceRequest/{sr_id}")).await;
    assert_eq!(none["total"], 0);
    let r = env.http.get(format!("{}fhir/Binary/{doc_id}", env.app_url)).bearer_auth(&other).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
