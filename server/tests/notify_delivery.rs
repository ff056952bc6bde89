//! Delivering `notify-add-service-request` to the EHR: exactly once in the happy path, after
//! the EHR recovers from errors, and after our process dies mid-delivery; rejections reach the
//! clinician; SMART Backend Services auth; every message passes an independent FHIR validator.

mod common;

use common::*;
use reqwest::StatusCode;
use sandbox::{faults::ProcessMessageFault, ClientAuth, Faults, ReceivedMessage};
use serde_json::Value;
use server::{config::Config, startup};
use std::collections::HashMap;
use tokio::net::TcpListener;

const NOTIFY: &str = "notify-add-service-request";
const EXTERNAL_SECRET: &str = "external-secret";

fn fault(process_message: ProcessMessageFault) -> Faults {
    Faults { process_message, ..Faults::default() }
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: String,
    message_header_id: String,
    status: String,
    attempts: i64,
    last_error: Option<String>,
    rejection: Option<String>,
    body: String,
}

async fn outbox_row(db: &server::store::Db) -> Row {
    let mut row: Row = server::sql_one!(
        db,
        "SELECT id, message_header_id, status, attempts, last_error, rejection, body FROM outbox WHERE event = $1",
        NOTIFY
    )
    .unwrap();
    // Stored sealed under the referral's data key.
    assert!(server::store::data_keys::is_sealed(&row.body), "the stored message is sealed");
    row.body = server::store::outbox::body_of(db, &row.id).await.unwrap().unwrap();
    row
}

async fn status_is(db: &server::store::Db, status: &str) -> Option<Row> {
    let row = outbox_row(db).await;
    (row.status == status).then_some(row)
}

fn notifications(env: &TestEnv) -> Vec<ReceivedMessage> {
    env.sandbox.received_messages().into_iter().filter(|m| m.event.starts_with("notify-add-service")).collect()
}

/// Launches for `patient`, fills every step and submits; returns the launch and the done page.
async fn submit_for(env: &TestEnv, patient: &str) -> (Launched, String) {
    let (l, _) = launched(env, launch_request(patient, "Practitioner/prac-1")).await;
    fill_valid_referral(env, &l).await;
    let to = l.post_see_other(env, "/do/submit", &[]).await;
    assert!(to.ends_with("/done"), "{to}");
    let (status, done) = l.get(env, "/done").await;
    assert_eq!(status, StatusCode::OK);
    (l, done)
}

#[tokio::test]
async fn a_submission_is_delivered_once_as_a_valid_message_for_the_right_patient() {
    let env = start().await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    fill_valid_referral(&env, &l).await;
    let r = l.upload(&env, "letter.pdf", b"%PDF-1.7\nreferral letter".to_vec()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    l.post_see_other(&env, "/do/submit", &[]).await;
    let (_, done) = l.get(&env, "/done").await;
    assert!(done.contains("data-state=\"delivered\""), "the page waits for the first attempt: {done}");
    assert!(done.contains("Delivered to Sandbox EHR"));
    assert!(!done.contains("data-manual"), "delivered: the EHR is asked to close at once");

    // A second submit (double click, retried request) sends nothing new.
    l.post_see_other(&env, "/do/submit", &[]).await;
    let row = eventually("delivery", 20, || status_is(&env.state.db, "delivered")).await;
    let got = notifications(&env);
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    assert_eq!(m.times_received, 1);
    assert_eq!(m.bundle_id, row.id, "the Bundle id is the outbox id");
    assert_eq!(m.message_header_id, row.message_header_id);
    assert_eq!(m.event, NOTIFY);
    let body: Value = serde_json::from_str(&row.body).unwrap();
    assert_eq!(m.raw, body, "what was sent is what was recorded");

    // The message is about the launched patient, and every copy says so.
    let (patient_id, sr_id): (String, String) =
        server::sql_one!(&env.state.db, "SELECT patient_id, id FROM referrals").unwrap();
    assert_eq!(patient_id, "pat-1");
    let patient = body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"]["resourceType"] == "Patient")
        .expect("a Patient entry");
    assert_eq!(patient["resource"]["id"], "pat-1");
    assert_eq!(m.patient.as_deref(), Some("Amelia Jeanne Tremblay"), "the sandbox's pat-1");
    let header = &body["entry"][0]["resource"];
    assert_eq!(header["focus"][0]["reference"], format!("ServiceRequest/{sr_id}"));
    assert_eq!(header["eventCoding"]["system"], server::config::DEFAULT_EVENT_SYSTEM);
    assert_eq!(header["destination"][0]["endpoint"], format!("{}/$process-message", env.sandbox.fhir_base()));
    assert_eq!(header["source"]["endpoint"], format!("{}fhir/$process-message", env.app_url));
    let types: Vec<&str> =
        body["entry"].as_array().unwrap().iter().map(|e| e["resource"]["resourceType"].as_str().unwrap()).collect();
    for t in ["ServiceRequest", "Task", "Patient", "Practitioner", "HealthcareService", "Consent", "DocumentReference"]
    {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
    fhir_validation::assert_valid_fhir(&[body]);

    // The confirmation page now says delivered, without waiting.
    let (_, done) = l.get(&env, "/done").await;
    assert!(done.contains("data-state=\"delivered\""));
    let status: Value = env
        .http
        .get(l.url(&env, "/do/delivery"))
        .header("cookie", l.jar.header())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["state"], "delivered");
}

#[tokio::test]
async fn an_ehr_answering_500_gets_the_same_message_until_it_recovers() {
    let env = start_with(&[("EREFERRAL_OUTBOX_RETRY_BASE_SECS", "1"), ("EREFERRAL_OUTBOX_RETRY_MAX_SECS", "1")]).await;
    env.sandbox.set_faults(fault(ProcessMessageFault::ServerError));
    let (l, done) = submit_for(&env, "pat-2").await;
    assert!(done.contains("data-state=\"retrying\""), "{done}");
    assert!(done.contains("Waiting to deliver to Sandbox EHR (retrying)"));
    assert!(done.contains("data-manual=\"true\""), "the notice stays until the clinician closes");
    let failing = eventually("three failed attempts", 30, || async {
        let row = outbox_row(&env.state.db).await;
        (row.attempts >= 3).then_some(row)
    })
    .await;
    assert_eq!(failing.status, "pending");
    assert_eq!(failing.last_error.as_deref(), Some("HTTP 500"));
    assert!(notifications(&env).is_empty());

    env.sandbox.set_faults(Faults::default());
    let row = eventually("delivery after recovery", 30, || status_is(&env.state.db, "delivered")).await;
    let got = notifications(&env);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].bundle_id.as_str(), got[0].times_received), (row.id.as_str(), 1));
    let body: Value = serde_json::from_str(&row.body).unwrap();
    assert_eq!(got[0].raw, body, "the same bundle, same ids, every attempt");
    fhir_validation::assert_valid_fhir(&[body]);
    let (_, done) = l.get(&env, "/done").await;
    assert!(done.contains("data-state=\"delivered\""));
}

#[tokio::test]
async fn a_rejection_is_shown_to_the_clinician_who_sent_it_and_nobody_else() {
    let env = start().await;
    env.sandbox.set_faults(fault(ProcessMessageFault::Reject));
    let (l, done) = submit_for(&env, "pat-1").await;
    let row = eventually("rejection", 20, || status_is(&env.state.db, "rejected")).await;
    assert_eq!(row.rejection.as_deref(), Some(sandbox::messages::REJECT_TEXT));
    assert_eq!(row.attempts, 1, "a rejection is final");
    let (_, done) =
        if done.contains("data-state=\"rejected\"") { (StatusCode::OK, done) } else { l.get(&env, "/done").await };
    assert!(done.contains("data-state=\"rejected\""), "{done}");
    assert!(done.contains(sandbox::messages::REJECT_TEXT));
    assert!(done.contains("data-manual=\"true\""));
    assert!(notifications(&env).is_empty());

    // Another browser (no binding cookie) learns nothing about it.
    let r = env.http.get(l.url(&env, "/do/delivery")).send().await.unwrap();
    assert_ne!(r.status(), StatusCode::OK);
    assert!(!r.text().await.unwrap().contains("patient not found"));
    let (status, page) = {
        let r = env.http.get(l.url(&env, "/done")).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    };
    assert!(status == StatusCode::OK || status.is_client_error(), "{status}");
    assert!(page.contains("Launch the app again from your EHR"), "{page}");
    assert!(!page.contains(sandbox::messages::REJECT_TEXT));
}

#[tokio::test]
async fn a_200_carrying_an_error_outcome_is_a_rejection_and_never_called_accepted() {
    let env = start().await;
    env.sandbox.set_faults(fault(ProcessMessageFault::OkWithError));
    let (l, _) = submit_for(&env, "pat-1").await;
    let row = eventually("rejection", 20, || status_is(&env.state.db, "rejected")).await;
    assert_eq!(row.attempts, 1);
    assert!(row.rejection.as_deref().unwrap_or_default().contains("could not be processed"), "{:?}", row.rejection);
    let (_, done) = l.get(&env, "/done").await;
    assert!(done.contains("data-state=\"rejected\""), "{done}");
    assert!(done.contains("your EHR refused its notification"), "{done}");
    assert!(!done.to_lowercase().contains("accepted"), "never 'accepted' beside the EHR's refusal: {done}");
    assert!(notifications(&env).is_empty(), "the EHR did not keep it");
}

#[tokio::test]
async fn backend_services_auth_and_the_legacy_spelling() {
    let env = start_with_backend_services_ehr(r#", event_spelling = "legacy""#, &[]).await;
    let (_, done) = submit_for(&env, "pat-1").await;
    assert!(done.contains("Delivered to External EHR"), "{done}");
    let row = eventually("delivery", 20, || status_is(&env.state.db, "delivered")).await;
    let got = env.sandbox.received_messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event, "notify-add-servicerequest", "the configured spelling is emitted");
    assert_eq!(got[0].bundle_id, row.id);
}

/// Starts the app on `data_dir` against the separately started `sandbox`, serving in a task of
/// its own: returns its state and that task.
async fn start_instance(
    sandbox: &sandbox::SandboxHandle,
    listener: TcpListener,
    data_dir: &std::path::Path,
) -> (server::state::AppState, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let port = listener.local_addr().unwrap().port();
    let toml = secret_basic_ehr_toml(sandbox, EXTERNAL_SECRET);
    let mut env: HashMap<&str, String> = HashMap::from([
        ("EREFERRAL_LISTEN", format!("127.0.0.1:{port}")),
        ("EREFERRAL_DATA_DIR", data_dir.display().to_string()),
        ("EREFERRAL_OUTBOUND_TIMEOUT_SECS", "2".into()),
        ("EREFERRAL_OUTBOX_LEASE_SECS", "3".into()),
        ("EREFERRAL_OUTBOX_RETRY_BASE_SECS", "1".into()),
        ("EREFERRAL_OUTBOX_RETRY_MAX_SECS", "1".into()),
        ("EREFERRAL_OUTBOX_CONFIRM_WAIT_MILLIS", "0".into()),
    ]);
    if let Some(url) = common::test_database_url(data_dir).await {
        env.insert("EREFERRAL_DATABASE_URL", url);
    }
    let config = Config::from_sources(Some(&toml), &|k| env.get(k).cloned()).unwrap();
    let running = startup::start_on(config, leptos_options(), listener, None).await.unwrap();
    let state = running.state.clone();
    (state, tokio::spawn(running.serve_until(std::future::pending())))
}

#[tokio::test]
async fn a_process_killed_mid_delivery_resends_the_same_message_after_restart() {
    let sandbox_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let first = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_url = url::Url::parse(&format!("http://localhost:{}/", first.local_addr().unwrap().port())).unwrap();
    // The sandbox as somebody else's EHR: the app registered there with credentials of its own.
    let mut config = sandbox::SandboxConfig::default_for_app(&app_url);
    config.static_bearers.push(EXTERNAL_BEARER.into());
    config.clients.push(sandbox::ClientRegistration {
        client_id: EXTERNAL_CLIENT_ID.into(),
        redirect_uris: vec![app_url.join("callback").unwrap().to_string()],
        auth: ClientAuth::ClientSecretBasic { secret: EXTERNAL_SECRET.into() },
        scopes: sandbox::config::DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
    });
    let sandbox = sandbox::start(config, sandbox_listener).await.expect("sandbox");
    let data_dir = std::env::temp_dir().join(format!("erx-test-{}", server::smart::random_token(9)));
    let (state, serving) = start_instance(&sandbox, first, &data_dir).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let env = TestEnv {
        app_url,
        sandbox: sandbox.clone(),
        state: state.clone(),
        http,
        data_dir: data_dir.clone(),
        config_env: HashMap::new(),
        config_toml: None,
        owns_data: true,
    };

    // The EHR processes the message but its answer never comes back…
    sandbox.set_faults(fault(ProcessMessageFault::AcceptThenTimeout));
    submit_for(&env, "pat-1").await;
    eventually("the EHR has the message", 20, || async { (!notifications(&env).is_empty()).then_some(()) }).await;
    // …and our process dies while waiting for it.
    state.outbox.halt();
    serving.abort();
    let row = outbox_row(&state.db).await;
    assert_eq!((row.status.as_str(), row.attempts), ("pending", 1), "nothing recorded the lost answer");

    // A new process on the same database takes over once the dead one's lease runs out.
    sandbox.set_faults(Faults::default());
    let second = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (restarted, _serving) = start_instance(&sandbox, second, &data_dir).await;
    let row = eventually("redelivery after restart", 30, || status_is(&restarted.db, "delivered")).await;
    assert_eq!(row.attempts, 2);
    let got = notifications(&env);
    assert_eq!(got.len(), 1, "the EHR holds one message: {got:?}");
    assert_eq!(got[0].bundle_id, row.id);
    assert_eq!(got[0].times_received, 2, "sent twice with the same ids, de-duplicated by the EHR");
    fhir_validation::assert_valid_fhir(&[got[0].raw.clone()]);
}
