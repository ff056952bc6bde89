//! Shared helpers for the sandbox's integration tests: an in-process sandbox, an
//! independent OAuth client (the `oauth2` crate over reqwest, redirects disabled) and
//! client-assertion signing with the fixed test keys in `tests/keys/`.
#![allow(dead_code)]

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthUrl, Client, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, ExtraTokenFields,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use sandbox::{ClientAuth, ClientRegistration, Faults, LaunchMode, LaunchRequest, SandboxConfig, SandboxHandle};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use url::Url;

pub const APP: &str = "http://localhost:3000";
pub const REDIRECT: &str = "http://localhost:3000/callback";
pub const SECRET: &str = "sandbox-secret-change-me";
pub const PUBLIC_CLIENT: &str = "public-app";
pub const BACKEND_CLIENT: &str = "backend";
pub const EHR_SCOPES: &str = "launch openid fhirUser offline_access patient/Patient.rs user/Practitioner.rs user/PractitionerRole.rs patient/ServiceRequest.rs";

/// SMART launch context in the token response, all kept as JSON.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SmartFields {
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}
impl ExtraTokenFields for SmartFields {}

pub type SmartTokenResponse = StandardTokenResponse<SmartFields, BasicTokenType>;
pub type SmartClient = Client<
    BasicErrorResponse,
    SmartTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

pub fn client_jwks() -> Value {
    serde_json::from_str(include_str!("../keys/client-jwks.json")).expect("test JWKS")
}

/// The default config plus a public client and a private_key_jwt client.
pub fn config() -> SandboxConfig {
    let mut cfg = SandboxConfig::default_for_app(&Url::parse(APP).expect("url"));
    cfg.clients.push(ClientRegistration {
        client_id: PUBLIC_CLIENT.into(),
        redirect_uris: vec![REDIRECT.into()],
        auth: ClientAuth::Public,
        scopes: vec![
            "launch".into(),
            "launch/patient".into(),
            "openid".into(),
            "fhirUser".into(),
            "patient/*.rs".into(),
        ],
    });
    cfg.clients.push(ClientRegistration {
        client_id: BACKEND_CLIENT.into(),
        redirect_uris: vec![REDIRECT.into()],
        auth: ClientAuth::PrivateKeyJwt { jwks: client_jwks() },
        scopes: vec![
            "system/*.rs".into(),
            "system/Bundle.c".into(),
            "launch".into(),
            "openid".into(),
            "fhirUser".into(),
            "offline_access".into(),
            "patient/Patient.rs".into(),
        ],
    });
    cfg
}

pub async fn spawn() -> SandboxHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    sandbox::start(config(), listener).await.expect("start")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("reqwest client")
}

pub fn token_url(sb: &SandboxHandle) -> String {
    sb.base_url().join("auth/token").expect("url").to_string()
}

pub fn oauth_client(sb: &SandboxHandle, client_id: &str, secret: Option<&str>) -> SmartClient {
    let mut c = Client::new(ClientId::new(client_id.into()))
        .set_auth_uri(AuthUrl::new(sb.base_url().join("auth/authorize").expect("url").to_string()).expect("auth url"))
        .set_token_uri(TokenUrl::new(token_url(sb)).expect("token url"))
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).expect("redirect"));
    if let Some(s) = secret {
        c = c.set_client_secret(ClientSecret::new(s.into()));
    } else {
        c = c.set_auth_type(oauth2::AuthType::RequestBody);
    }
    c
}

pub fn launch_request(patient: &str) -> LaunchRequest {
    LaunchRequest {
        patient_id: patient.into(),
        user: "Practitioner/prac-1".into(),
        encounter_id: Some("enc-1".into()),
        draft_service_request_id: None,
        mode: LaunchMode::Modal,
        web_messaging: true,
        need_patient_banner: false,
        faults: Faults::default(),
        fhir_user_absolute: false,
        intent: None,
    }
}

/// An authorization request built by the oauth2 crate.
pub struct AuthRequest {
    pub url: Url,
    pub state: CsrfToken,
    pub verifier: PkceCodeVerifier,
}

pub fn auth_request(
    sb: &SandboxHandle,
    client: &SmartClient,
    scopes: &str,
    launch: Option<&str>,
    nonce: Option<&str>,
) -> AuthRequest {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(scopes.split_whitespace().map(|s| Scope::new(s.into())))
        .add_extra_param("aud", sb.fhir_base().to_string())
        .set_pkce_challenge(challenge);
    if let Some(l) = launch {
        req = req.add_extra_param("launch", l);
    }
    if let Some(n) = nonce {
        req = req.add_extra_param("nonce", n);
    }
    let (url, state) = req.url();
    AuthRequest { url, state, verifier }
}

/// GET the authorize URL without following redirects: (status, query of Location).
pub async fn authorize(url: &Url) -> (u16, Option<HashMap<String, String>>) {
    let resp = http().get(url.clone()).send().await.expect("authorize");
    let status = resp.status().as_u16();
    let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(|l| {
        let u = Url::parse(l).expect("location url");
        assert!(l.starts_with(REDIRECT), "redirected to {l}");
        u.query_pairs().into_owned().collect::<HashMap<_, _>>()
    });
    (status, location)
}

/// Authorize and return the code (asserting the state round-trips).
pub async fn get_code(req: &AuthRequest) -> String {
    let (status, q) = authorize(&req.url).await;
    assert_eq!(status, 302);
    let q = q.expect("location");
    assert_eq!(q.get("state"), Some(req.state.secret()), "state");
    q.get("code").cloned().unwrap_or_else(|| panic!("no code: {q:?}"))
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs() as i64
}

/// A client assertion for `client_id` signed with the RS384 or ES384 test key.
pub fn assertion(client_id: &str, aud: &str, alg: Algorithm, jti: &str, exp_in: i64) -> String {
    let (pem, kid): (&[u8], &str) = match alg {
        Algorithm::RS384 => (include_bytes!("../keys/client-rs384.pem"), "test-client-rs384"),
        Algorithm::ES384 => (include_bytes!("../keys/client-es384.pem"), "test-client-es384"),
        other => panic!("unsupported alg {other:?}"),
    };
    let key = match alg {
        Algorithm::ES384 => EncodingKey::from_ec_pem(pem),
        _ => EncodingKey::from_rsa_pem(pem),
    }
    .expect("test key");
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    header.typ = Some("JWT".into());
    let claims = json!({
        "iss": client_id, "sub": client_id, "aud": aud,
        "exp": now() + exp_in, "iat": now(), "jti": jti
    });
    jsonwebtoken::encode(&header, &claims, &key).expect("sign assertion")
}

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// POST a raw form to the token endpoint: (status, JSON body).
pub async fn post_token(sb: &SandboxHandle, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> (u16, Value) {
    let mut req = http().post(token_url(sb)).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let resp = req.send().await.expect("token request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A backend-services access token (client_credentials + private_key_jwt).
pub async fn backend_token(sb: &SandboxHandle, scope: &str) -> String {
    let a = assertion(BACKEND_CLIENT, &token_url(sb), Algorithm::RS384, &uuid::Uuid::new_v4().to_string(), 240);
    let (status, body) = post_token(
        sb,
        &[
            ("grant_type", "client_credentials"),
            ("scope", scope),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &a),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("access_token").to_string()
}
