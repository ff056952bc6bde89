//! Test harness: the real server and the sandbox EHR, in-process, on ephemeral ports, with a
//! fresh database each.
#![allow(dead_code)]

use reqwest::{header, redirect, StatusCode};
use sandbox::{LaunchMode, LaunchRequest, SandboxHandle};
use server::{config::Config, startup};
use std::{collections::HashMap, path::PathBuf};
use tokio::net::TcpListener;
use url::Url;

pub struct TestEnv {
    pub app_url: Url,
    pub sandbox: SandboxHandle,
    pub state: server::state::AppState,
    /// A client that follows no redirects, like a careful browser under test.
    pub http: reqwest::Client,
    pub data_dir: PathBuf,
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
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
    let config = Config::from_sources(None, &|k| env.get(k).cloned()).expect("test config");
    let running =
        startup::start_on(config, leptos_options(), app_listener, Some(sandbox_listener)).await.expect("start");
    let app_url = running.public_url.clone();
    let sandbox = running.sandbox.clone().expect("sandbox enabled");
    let state = running.state.clone();
    tokio::spawn(running.serve_until(std::future::pending()));
    let http = reqwest::Client::builder().redirect(redirect::Policy::none()).build().unwrap();
    TestEnv { app_url, sandbox, state, http, data_dir }
}

pub async fn start() -> TestEnv {
    start_with(&[]).await
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
            self.0.insert(k.trim().into(), val.trim().into());
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
        let set_cookies: Vec<String> =
            response.headers().get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect();
        if url.origin() == env.app_url.origin() {
            jar.absorb(&response);
        }
        if !status.is_redirection() {
            hops.push(Hop { url, status, location: None, set_cookies });
            return (hops, response);
        }
        let location = url.join(response.headers()[header::LOCATION].to_str().unwrap()).unwrap();
        hops.push(Hop { url: url.clone(), status, location: Some(location.clone()), set_cookies });
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
