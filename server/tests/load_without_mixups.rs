//! Load without mix-ups (issue 12): 10,000 launches from 50 concurrent simulated browsers, spread
//! over the instances (3 on PostgreSQL, 1 on SQLite), each browser holding two launches for
//! different patients at once and submitting both, every request to an instance picked at
//! random. Afterwards: 0 referrals for another patient than their launch's, and 0 launches
//! readable with another browser's cookies. `EREFERRAL_LOAD_LAUNCHES` sets the number of launches.

mod common;

use common::*;
use rand::{seq::SliceRandom, Rng};
use reqwest::{header, StatusCode};
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Instant,
};
use url::Url;

/// The sandbox's patients, and a word of each one's name no other page text has (given names).
const PATIENTS: [(&str, &str); 5] =
    [("pat-1", "Amelia"), ("pat-2", "Zoë"), ("pat-3", "Łukasz"), ("pat-4", "Alexandra"), ("pat-5", "Tavish")];

/// One launch as its browser holds it.
struct Held {
    path: String,
    patient: &'static str,
    family: &'static str,
}

/// Sends `req` to a random instance's address (what a load balancer does), same path.
fn at(bases: &[Url], path: &str) -> Url {
    let base = bases.choose(&mut rand::thread_rng()).expect("an instance");
    base.join(path).unwrap()
}

async fn post(env: &TestEnv, bases: &[Url], jar: &Jar, path: &str, form: &[(&str, &str)]) -> String {
    let r = env
        .http
        .post(at(bases, path))
        .header(header::COOKIE, jar.header())
        .header(header::ORIGIN, env.state.config.public_url.origin().ascii_serialization())
        .form(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
    r.headers()[header::LOCATION].to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_launches_from_fifty_browsers_never_mix_patients_or_sessions() {
    let started = Instant::now();
    let total: usize = std::env::var("EREFERRAL_LOAD_LAUNCHES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let a = start().await;
    let mut others = Vec::new();
    if a.state.db.backend() == server::store::Backend::Postgres {
        for _ in 0..2 {
            others.push(try_start_another(&a, &[]).await.unwrap());
        }
    }
    let bases: Vec<Url> = std::iter::once(a.app_url.clone()).chain(others.iter().map(|o| o.app_url.clone())).collect();
    let a = Arc::new(a);
    let launched_so_far = Arc::new(AtomicUsize::new(0));
    // Every browser's jar, for the cross-browser reads.
    let jars: Arc<Mutex<Vec<Jar>>> = Arc::new(Mutex::new(vec![Jar::default(); 50]));
    let results: Arc<Mutex<Vec<(String, &'static str)>>> = Arc::default();
    let cross_reads = Arc::new(AtomicUsize::new(0));
    let mut browsers = Vec::new();
    for b in 0..50 {
        let (env, bases, count, jars, results, cross_reads) =
            (a.clone(), bases.clone(), launched_so_far.clone(), jars.clone(), results.clone(), cross_reads.clone());
        browsers.push(tokio::spawn(async move {
            let mut jar = Jar::default();
            while count.fetch_add(2, Ordering::Relaxed) + 2 <= total {
                // Two launches for two patients, open at once in this browser.
                let pair: Vec<&(&str, &str)> = PATIENTS.choose_multiple(&mut rand::thread_rng(), 2).collect();
                let mut held = Vec::new();
                for (patient, family) in pair {
                    let launch_id = env.sandbox.create_launch(launch_request(patient, "Practitioner/prac-1"));
                    let (_, landing) = follow(&env, &mut jar, env.sandbox.launch_url(&launch_id)).await;
                    let path = landing.url().path().to_string();
                    assert!(path.starts_with("/l/"), "launched: {path}");
                    held.push(Held { path, patient, family });
                }
                jars.lock().unwrap()[b] = jar.clone();
                // Fill both in, step by step, alternating between them.
                let steps: [(&str, Vec<(&str, &str)>); 5] = [
                    ("/do/step/service", vec![("pick", DIABETES_PICK), ("nav", "next")]),
                    ("/do/step/details", vec![("reason", "Prediabetes"), ("priority", "routine"), ("nav", "next")]),
                    ("/do/step/attachments", vec![("nav", "next")]),
                    (
                        "/do/step/consent",
                        vec![
                            ("consent_decision", "permit"),
                            ("consent_by", "patient"),
                            ("consent_date", "2026-11-01"),
                            ("nav", "next"),
                        ],
                    ),
                    (
                        "/do/step/routing",
                        vec![("routing", ""), ("patient_location", "home"), ("authorizer", "self"), ("nav", "next")],
                    ),
                ];
                for (step, form) in &steps {
                    for h in &held {
                        post(&env, &bases, &jar, &format!("{}{step}", h.path), form).await;
                    }
                }
                for h in &held {
                    let to = post(&env, &bases, &jar, &format!("{}/do/submit", h.path), &[]).await;
                    assert!(to.ends_with("/done"), "{to}");
                    // The done page names this launch's patient and no other.
                    let page = env
                        .http
                        .get(at(&bases, &format!("{}/done", h.path)))
                        .header(header::COOKIE, jar.header())
                        .send()
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap();
                    for (_, family) in PATIENTS {
                        assert_eq!(page.contains(family), family == h.family, "{}: {family} on the page", h.patient);
                    }
                    results.lock().unwrap().push((h.path.trim_start_matches("/l/").to_string(), h.patient));
                    // Another browser's cookies (whichever one is at hand) do not open it.
                    let other = {
                        let jars = jars.lock().unwrap();
                        let o = (b + rand::thread_rng().gen_range(1..50)) % 50;
                        jars[o].clone()
                    };
                    let r =
                        env.http.get(at(&bases, &h.path)).header(header::COOKIE, other.header()).send().await.unwrap();
                    let status = r.status();
                    let body = r.text().await.unwrap();
                    if status == StatusCode::OK && body.contains(h.family) {
                        cross_reads.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for b in browsers {
        b.await.unwrap();
    }
    let results = results.lock().unwrap().clone();
    assert_eq!(results.len(), total, "every launch submitted");

    // 0 referrals for the wrong patient: each launch's referral, as stored, is for its patient.
    let stored: Vec<(String, String, String)> =
        server::sql_all!(&a.state.db, "SELECT session_id, patient_id, id FROM referrals").unwrap();
    assert_eq!(stored.len(), total, "one referral per launch");
    let by_session: HashMap<&str, (&str, &str)> =
        stored.iter().map(|(s, p, id)| (s.as_str(), (p.as_str(), id.as_str()))).collect();
    let mut wrong = 0;
    for (session, patient) in &results {
        let (stored_patient, _) = by_session[session.as_str()];
        if stored_patient != *patient {
            wrong += 1;
        }
    }
    // …and the ServiceRequests themselves name the launched patient (a sample: 200 of them).
    for (session, patient) in results.iter().take(200) {
        let (_, id) = by_session[session.as_str()];
        let d = server::store::referrals::detail(&a.state.db, id).await.unwrap().unwrap();
        if !d.service_request_json.contains(&format!("/Patient/{patient}\"")) {
            wrong += 1;
        }
    }
    let cross = cross_reads.load(Ordering::Relaxed);
    println!(
        "load: {total} launches by 50 browsers (two patients each at once) over {} instance(s), {:.1} s: \
         {wrong} referrals for the wrong patient, {cross} launches readable from another browser",
        bases.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(wrong, 0, "referrals for the wrong patient");
    assert_eq!(cross, 0, "launches readable from another browser");
}
