//! Test harness: the real server and the sandbox EHR, in-process, on ephemeral ports, with a
//! fresh database each.
#![allow(dead_code)]

#[cfg(not(feature = "sandbox"))]
compile_error!("the integration tests run against the built-in sandbox EHR: build them with `--features sandbox` (./scripts/test.sh does)");

pub mod fhir_validation;

use reqwest::{header, redirect, StatusCode};
use sandbox::{ClientAuth, ClientRegistration, LaunchMode, LaunchRequest, SandboxConfig, SandboxHandle};
use server::{config::Config, startup};
use std::{collections::HashMap, path::PathBuf};
use tokio::net::TcpListener;
use url::Url;

pub struct TestEnv {
    pub app_url: Url,
    pub sandbox: SandboxHandle,
    pub state: server::state::AppState,
    /// A client that follows no redirects, like a careful browser under test ([`test_client`]).
    pub http: reqwest::Client,
    pub data_dir: PathBuf,
    /// The configuration the instance started with (environment, TOML), for starting another.
    pub config_env: HashMap<String, String>,
    pub config_toml: Option<String>,
    /// Whether dropping this removes the data (false for a second instance on the same store).
    pub owns_data: bool,
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if self.owns_data {
            let _ = std::fs::remove_dir_all(&self.data_dir);
            drop_test_database(&self.data_dir);
        }
    }
}

/// The admin URL of the PostgreSQL server the tests run on, when the test command's PostgreSQL
/// pass set it; `None`: the tests run on SQLite (a file in each test's data dir).
pub fn test_postgres() -> Option<String> {
    std::env::var("EREFERRAL_TEST_POSTGRES").ok().filter(|u| !u.is_empty())
}

fn test_database_name(data_dir: &std::path::Path) -> String {
    let base = data_dir.file_name().and_then(|n| n.to_str()).unwrap_or("erx-test");
    base.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect()
}

fn with_database(admin: &str, name: &str) -> String {
    let mut url = Url::parse(admin).expect("EREFERRAL_TEST_POSTGRES is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// The database a test's server keeps its data in, named after its data dir so a restarted
/// instance on the same dir finds the same data: on PostgreSQL a database of its own (created on
/// first use), on SQLite `None` (the server's default, a file in the data dir).
pub async fn test_database_url(data_dir: &std::path::Path) -> Option<String> {
    use sqlx::Connection;
    let admin = test_postgres()?;
    let name = test_database_name(data_dir);
    let mut c = sqlx::PgConnection::connect(&admin).await.expect("connecting to the test PostgreSQL server");
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut c)
        .await
        .unwrap();
    if exists.is_none() {
        sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&mut c).await.expect("creating a test database");
    }
    Some(with_database(&admin, &name))
}

/// Drops the test's PostgreSQL database (from `Drop`, so on a thread with a runtime of its own).
pub fn drop_test_database(data_dir: &std::path::Path) {
    let Some(admin) = test_postgres() else { return };
    let name = test_database_name(data_dir);
    let _ = std::thread::spawn(move || {
        use sqlx::Connection;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut c).await;
            }
        });
    })
    .join();
}

/// Adds the test database's URL to a test server's environment (nothing on SQLite), unless the
/// test chose one.
async fn add_test_database(env: &mut HashMap<String, String>, data_dir: &std::path::Path) {
    if env.contains_key("EREFERRAL_DATABASE_URL") {
        return;
    }
    if let Some(url) = test_database_url(data_dir).await {
        env.insert("EREFERRAL_DATABASE_URL".into(), url);
    }
}

pub fn leptos_options() -> leptos::config::LeptosOptions {
    leptos::config::LeptosOptions::builder().output_name("ereferral").site_root("target/site").build()
}

/// Starts the app with the embedded sandbox; `extra` adds environment overrides.
pub async fn start_with(extra: &[(&str, &str)]) -> TestEnv {
    let app_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_port = app_listener.local_addr().unwrap().port();
    let sandbox_port = sandbox_listener.local_addr().unwrap().port();
    let data_dir = std::env::temp_dir().join(format!("erx-test-{}", server::smart::random_token(9)));
    let mut env: HashMap<String, String> = HashMap::from([
        ("EREFERRAL_LISTEN".into(), format!("127.0.0.1:{app_port}")),
        ("EREFERRAL_SANDBOX_PUBLIC_URL".into(), format!("http://127.0.0.1:{sandbox_port}")),
        ("EREFERRAL_DATA_DIR".into(), data_dir.display().to_string()),
        ("EREFERRAL_OUTBOUND_TIMEOUT_SECS".into(), "3".into()),
    ]);
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    add_test_database(&mut env, &data_dir).await;
    let config = Config::from_sources(None, &|k| env.get(k).cloned()).expect("test config");
    let running =
        startup::start_on(config, leptos_options(), app_listener, Some(sandbox_listener)).await.expect("start");
    let app_url = running.public_url.clone();
    let sandbox = running.sandbox.clone().expect("sandbox enabled");
    let state = running.state.clone();
    tokio::spawn(running.serve_until(std::future::pending()));
    let http = test_client();
    TestEnv { app_url, sandbox, state, http, data_dir, config_env: env, config_toml: None, owns_data: true }
}

/// Another instance of the app on the same store, with the same configuration and public URL (as
/// behind a load balancer), for the same EHR: `extra` overrides. Its `app_url` is its own
/// address; requests there are what the load balancer would send it.
pub async fn try_start_another(env: &TestEnv, extra: &[(&str, &str)]) -> anyhow::Result<TestEnv> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut vars = env.config_env.clone();
    vars.insert("EREFERRAL_LISTEN".into(), format!("127.0.0.1:{port}"));
    vars.insert("EREFERRAL_PUBLIC_URL".into(), env.state.config.public_url.to_string());
    // An embedded sandbox of its own would only be a bystander: the registration names the first's.
    vars.insert("EREFERRAL_SANDBOX_LISTEN".into(), "127.0.0.1:0".into());
    if let Some(url) = test_database_url(&env.data_dir).await {
        vars.insert("EREFERRAL_DATABASE_URL".into(), url);
    }
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    let config = Config::from_sources(env.config_toml.as_deref(), &|k| vars.get(k).cloned()).expect("test config");
    let running = startup::start_on(config, leptos_options(), listener, None).await?;
    let state = running.state.clone();
    tokio::spawn(running.serve_until(std::future::pending()));
    let app_url = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let http = test_client();
    Ok(TestEnv {
        app_url,
        sandbox: env.sandbox.clone(),
        state,
        http,
        data_dir: env.data_dir.clone(),
        config_env: vars,
        config_toml: env.config_toml.clone(),
        owns_data: false,
    })
}

pub async fn start() -> TestEnv {
    start_with(&[]).await
}

/// Client id of the app at the separately started sandbox (see [`start_with_external_ehr`]).
pub const EXTERNAL_CLIENT_ID: &str = "ereferral-external";
/// The bearer a separately started sandbox accepts at `$process-message` from the app registered
/// there (the sandbox's own dev bearer may not secure any other registration).
pub const EXTERNAL_BEARER: &str = "external-ehr-bearer";

/// A file of the sandbox's fixed test client keys (`sandbox/tests/keys/`), as an absolute path.
pub fn test_key_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sandbox/tests/keys").join(file).canonicalize().expect("test key")
}

/// The public JWKS of the test client keys (`kid`s `test-client-rs384` and `test-client-es384`).
pub fn test_client_jwks() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(test_key_path("client-jwks.json")).unwrap()).unwrap()
}

/// Starts the sandbox on its own, as somebody else's EHR, with the app registered there as
/// [`EXTERNAL_CLIENT_ID`] authenticating with `sandbox_auth`; then the app, embedded sandbox
/// disabled, with that EHR configured through a TOML `[[ehr]]` whose `client_auth` is
/// `client_auth_toml` (an inline table). `extra_ehr_toml` adds lines to the `[[ehr]]` table
/// (`SANDBOX_PORT` in it is replaced by the sandbox's port).
pub async fn start_with_external_ehr(
    sandbox_auth: ClientAuth,
    client_auth_toml: &str,
    extra_ehr_toml: &str,
) -> TestEnv {
    let auth = format!(r#"{{ method = "static_bearer", token = "{EXTERNAL_BEARER}" }}"#);
    start_with_external_ehr_delivering(sandbox_auth, client_auth_toml, &auth, "", extra_ehr_toml, &[]).await
}

/// Like [`start_with_external_ehr`], with the `$process-message` auth (an inline table),
/// more keys for the `process_message` table (e.g. `, event_spelling = "legacy"`), and
/// environment overrides. The app's sandbox client may also ask for system scopes.
/// An external EHR that takes our messages with SMART Backend Services (`private_key_jwt`, RS384
/// with the committed test client key); `process_message_extra` is added to `process_message`.
pub async fn start_with_backend_services_ehr(process_message_extra: &str, extra_env: &[(&str, &str)]) -> TestEnv {
    start_with_external_ehr_delivering(
        ClientAuth::PrivateKeyJwt { jwks: test_client_jwks() },
        &format!(
            r#"{{ method = "private_key_jwt", key_file = "{}", alg = "RS384", kid = "test-client-rs384" }}"#,
            test_key_path("client-rs384.pem").display()
        ),
        r#"{ method = "backend_services", scopes = "system/Bundle.c system/MessageHeader.c" }"#,
        process_message_extra,
        "",
        extra_env,
    )
    .await
}

pub async fn start_with_external_ehr_delivering(
    sandbox_auth: ClientAuth,
    client_auth_toml: &str,
    process_message_auth_toml: &str,
    process_message_extra: &str,
    extra_ehr_toml: &str,
    extra_env: &[(&str, &str)],
) -> TestEnv {
    let app_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_port = app_listener.local_addr().unwrap().port();
    let app_url = Url::parse(&format!("http://localhost:{app_port}/")).unwrap();
    let mut sandbox_config = SandboxConfig::default_for_app(&app_url);
    sandbox_config.static_bearers.push(EXTERNAL_BEARER.into());
    sandbox_config.clients.push(ClientRegistration {
        client_id: EXTERNAL_CLIENT_ID.into(),
        redirect_uris: vec![app_url.join("callback").unwrap().to_string()],
        auth: sandbox_auth,
        scopes: sandbox::config::DEFAULT_SCOPES
            .iter()
            .chain(&["system/Bundle.c", "system/MessageHeader.c"])
            .map(|s| s.to_string())
            .collect(),
    });
    let sandbox = sandbox::start(sandbox_config, sandbox_listener).await.expect("start the sandbox");
    let fhir = sandbox.fhir_base();
    let origin = sandbox.base_url().origin().ascii_serialization();
    let sandbox_port = sandbox.base_url().port().expect("the sandbox has a port").to_string();
    let extra_ehr_toml = extra_ehr_toml.replace("SANDBOX_PORT", &sandbox_port);
    let toml = format!(
        r#"
[[ehr]]
id = "external"
name = "External EHR"
issuer = "{fhir}"
client_id = "{EXTERNAL_CLIENT_ID}"
allowed_origins = ["{origin}"]
client_auth = {client_auth_toml}
process_message = {{ endpoint = "{fhir}/$process-message", auth = {process_message_auth_toml}{process_message_extra} }}
{extra_ehr_toml}
"#,
    );
    let data_dir = std::env::temp_dir().join(format!("erx-test-{}", server::smart::random_token(9)));
    let mut env: HashMap<String, String> = HashMap::from([
        ("EREFERRAL_LISTEN".into(), format!("127.0.0.1:{app_port}")),
        ("EREFERRAL_DATA_DIR".into(), data_dir.display().to_string()),
        ("EREFERRAL_OUTBOUND_TIMEOUT_SECS".into(), "3".into()),
    ]);
    for (k, v) in extra_env {
        env.insert(k.to_string(), v.to_string());
    }
    add_test_database(&mut env, &data_dir).await;
    let config = Config::from_sources(Some(&toml), &|k| env.get(k).cloned()).expect("test config");
    let embedded_wanted = env.get("EREFERRAL_SANDBOX").is_some_and(|v| v == "on");
    assert_eq!(config.sandbox.enabled, embedded_wanted, "an [[ehr]] turns the embedded sandbox off unless asked");
    let running = startup::start_on(config, leptos_options(), app_listener, None).await.expect("start");
    assert_eq!(running.public_url, app_url);
    assert_eq!(running.sandbox.is_some(), embedded_wanted);
    let state = running.state.clone();
    tokio::spawn(running.serve_until(std::future::pending()));
    let http = test_client();
    TestEnv { app_url, sandbox, state, http, data_dir, config_env: env, config_toml: Some(toml), owns_data: true }
}

/// `(ServiceRequest, Task, Consent)` of the first referral stored, unsealed.
pub async fn first_referral(env: &TestEnv) -> (String, String, String) {
    let all = server::store::referrals::all_resources(&env.state.db).await.unwrap();
    all.into_iter().next().expect("a referral is stored")
}

/// How many launch sessions the app has stored.
pub async fn session_count(env: &TestEnv) -> i64 {
    server::sql_scalar!(&env.state.db, "SELECT COUNT(*) FROM launch_sessions").unwrap()
}

pub fn launch_request(patient: &str, user: &str) -> LaunchRequest {
    LaunchRequest {
        patient_id: patient.into(),
        user: user.into(),
        encounter_id: None,
        draft_service_request_id: None,
        mode: LaunchMode::Modal,
        web_messaging: true,
        need_patient_banner: true,
        faults: Default::default(),
        fhir_user_absolute: false,
        intent: None,
    }
}

/// A browser's cookie jar, kept by hand so tests see exactly what is set and sent.
#[derive(Default, Debug, Clone)]
pub struct Jar(pub HashMap<String, String>);

impl Jar {
    pub fn absorb(&mut self, response: &reqwest::Response) {
        for v in response.headers().get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            // A cookie set to expire now is removed, as a browser does.
            if v.contains("Max-Age=0") {
                self.0.remove(k.trim());
            } else {
                self.0.insert(k.trim().into(), val.trim().into());
            }
        }
    }
    pub fn header(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }
}

/// One step of a redirect chain.
pub struct Hop {
    pub url: Url,
    pub status: StatusCode,
    pub location: Option<Url>,
    pub set_cookies: Vec<String>,
    pub headers: header::HeaderMap,
}

/// Follows redirects by hand from `start`, recording every hop and keeping cookies for the app's
/// host; returns the hops and the final response.
pub async fn follow(env: &TestEnv, jar: &mut Jar, start: Url) -> (Vec<Hop>, reqwest::Response) {
    let mut url = start;
    let mut hops = Vec::new();
    for _ in 0..10 {
        let mut req = env.http.get(url.clone());
        if url.origin() == env.app_url.origin() && !jar.0.is_empty() {
            req = req.header(header::COOKIE, jar.header());
        }
        let response = req.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let set_cookies: Vec<String> =
            response.headers().get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect();
        if url.origin() == env.app_url.origin() {
            jar.absorb(&response);
        }
        if !status.is_redirection() {
            hops.push(Hop { url, status, location: None, set_cookies, headers });
            return (hops, response);
        }
        let location = url.join(response.headers()[header::LOCATION].to_str().unwrap()).unwrap();
        hops.push(Hop { url: url.clone(), status, location: Some(location.clone()), set_cookies, headers });
        url = location;
    }
    panic!("redirect loop");
}

/// Runs a whole EHR launch as a browser would; returns the final response, the session path
/// (`/l/{id}`) when the launch succeeded, and the jar.
pub async fn launch(env: &TestEnv, req: LaunchRequest) -> (reqwest::Response, Option<String>, Jar, Vec<Hop>) {
    let launch_id = env.sandbox.create_launch(req);
    let mut jar = Jar::default();
    let (hops, response) = follow(env, &mut jar, env.sandbox.launch_url(&launch_id)).await;
    let path = response.url().path().to_string();
    let session = path.starts_with("/l/").then_some(path);
    (response, session, jar, hops)
}

/// A completed launch as its browser holds it: the session path and its cookies.
pub struct Launched {
    /// `/l/{id}`.
    pub path: String,
    pub jar: Jar,
}

/// Launches and loads the landing page fully (as a browser does), returning the launch.
pub async fn launched(env: &TestEnv, req: LaunchRequest) -> (Launched, String) {
    let (response, session, jar, _) = launch(env, req).await;
    let body = response.text().await.unwrap();
    (Launched { path: session.expect("the launch succeeded"), jar }, body)
}

impl Launched {
    pub fn id(&self) -> &str {
        self.path.trim_start_matches("/l/")
    }
    pub fn url(&self, env: &TestEnv, rest: &str) -> Url {
        env.app_url.join(&format!("{}{rest}", self.path)).unwrap()
    }
    /// GETs `/l/{id}{rest}` as the launching browser; returns status and body.
    pub async fn get(&self, env: &TestEnv, rest: &str) -> (StatusCode, String) {
        let r = env.http.get(self.url(env, rest)).header(header::COOKIE, self.jar.header()).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    }
    /// POSTs a form to `/l/{id}{rest}` from the app's own page (Origin set); no redirect followed.
    pub async fn post(&self, env: &TestEnv, rest: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
        env.http
            .post(self.url(env, rest))
            .header(header::COOKIE, self.jar.header())
            .header(header::ORIGIN, env.state.config.public_url.origin().ascii_serialization())
            .form(pairs)
            .send()
            .await
            .unwrap()
    }
    /// Posts, expects `303 See Other`, and returns where it points (path and fragment).
    pub async fn post_see_other(&self, env: &TestEnv, rest: &str, pairs: &[(&str, &str)]) -> String {
        let r = self.post(env, rest, pairs).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "POST {rest}: {}", r.text().await.unwrap_or_default());
        r.headers()[header::LOCATION].to_str().unwrap().to_string()
    }
    pub async fn upload(&self, env: &TestEnv, filename: &str, bytes: Vec<u8>) -> reqwest::Response {
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(bytes).file_name(filename.to_string()));
        env.http
            .post(self.url(env, "/do/attach"))
            .header(header::COOKIE, self.jar.header())
            .header(header::ORIGIN, env.state.config.public_url.origin().ascii_serialization())
            .multipart(form)
            .send()
            .await
            .unwrap()
    }
}

/// The sandbox's diabetes prevention service and code, as the service step's radio value.
pub const DIABETES_PICK: &str = "svc-diabetes-prevention::http://snomed.info/sct|736379004";

/// Fills every step validly with plain form posts (no attachments); ends on the review step.
pub async fn fill_valid_referral(env: &TestEnv, l: &Launched) {
    l.post_see_other(env, "/do/step/service", &[("pick", DIABETES_PICK), ("nav", "next")]).await;
    l.post_see_other(
        env,
        "/do/step/details",
        &[("reason", "Prediabetes, HbA1c 6.2%"), ("priority", "routine"), ("notes", ""), ("nav", "next")],
    )
    .await;
    l.post_see_other(env, "/do/step/attachments", &[("nav", "next")]).await;
    l.post_see_other(
        env,
        "/do/step/consent",
        &[("consent_decision", "permit"), ("consent_by", "patient"), ("consent_date", "2026-11-01"), ("nav", "next")],
    )
    .await;
    let to = l
        .post_see_other(
            env,
            "/do/step/routing",
            &[("routing", ""), ("patient_location", "home"), ("authorizer", "self"), ("nav", "next")],
        )
        .await;
    assert!(to.ends_with("/review"), "{to}");
}

/// Polls `check` (every 50 ms) until it gives `Some`, failing the test with `what` after
/// `limit_secs`. For waiting on background work; never a timing assertion.
pub async fn eventually<T, F, Fut>(what: &str, limit_secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(limit_secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "gave up waiting for: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

pub async fn count(env: &TestEnv, sql: &str) -> i64 {
    server::sql_scalar!(&env.state.db, sql).unwrap()
}

/// A bearer from our token endpoint for the sandbox EHR as API client (its dev key signs the
/// assertion), with `scope`.
pub async fn api_token(env: &TestEnv, scope: &str) -> String {
    let pem =
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandbox/keys/api-client-es384.pem"))
            .unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES384);
    header.kid = Some("sandbox-ehr-api-es384".into());
    let now = server::smart::now_unix();
    let aud = format!("{}auth/token", env.app_url);
    let claims = serde_json::json!({"iss": "sandbox-ehr", "sub": "sandbox-ehr", "aud": aud, "exp": now + 120, "jti": uuid::Uuid::new_v4().to_string()});
    let assertion =
        jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_ec_pem(&pem).unwrap()).unwrap();
    let r = env
        .http
        .post(&aud)
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", scope),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", &assertion),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<serde_json::Value>().await.unwrap()["access_token"].as_str().unwrap().to_string()
}

/// A `revoke-service-request`-shaped message (any event and system) focused on `focus`.
pub fn revoke_message(event: &str, system: &str, focus: &str) -> serde_json::Value {
    serde_json::json!({
        "resourceType": "Bundle", "id": uuid::Uuid::new_v4().to_string(), "type": "message",
        "timestamp": "2026-11-22T12:00:00Z",
        "entry": [{"fullUrl": "urn:uuid:4b0e2c1a-0000-4000-8000-000000000001", "resource": {
            "resourceType": "MessageHeader", "id": "4b0e2c1a-0000-4000-8000-000000000001",
            "eventCoding": {"system": system, "code": event},
            "source": {"endpoint": "http://ehr.example/fhir/$process-message"},
            "focus": [{"reference": focus}]
        }}]
    })
}

/// POSTs `body` to our `$process-message`.
pub async fn post_message(env: &TestEnv, token: Option<&str>, body: &[u8]) -> (StatusCode, serde_json::Value) {
    let mut r = env
        .http
        .post(format!("{}fhir/$process-message", env.app_url))
        .header("content-type", "application/fhir+json")
        .body(body.to_vec());
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(serde_json::Value::Null))
}

/// A client that follows no redirects, like a careful browser under test. It reuses an idle
/// connection for 5 s at most: the server closes one after 10 s without a request, and a client
/// reusing it just then sees it close under its request (browsers retry then; reqwest does not).
pub fn test_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .pool_idle_timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap()
}

/// The `[[ehr]]` registering a separately started sandbox as somebody else's EHR, where the app is
/// [`EXTERNAL_CLIENT_ID`] with `client_secret_basic` (`secret`) and delivers with [`EXTERNAL_BEARER`].
pub fn secret_basic_ehr_toml(sandbox: &SandboxHandle, secret: &str) -> String {
    let fhir = sandbox.fhir_base();
    let origin = sandbox.base_url().origin().ascii_serialization();
    format!(
        r#"
[[ehr]]
id = "sandbox"
name = "Sandbox EHR"
issuer = "{fhir}"
client_id = "{EXTERNAL_CLIENT_ID}"
allowed_origins = ["{origin}"]
client_auth = {{ method = "client_secret_basic", secret = "{secret}" }}
process_message = {{ endpoint = "{fhir}/$process-message", auth = {{ method = "static_bearer", token = "{EXTERNAL_BEARER}" }} }}
"#
    )
}
