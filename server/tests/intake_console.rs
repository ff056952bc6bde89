//! The intake console: staff sign in, see the queue, and progress a referral; each change
//! reaches the referring EHR as a message, in order.

mod common;

use common::fhir_validation::assert_valid_fhir;
use common::*;
use reqwest::StatusCode;

const PASSWORD: &str = "intake desk passphrase";

struct Console {
    cookie: String,
}

impl Console {
    async fn get(&self, env: &TestEnv, path: &str) -> (StatusCode, String) {
        let r = env
            .http
            .get(format!("{}{}", env.app_url, path.trim_start_matches('/')))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    async fn post(&self, env: &TestEnv, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        env.http
            .post(format!("{}{}", env.app_url, path.trim_start_matches('/')))
            .header("cookie", &self.cookie)
            .header("origin", env.app_url.origin().ascii_serialization())
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token on a console page.
    fn csrf(page: &str) -> String {
        let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
        page[at..].split('"').next().unwrap().to_string()
    }
}

async fn sign_in(env: &TestEnv) -> Console {
    server::console::accounts::create(&env.state.db, "kim", "Nurse Kim", PASSWORD).await.unwrap();
    let r = env.http.get(format!("{}console", env.app_url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/console/login");
    let login = format!("{}console/login", env.app_url);
    let origin = env.app_url.origin().ascii_serialization();
    let post = |form: &[(&str, &str)]| env.http.post(&login).header("origin", &origin).form(form).send();
    let wrong = post(&[("username", "kim"), ("password", "not it at all")]).await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.text().await.unwrap().contains("do not match"));
    let nobody = post(&[("username", "ghost"), ("password", PASSWORD)]).await.unwrap();
    assert_eq!(nobody.status(), StatusCode::UNAUTHORIZED);
    let r = post(&[("username", "kim"), ("password", PASSWORD)]).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(set.contains(attr), "{set}");
    }
    Console { cookie: set.split(';').next().unwrap().to_string() }
}

async fn submit(env: &TestEnv, patient: &str) -> String {
    let (l, _) = launched(env, launch_request(patient, "Practitioner/prac-1")).await;
    fill_valid_referral(env, &l).await;
    l.upload(env, "letter.pdf", b"%PDF-1.7\nletter".to_vec()).await;
    l.post_see_other(env, "/do/submit", &[]).await;
    server::sql_scalar!(&env.state.db, "SELECT r.id FROM referrals r JOIN referral_events e ON e.referral_id = r.id AND e.kind = 'submitted' ORDER BY e.seq DESC LIMIT 1")
        .unwrap()
}

#[tokio::test]
async fn staff_accept_book_attend_and_complete_and_the_ehr_hears_each_in_order() {
    let env = start().await;
    let id = submit(&env, "pat-1").await;
    let console = sign_in(&env).await;

    let (status, queue) = console.get(&env, "/console").await;
    assert_eq!(status, StatusCode::OK);
    assert!(queue.contains("Amelia Jeanne Tremblay") && queue.contains("Diabetes Prevention"), "{queue}");
    assert!(queue.contains("Waiting for the service"));
    let (_, page) = console.get(&env, &format!("/console/r/{id}")).await;
    assert!(page.contains("Prediabetes, HbA1c 6.2%") && page.contains("letter.pdf"));
    let csrf = Console::csrf(&page);
    let path = format!("/console/r/{id}");

    // Without the form token, or from another site: nothing changes.
    let r = console.post(&env, &path, &[("action", "accept")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("Nothing was changed"));
    let evil = env
        .http
        .post(format!("{}{}", env.app_url, path.trim_start_matches('/')))
        .header("cookie", &console.cookie)
        .header("origin", "https://evil.example")
        .form(&[("action", "accept"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status(), StatusCode::FORBIDDEN);
    let status: String = server::sql_scalar!(&env.state.db, "SELECT task_status FROM referrals").unwrap();
    assert_eq!(status, "requested");

    let steps: [&[(&str, &str)]; 4] = [
        &[("action", "accept")],
        &[
            ("action", "book"),
            ("date", "2026-12-03"),
            ("time", "09:30"),
            ("minutes", "45"),
            ("location", "Clinic B, room 4"),
        ],
        &[("action", "attended")],
        &[("action", "complete")],
    ];
    for form in steps {
        let mut form = form.to_vec();
        form.push(("csrf", csrf.as_str()));
        let r = console.post(&env, &path, &form).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{form:?}: {}", r.text().await.unwrap());
    }
    let (_, page) = console.get(&env, &format!("{path}?done=completed")).await;
    assert!(page.contains("data-testid=\"detail-status\">Completed<"), "{page}");
    assert!(page.contains("2026-12-03T09:30:00+00:00 · Clinic B, room 4 (fulfilled)"));
    assert_eq!(
        page.matches("data-testid=\"timeline-event\"").count(),
        5,
        "submitted, accepted, booked, attended, completed"
    );
    assert!(page.contains("by Nurse Kim"));
    let refused = console.post(&env, &path, &[("action", "accept"), ("csrf", csrf.as_str())]).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("This referral is completed: it cannot be accepted now."));

    let events = eventually("five messages delivered", 30, || async {
        let got: Vec<_> = env.sandbox.received_messages().into_iter().map(|m| (m.event, m.raw)).collect();
        (got.len() == 5).then_some(got)
    })
    .await;
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(
        names,
        [
            "notify-add-service-request",
            "notify-update-status",
            "notify-add-appointment",
            "notify-update-appointment",
            "notify-update-status"
        ]
    );
    let task_of = |raw: &serde_json::Value| {
        raw["entry"].as_array().unwrap().iter().find(|e| e["resource"]["resourceType"] == "Task").unwrap()["resource"]
            .clone()
    };
    assert_eq!(task_of(&events[1].1)["businessStatus"]["coding"][0]["code"], "3.0");
    assert_eq!(events[2].1["entry"][1]["resource"]["resourceType"], "Appointment");
    assert_eq!(
        events[2].1["entry"][0]["resource"]["focus"][0]["reference"].as_str().unwrap().split('/').next(),
        Some("Appointment")
    );
    assert_eq!(events[3].1["entry"][1]["resource"]["status"], "fulfilled");
    assert_eq!(task_of(&events[4].1)["status"], "completed");
    assert_valid_fhir(&events.iter().map(|(_, raw)| raw.clone()).collect::<Vec<_>>());

    // The file, to staff only.
    let doc: String = server::sql_scalar!(&env.state.db, "SELECT id FROM referral_documents").unwrap();
    let (status, body) = console.get(&env, &format!("{path}/doc/{doc}")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "%PDF-1.7\nletter"));
    let anonymous = env.http.get(format!("{}console/r/{id}/doc/{doc}", env.app_url)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);

    // Signing out ends the session.
    let r = console.post(&env, "/console/logout", &[("csrf", csrf.as_str())]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = env.http.get(format!("{}console", env.app_url)).header("cookie", &console.cookie).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the old cookie no longer works");
}

#[tokio::test]
async fn declining_needs_a_reason_which_reaches_the_ehr() {
    let env = start().await;
    let id = submit(&env, "pat-2").await;
    let console = sign_in(&env).await;
    let path = format!("/console/r/{id}");
    let (_, page) = console.get(&env, &path).await;
    let csrf = Console::csrf(&page);
    let r = console.post(&env, &path, &[("action", "decline"), ("reason", "  "), ("csrf", csrf.as_str())]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("A reason is needed to decline a referral."));
    let r = console
        .post(&env, &path, &[("action", "decline"), ("reason", "Outside our catchment area"), ("csrf", csrf.as_str())])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, queue) = console.get(&env, "/console").await;
    assert!(queue.contains("data-testid=\"queue-empty\""), "a declined referral leaves the open queue");
    let (_, all) = console.get(&env, "/console?all=1").await;
    assert!(all.contains("Declined"));
    let update = eventually("the decline reaches the EHR", 20, || async {
        env.sandbox.received_messages().into_iter().find(|m| m.event == "notify-update-status")
    })
    .await;
    let task = &update.raw["entry"][1]["resource"];
    assert_eq!(
        (task["status"].as_str(), task["statusReason"]["text"].as_str()),
        (Some("rejected"), Some("Outside our catchment area"))
    );
    assert_valid_fhir(std::slice::from_ref(&update.raw));
}

/// A sign-in post from the console's own page, as client `ip` (through a proxy header).
async fn sign_in_as(env: &TestEnv, ip: &str, username: &str, password: &str) -> reqwest::Response {
    env.http
        .post(format!("{}console/login", env.app_url))
        .header("origin", env.app_url.origin().ascii_serialization())
        .header("x-forwarded-for", ip)
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .unwrap()
}

async fn start_behind_proxy() -> TestEnv {
    start_with(&[("EREFERRAL_CLIENT_IP_HEADER", "x-forwarded-for")]).await
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_username_for_a_while() {
    let env = start_behind_proxy().await;
    server::console::accounts::create(&env.state.db, "kim", "Nurse Kim", PASSWORD).await.unwrap();
    for _ in 0..server::console::accounts::MAX_FAILURES {
        let r = sign_in_as(&env, "10.0.0.1", "kim", "a wrong guess!").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = sign_in_as(&env, "10.0.0.2", "kim", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits, from anywhere");
    assert!(r.text().await.unwrap().contains("Wait 15 minutes"));
    // Once the window has passed, the right password works again.
    server::sql_exec!(&env.state.db, "UPDATE staff_login_failures SET at = at - 3600").unwrap();
    let r = sign_in_as(&env, "10.0.0.1", "kim", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let left: i64 = server::sql_scalar!(&env.state.db, "SELECT COUNT(*) FROM staff_login_failures").unwrap();
    assert_eq!(left, 0, "a success clears the failures");
}

#[tokio::test]
async fn parallel_wrong_passwords_cannot_beat_the_lock() {
    let env = start_behind_proxy().await;
    server::console::accounts::create(&env.state.db, "kim", "Nurse Kim", PASSWORD).await.unwrap();
    let attempts = (0..20).map(|i| {
        let env = &env;
        async move { sign_in_as(env, &format!("10.0.1.{i}"), "kim", "a wrong guess!").await.status() }
    });
    let statuses = futures::future::join_all(attempts).await;
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(
        (checked, refused),
        (server::console::accounts::MAX_FAILURES as usize, 20 - server::console::accounts::MAX_FAILURES as usize),
        "exactly the allowed number of guesses were checked: {statuses:?}"
    );
}

#[tokio::test]
async fn one_client_guessing_many_usernames_is_stopped_too() {
    let env = start_behind_proxy().await;
    for i in 0..server::console::accounts::MAX_FAILURES_PER_CLIENT {
        let r = sign_in_as(&env, "10.9.9.9", &format!("user{i}"), "a wrong guess!").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let r = sign_in_as(&env, "10.9.9.9", "someone-else", "a wrong guess!").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text().await.unwrap().contains("from this computer"));
    // Another address is not held back by that one's guessing.
    let r = sign_in_as(&env, "10.9.9.10", "someone-else", "a wrong guess!").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
