//! No PHI or secret in the logs (issue 11): a whole referral's life, launch → submit → deliver →
//! console progress → revoke, with every crate logging at debug level, leaves no patient name,
//! identifier, birth date, note, file content, token or session secret in what the app logged.
//! (Lines the sandbox EHR itself logs are its own, not the app's, and are left out.)

mod common;

use common::*;
use reqwest::StatusCode;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

const REASON: &str = "REASON-PRIVATE-4417";
const NOTE: &str = "NOTE-PRIVATE-9090";
const FILE_MARK: &str = "FILE-PRIVATE-7312";
const PLACE: &str = "PLACE-PRIVATE-1180";
const PASSWORD: &str = "a long console passphrase";

#[tokio::test]
async fn a_whole_referral_logs_no_phi_and_no_secret() {
    let captured = Captured::default();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
        .with_writer(captured.clone())
        .with_ansi(false)
        .init();
    let env = start_with(&[("EREFERRAL_OUTBOX_CONFIRM_WAIT_MILLIS", "0")]).await;

    // Launch and refer pat-2 (Zoë Ndiaye-Côté), with notes and a file.
    let mut req = launch_request("pat-2", "Practitioner/prac-1");
    req.encounter_id = Some("enc-2".into());
    let (l, _) = launched(&env, req).await;
    l.post_see_other(&env, "/do/step/service", &[("pick", DIABETES_PICK), ("nav", "next")]).await;
    l.post_see_other(
        &env,
        "/do/step/details",
        &[("reason", REASON), ("priority", "urgent"), ("notes", NOTE), ("nav", "next")],
    )
    .await;
    let r = l.upload(&env, "letter.pdf", format!("%PDF-1.7\n{FILE_MARK}").into_bytes()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    l.post_see_other(&env, "/do/step/attachments", &[("nav", "next")]).await;
    l.post_see_other(
        &env,
        "/do/step/consent",
        &[("consent_decision", "permit"), ("consent_by", "patient"), ("consent_date", "2026-11-01"), ("nav", "next")],
    )
    .await;
    l.post_see_other(
        &env,
        "/do/step/routing",
        &[("routing", ""), ("patient_location", "home"), ("authorizer", "self"), ("nav", "next")],
    )
    .await;
    l.post_see_other(&env, "/do/submit", &[]).await;
    let (_, done) = l.get(&env, "/done").await;
    assert!(done.contains("Zoë"), "the page shows the patient (the logs must not)");
    eventually("delivered", 20, || async {
        (count(&env, "SELECT COUNT(*) FROM outbox WHERE status = 'delivered'").await == 1).then_some(())
    })
    .await;
    let row = server::store::sessions::get(&env.state.db, l.id(), server::smart::now_unix()).await.unwrap().unwrap();
    let tokens = row.tokens(&env.state.cipher).unwrap();

    // The service's staff accept and book.
    server::console::accounts::create(&env.state.db, "kim", "Nurse Kim", PASSWORD).await.unwrap();
    let origin = env.app_url.origin().ascii_serialization();
    let r = env
        .http
        .post(env.app_url.join("console/login").unwrap())
        .header("origin", &origin)
        .form(&[("username", "kim"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let staff_cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let id: String = server::sql_scalar!(&env.state.db, "SELECT id FROM referrals").unwrap();
    let page = env
        .http
        .get(env.app_url.join(&format!("console/r/{id}")).unwrap())
        .header("cookie", &staff_cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    let csrf = page[at..].split('"').next().unwrap().to_string();
    for form in [
        vec![("action", "accept"), ("csrf", csrf.as_str())],
        vec![
            ("action", "book"),
            ("date", "2026-12-03"),
            ("time", "09:30"),
            ("minutes", "30"),
            ("location", PLACE),
            ("csrf", csrf.as_str()),
        ],
    ] {
        let r = env
            .http
            .post(env.app_url.join(&format!("console/r/{id}")).unwrap())
            .header("cookie", &staff_cookie)
            .header("origin", &origin)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }

    // The source revokes it.
    let api = api_token(&env, "system/Bundle.c").await;
    let body =
        revoke_message("revoke-service-request", server::config::DEFAULT_EVENT_SYSTEM, &format!("ServiceRequest/{id}"));
    let (status, _) = post_message(&env, Some(&api), body.to_string().as_bytes()).await;
    assert_eq!(status, StatusCode::OK);
    eventually("every message delivered", 30, || async {
        (count(&env, "SELECT COUNT(*) FROM outbox WHERE status <> 'delivered'").await == 0).then_some(())
    })
    .await;

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let ours: Vec<&str> = text
        .lines()
        .filter(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
            !v["target"].as_str().unwrap_or_default().starts_with("sandbox")
        })
        .collect();
    assert!(ours.len() > 50, "the app logged the journey ({} lines)", ours.len());
    let cookie_secret =
        l.jar.0.iter().find(|(k, _)| k.starts_with("__Host-erx-") && !k.starts_with("__Host-erx-s-")).unwrap().1;
    let mut secrets: Vec<(&str, String)> = vec![
        ("given name", "Zoë".into()),
        ("family name", "Ndiaye".into()),
        ("health card number", "1234567890".into()),
        ("MRN", "MRN-100871".into()),
        ("birth date", "1991-11-02".into()),
        ("address", "Rue Principale".into()),
        ("reason", REASON.into()),
        ("notes", NOTE.into()),
        ("file content", FILE_MARK.into()),
        ("appointment place", PLACE.into()),
        ("access token", tokens.access_token.clone()),
        ("session id", l.id().to_string()),
        ("session cookie", cookie_secret.clone()),
        ("staff cookie", staff_cookie.split('=').nth(1).unwrap().to_string()),
        ("API token", api.clone()),
        ("staff password", PASSWORD.into()),
    ];
    if let Some(rt) = &tokens.refresh_token {
        secrets.push(("refresh token", rt.clone()));
    }
    for (what, secret) in &secrets {
        let hits: Vec<&&str> = ours.iter().filter(|line| line.contains(secret.as_str())).collect();
        assert!(hits.is_empty(), "the {what} appears in the logs: {:?}", hits.iter().take(3).collect::<Vec<_>>());
    }
}
