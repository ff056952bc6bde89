//! Launch benchmark: server time for `/launch` + `/callback` against the in-process sandbox EHR,
//! EHR time excluded (read from our `Server-Timing` header: `app` = our time, `ehr` = waiting on
//! the EHR). Prints p50/p90/p99; asserts nothing. Run: `./scripts/bench.sh` (release build).
//!
//! Then referral entry on the launched sessions, request by request over loopback (no EHR involved):
//! the first wizard page (creates the draft), step posts, the review page, and submit (the
//! one-transaction write of ServiceRequest, Task, Consent and outbox row).
//!
//! Then durable submissions under load: every remaining launched session is filled in, then all
//! are submitted by `BENCH_CONCURRENCY` concurrent clients while the outbox workers deliver the
//! messages to the sandbox EHR on the same 2 cores; prints submissions per second, their
//! latency, and how long the outbox took to deliver everything.
//!
//! Then the first wizard page of a launch whose user left 10,000 untouched drafts for the same
//! patient (every launch makes one): the resumable-draft lookup must not grow with them.
//!
//! Env: `BENCH_LAUNCHES` (default 2000), `BENCH_WARMUP` (default 50), `BENCH_REFERRALS` (default 300),
//! `BENCH_CONCURRENCY` (default 16), `BENCH_DRAFTS` (default 10000). `BENCH_POSTGRES` (an admin URL)
//! runs it on a fresh PostgreSQL database instead of SQLite; `BENCH_INSTANCES` (default 1) starts that
//! many app instances on the store (in this process, one public URL) and spreads the durable
//! submissions over them round-robin.

use reqwest::{header, redirect};
use sandbox::{LaunchMode, LaunchRequest};
use server::{config::Config, http::server_timing, startup};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::net::TcpListener;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn summary(name: &str, mut v: Vec<f64>) {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "{name:<34} n={:<5} p50={:>7.3} ms  p90={:>7.3} ms  p99={:>7.3} ms  max={:>7.3} ms  mean={:>7.3} ms",
        v.len(),
        percentile(&v, 0.50),
        percentile(&v, 0.90),
        percentile(&v, 0.99),
        v[v.len() - 1],
        mean
    );
}

/// A valid referral, step by step, as plain form posts.
const STEPS: [(&str, &[(&str, &str)]); 4] = [
    ("/do/step/service", &[("pick", "svc-diabetes-prevention::http://snomed.info/sct|736379004"), ("nav", "next")]),
    ("/do/step/details", &[("reason", "Prediabetes, HbA1c 6.2%"), ("priority", "routine"), ("nav", "next")]),
    (
        "/do/step/consent",
        &[("consent_decision", "permit"), ("consent_by", "patient"), ("consent_date", "2026-11-01"), ("nav", "next")],
    ),
    ("/do/step/routing", &[("authorizer", "self"), ("nav", "next")]),
];

/// A modal launch of `patient` by `user`.
fn launch_request(patient: &str, user: &str) -> LaunchRequest {
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

fn page(session: &url::Url, rest: &str) -> url::Url {
    session.join(&format!("{}{rest}", session.path())).unwrap()
}

async fn count(db: &server::store::Db, sql: &str) -> i64 {
    server::sql_scalar!(db, sql).unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let launches: usize = std::env::var("BENCH_LAUNCHES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let warmup: usize = std::env::var("BENCH_WARMUP").ok().and_then(|v| v.parse().ok()).unwrap_or(50);

    let app_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_port = app_listener.local_addr().unwrap().port();
    let sandbox_port = sandbox_listener.local_addr().unwrap().port();
    let data_dir = std::env::temp_dir().join(format!("erx-bench-{}", server::smart::random_token(6)));
    let mut env: HashMap<&str, String> = HashMap::from([
        ("EREFERRAL_LISTEN", format!("127.0.0.1:{app_port}")),
        ("EREFERRAL_SANDBOX_PUBLIC_URL", format!("http://127.0.0.1:{sandbox_port}")),
        ("EREFERRAL_DATA_DIR", data_dir.display().to_string()),
        ("EREFERRAL_LOG", "warn".to_string()),
        ("EREFERRAL_TOKEN_KEY", "YmVuY2htYXJrLXRva2VuLWtleS0zMi1ieXRlcyEhISE=".to_string()),
    ]);
    let postgres = std::env::var("BENCH_POSTGRES").ok().filter(|u| !u.is_empty());
    let store_name = match &postgres {
        Some(admin) => {
            use sqlx::Connection;
            let name = format!("erx_bench_{}", server::smart::random_token(6).to_lowercase().replace('-', "_"));
            let mut c = sqlx::PgConnection::connect(admin).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&mut c).await.unwrap();
            let mut url = url::Url::parse(admin).unwrap();
            url.set_path(&format!("/{name}"));
            env.insert("EREFERRAL_DATABASE_URL", url.to_string());
            "PostgreSQL"
        }
        None => "SQLite (WAL)",
    };
    let instances: usize = std::env::var("BENCH_INSTANCES").ok().and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
    let config = Config::from_sources(None, &|k| env.get(k).cloned()).unwrap();
    server::telemetry::init(&config.log);
    let options = leptos::config::LeptosOptions::builder().output_name("ereferral").site_root("target/site").build();
    let running = startup::start_on(config, options, app_listener, Some(sandbox_listener)).await.unwrap();
    let sandbox = running.sandbox.clone().unwrap();
    let db = running.state.db.clone();
    let public_url = running.public_url.clone();
    tokio::spawn(running.serve_until(std::future::pending()));
    // More instances on the same store, as behind a load balancer (one public URL).
    let mut instance_bases = vec![public_url.clone()];
    for _ in 1..instances {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut more = env.clone();
        more.insert("EREFERRAL_LISTEN", format!("127.0.0.1:{port}"));
        more.insert("EREFERRAL_PUBLIC_URL", public_url.to_string());
        more.insert("EREFERRAL_SANDBOX_LISTEN", "127.0.0.1:0".into());
        let config = Config::from_sources(None, &|k| more.get(k).cloned()).unwrap();
        let options =
            leptos::config::LeptosOptions::builder().output_name("ereferral").site_root("target/site").build();
        let running = startup::start_on(config, options, listener, None).await.unwrap();
        tokio::spawn(running.serve_until(std::future::pending()));
        instance_bases.push(url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap());
    }
    let http = reqwest::Client::builder().redirect(redirect::Policy::none()).build().unwrap();

    let patients = ["pat-1", "pat-2", "pat-3", "pat-4", "pat-5"];
    let (mut launch_app, mut callback_app, mut both_app, mut both_ehr, mut wall) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut sessions = Vec::new();
    for i in 0..(warmup + launches) {
        let id = sandbox.create_launch(launch_request(patients[i % patients.len()], "Practitioner/prac-1"));
        let started = Instant::now();
        let mut url = sandbox.launch_url(&id);
        let mut timings = Vec::new();
        for _ in 0..3 {
            let r = http.get(url.clone()).send().await.unwrap();
            assert!(r.status().is_redirection(), "{} at {}", r.status(), url.path());
            if let Some(t) = r.headers().get(server_timing::SERVER_TIMING) {
                timings.push(server_timing::parse(t.to_str().unwrap()).unwrap());
            }
            let next = url.join(r.headers()[header::LOCATION].to_str().unwrap()).unwrap();
            if next.path().starts_with("/l/") {
                sessions.push(next);
                break;
            }
            url = next;
        }
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(timings.len(), 2, "a /launch and a /callback hop each report Server-Timing");
        if i >= warmup {
            launch_app.push(timings[0].0);
            callback_app.push(timings[1].0);
            both_app.push(timings[0].0 + timings[1].0);
            both_ehr.push(timings[0].1 + timings[1].1);
            wall.push(elapsed);
        }
    }
    println!("\nlaunch benchmark: {launches} EHR launches after {warmup} warm-up, {store_name}, sandbox in-process");
    summary("/launch  server time (EHR excl.)", launch_app);
    summary("/callback server time (EHR excl.)", callback_app);
    summary("launch+callback server time", both_app);
    summary("launch+callback EHR time", both_ehr);
    summary("whole redirect chain (wall)", wall);

    let referrals: usize = std::env::var("BENCH_REFERRALS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let origin = format!("http://localhost:{app_port}");
    let (mut first_page, mut step_post, mut review_page, mut submit) = (vec![], vec![], vec![], vec![]);
    let timed = |started: Instant| started.elapsed().as_secs_f64() * 1000.0;
    for session in sessions.iter().skip(warmup).take(referrals) {
        let page = |rest: &str| page(session, rest);
        let started = Instant::now();
        let body = http.get(session.clone()).send().await.unwrap().text().await.unwrap();
        first_page.push(timed(started));
        assert!(body.contains("Choose the service"));
        for (path, form) in STEPS {
            let started = Instant::now();
            let r = http.post(page(path)).header(header::ORIGIN, &origin).form(form).send().await.unwrap();
            step_post.push(timed(started));
            assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER);
        }
        let started = Instant::now();
        let body = http.get(page("/review")).send().await.unwrap().text().await.unwrap();
        review_page.push(timed(started));
        assert!(body.contains("Send referral"));
        let started = Instant::now();
        let r = http.post(page("/do/submit")).header(header::ORIGIN, &origin).send().await.unwrap();
        submit.push(timed(started));
        assert!(r.headers()[header::LOCATION].to_str().unwrap().ends_with("/done"));
    }
    println!(
        "
referral entry: {} referrals, one request at a time, loopback, wall time per request",
        first_page.len()
    );
    summary("first wizard page (creates draft)", first_page);
    summary("step post (validate, save, 303)", step_post);
    summary("review page", review_page);
    summary("submit (one transaction)", submit);

    // Durable submissions under load.
    let rest: Vec<url::Url> = sessions.iter().skip(warmup + referrals).cloned().collect();
    for session in &rest {
        http.get(session.clone()).send().await.unwrap();
        for (path, form) in STEPS {
            let r = http.post(page(session, path)).header(header::ORIGIN, &origin).form(form).send().await.unwrap();
            assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER);
        }
    }
    // Wait for the earlier referrals' deliveries, so the outbox starts empty.
    while count(&db, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'").await > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let concurrency: usize = std::env::var("BENCH_CONCURRENCY").ok().and_then(|v| v.parse().ok()).unwrap_or(16);
    // A line to attach a profiler on (`perf record -p`): the timed phase starts now.
    eprintln!("durable submissions: starting ({} sessions filled in)", rest.len());
    let queue = Arc::new(Mutex::new(rest.clone()));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(rest.len())));
    let started = Instant::now();
    let clients: Vec<_> = (0..concurrency)
        .map(|c| {
            let (queue, latencies, http, origin) = (queue.clone(), latencies.clone(), http.clone(), origin.clone());
            let bases = instance_bases.clone();
            tokio::spawn(async move {
                let mut n = c;
                loop {
                    let Some(mut session) = queue.lock().unwrap().pop() else { break };
                    // Round-robin over the instances: the same launch, another instance's address.
                    let base = &bases[n % bases.len()];
                    n += 1;
                    session.set_port(base.port()).unwrap();
                    let t = Instant::now();
                    let r =
                        http.post(page(&session, "/do/submit")).header(header::ORIGIN, &origin).send().await.unwrap();
                    assert!(r.headers()[header::LOCATION].to_str().unwrap().ends_with("/done"));
                    latencies.lock().unwrap().push(t.elapsed().as_secs_f64() * 1000.0);
                }
            })
        })
        .collect();
    for c in clients {
        c.await.unwrap();
    }
    let submit_secs = started.elapsed().as_secs_f64();
    let submitted = rest.len();
    while count(&db, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'").await > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drained_secs = started.elapsed().as_secs_f64();
    let delivered = count(&db, "SELECT COUNT(*) FROM outbox WHERE status = 'delivered'").await;
    let received = sandbox.received_messages().len();
    println!(
        "\ndurable submissions: {submitted} referrals by {concurrency} concurrent clients, {store_name}, {instances} \
         instance(s), outbox workers delivering to the in-process sandbox meanwhile, 2 runtime threads"
    );
    println!(
        "{:<34} {:.0} submissions/s ({submitted} in {submit_secs:.2} s)",
        "submit throughput",
        submitted as f64 / submit_secs
    );
    summary("submit latency under load", Arc::try_unwrap(latencies).unwrap().into_inner().unwrap());
    println!(
        "{:<34} this phase's {submitted} messages were all delivered {drained_secs:.2} s after its first submit \
         ({:.0} deliveries/s); {delivered} delivered in all, the EHR holds {received}",
        "outbox",
        submitted as f64 / drained_secs
    );

    // The first wizard page as a user's untouched drafts pile up (every launch makes one).
    let drafts: usize = std::env::var("BENCH_DRAFTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let first_page_of_new_launch = |http: reqwest::Client, patient: &'static str| {
        let sandbox = sandbox.clone();
        async move {
            let mut times = Vec::new();
            for _ in 0..50 {
                let id = sandbox.create_launch(launch_request(patient, "Practitioner/prac-2"));
                let mut url = sandbox.launch_url(&id);
                loop {
                    let r = http.get(url.clone()).send().await.unwrap();
                    url = url.join(r.headers()[header::LOCATION].to_str().unwrap()).unwrap();
                    if url.path().starts_with("/l/") {
                        break;
                    }
                }
                let t = Instant::now();
                let body = http.get(url).send().await.unwrap().text().await.unwrap();
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                assert!(body.contains("Choose the service"));
            }
            times
        }
    };
    let before = first_page_of_new_launch(http.clone(), "pat-3").await;
    let owner_launch = |i: usize| server::store::drafts::DraftOwner {
        session_id: format!("bench-untouched-{i}"),
        ehr_id: "sandbox".into(),
        patient_id: "pat-3".into(),
        user_ref: "Practitioner/prac-2".into(),
    };
    let now = server::smart::now_unix();
    let filled = Instant::now();
    for i in 0..drafts {
        server::store::drafts::get_or_create(&db, &owner_launch(i), Default::default, now, 86_400).await.unwrap();
    }
    let filled = filled.elapsed().as_secs_f64();
    let after = first_page_of_new_launch(http.clone(), "pat-3").await;
    println!("\nfirst wizard page of a new launch, same user and patient, {store_name} ({drafts} untouched drafts made in {filled:.1} s)");
    summary("with no earlier drafts", before);
    summary(&format!("with {drafts} untouched drafts"), after);
    let _ = std::fs::remove_dir_all(&data_dir);
}
