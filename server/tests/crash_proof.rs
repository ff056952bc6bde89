//! Proof by crashes (issue 12): real server binaries (child processes) behind a round-robin load
//! balancer, on one store, against the sandbox EHR. Referrals are entered and submitted through
//! whichever instance the balancer picks while instances are killed with SIGKILL and restarted
//! at random, and the EHR answers 500 for a while. Afterwards: every referral is stored once, the
//! EHR holds its notification exactly once by MessageHeader id (repeats are counted, and allowed:
//! the EHR de-duplicates), nothing is lost, and each referral's messages arrived in order.
//!
//! PostgreSQL (the test command's second pass): 3 instances. SQLite: 1 instance, killed and
//! restarted. `EREFERRAL_CRASH_REFERRALS` sets how many referrals (default 1,000).

mod common;

use common::{
    launch_request, test_database_url, test_postgres, Jar, DIABETES_PICK, EXTERNAL_BEARER, EXTERNAL_CLIENT_ID,
};
use rand::Rng;
use reqwest::{header, redirect, StatusCode};
use sandbox::{faults::ProcessMessageFault, ClientAuth, Faults, SandboxHandle};
use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};
use tokio::{net::TcpListener, process::Child};
use url::Url;

const SECRET: &str = "crash-secret";
const TOKEN_KEY: &str = "Y3Jhc2gtdGVzdC10b2tlbi1rZXktMzItYnl0ZXMhISE=";
const PASSWORD: &str = "a long console password";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A round-robin TCP load balancer over the instances' ports: a backend that refuses the
/// connection (killed) is skipped; with none up the client's connection is closed.
async fn balancer(listener: TcpListener, backends: Vec<u16>) {
    let next = Arc::new(AtomicUsize::new(0));
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else { continue };
        let (backends, next) = (backends.clone(), next.clone());
        tokio::spawn(async move {
            for _ in 0..backends.len() {
                let port = backends[next.fetch_add(1, Ordering::Relaxed) % backends.len()];
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    return;
                }
            }
        });
    }
}

struct Instance {
    port: u16,
    child: Option<Child>,
    starts: usize,
}

struct Cluster {
    instances: Vec<Instance>,
    env: Vec<(String, String)>,
    dir: PathBuf,
}

impl Cluster {
    async fn start(&mut self, i: usize) {
        let inst = &mut self.instances[i];
        inst.starts += 1;
        let log = std::fs::File::create(self.dir.join(format!("instance-{i}-{}.log", inst.starts))).unwrap();
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"));
        cmd.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("EREFERRAL_LISTEN", format!("127.0.0.1:{}", inst.port))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true);
        inst.child = Some(cmd.spawn().expect("the server binary starts"));
        let health = format!("http://127.0.0.1:{}/healthz", inst.port);
        let http = reqwest::Client::new();
        for _ in 0..400 {
            if http.get(&health).send().await.is_ok_and(|r| r.status() == StatusCode::OK) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("instance {i} did not come up; see {}", self.dir.display());
    }

    /// SIGKILL: no shutdown, no flush, nothing more written.
    async fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.instances[i].child.take() {
            child.start_kill().unwrap();
            let _ = child.wait().await;
        }
    }
}

/// A browser: cookies kept by hand, a new connection for every request (so the balancer spreads
/// one launch's requests over the instances).
struct Browser {
    http: reqwest::Client,
    base: Url,
    jar: Jar,
    path: String,
}

/// Retries `f` until it gives `Some` (an instance died under it, or none was up), for up to 60 s.
async fn retrying<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{what}: no instance answered for a minute");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap()
}

impl Browser {
    /// Launches from the EHR until a launch lands on its page (one cut short by a kill is
    /// abandoned and the clinician launches again, as they would).
    async fn launch(sandbox: &SandboxHandle, base: &Url, patient: &str) -> Browser {
        let http = client();
        retrying("launch", || async {
            let mut jar = Jar::default();
            let mut url = sandbox.launch_url(&sandbox.create_launch(launch_request(patient, "Practitioner/prac-1")));
            for _ in 0..10 {
                let mut req = http.get(url.clone());
                if url.origin() == base.origin() && !jar.0.is_empty() {
                    req = req.header(header::COOKIE, jar.header());
                }
                let r = req.send().await.ok()?;
                if url.origin() == base.origin() {
                    jar.absorb(&r);
                }
                match r.status() {
                    s if s.is_redirection() => {
                        url = url.join(r.headers().get(header::LOCATION)?.to_str().ok()?).ok()?;
                    }
                    StatusCode::OK if url.path().starts_with("/l/") => {
                        let page = r.text().await.ok()?;
                        // A page cut short (the instance died mid-body) is not a landing.
                        if !page.contains("</html>") {
                            return None;
                        }
                        return Some(Browser {
                            http: http.clone(),
                            base: base.clone(),
                            jar,
                            path: url.path().to_string(),
                        });
                    }
                    _ => return None,
                }
            }
            None
        })
        .await
    }

    /// Posts a form of the launch until an instance answers `303 See Other`; returns where to.
    async fn post(&self, rest: &str, form: &[(&str, &str)]) -> String {
        let url = self.base.join(&format!("{}{rest}", self.path)).unwrap();
        let origin = self.base.origin().ascii_serialization();
        retrying(rest, || async {
            let r = self
                .http
                .post(url.clone())
                .header(header::COOKIE, self.jar.header())
                .header(header::ORIGIN, &origin)
                .form(form)
                .send()
                .await
                .ok()?;
            (r.status() == StatusCode::SEE_OTHER)
                .then(|| r.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_string())
        })
        .await
    }
}

/// Enters one valid referral and submits it (retrying each step across kills).
async fn refer(b: &Browser) {
    b.post("/do/step/service", &[("pick", DIABETES_PICK), ("nav", "next")]).await;
    b.post("/do/step/details", &[("reason", "Prediabetes, HbA1c 6.2%"), ("priority", "routine"), ("nav", "next")])
        .await;
    b.post("/do/step/attachments", &[("nav", "next")]).await;
    b.post(
        "/do/step/consent",
        &[("consent_decision", "permit"), ("consent_by", "patient"), ("consent_date", "2026-11-01"), ("nav", "next")],
    )
    .await;
    b.post(
        "/do/step/routing",
        &[("routing", ""), ("patient_location", "home"), ("authorizer", "self"), ("nav", "next")],
    )
    .await;
    let to = b.post("/do/submit", &[]).await;
    assert!(to.ends_with("/done"), "submit went to {to}");
}

/// A signed-in console (cookie), through the balancer.
async fn console(base: &Url) -> String {
    let http = client();
    let origin = base.origin().ascii_serialization();
    retrying("console sign-in", || async {
        let r = http
            .post(base.join("console/login").unwrap())
            .header(header::ORIGIN, &origin)
            .form(&[("username", "kim"), ("password", PASSWORD)])
            .send()
            .await
            .ok()?;
        (r.status() == StatusCode::SEE_OTHER)
            .then(|| r.headers().get(header::SET_COOKIE)?.to_str().ok()?.split(';').next().map(str::to_string))
            .flatten()
    })
    .await
}

/// The service accepts referral `id` in the console: a second message, recorded while the first
/// may still be waiting, that must reach the EHR after it.
async fn accept(db: &server::store::Db, base: &Url, cookie: &str, id: &str) {
    let http = client();
    let page = base.join(&format!("console/r/{id}")).unwrap();
    let origin = base.origin().ascii_serialization();
    retrying("accept", || async {
        // An earlier try may have gone through before its answer was lost.
        let status: String = server::sql_scalar!(db, "SELECT task_status FROM referrals WHERE id = $1", id).ok()?;
        if status != "requested" {
            return Some(());
        }
        let r = http.get(page.clone()).header(header::COOKIE, cookie).send().await.ok()?;
        let body = r.text().await.ok()?;
        let at = body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
        let csrf = body[at..].split('"').next()?.to_string();
        let r = http
            .post(page.clone())
            .header(header::COOKIE, cookie)
            .header(header::ORIGIN, &origin)
            .form(&[("action", "accept"), ("csrf", csrf.as_str())])
            .send()
            .await
            .ok()?;
        (r.status() == StatusCode::SEE_OTHER).then_some(())
    })
    .await
}

/// The ServiceRequest a message is about.
fn service_request_of(m: &sandbox::ReceivedMessage) -> Option<String> {
    m.raw["entry"].as_array()?.iter().find_map(|e| {
        let r = &e["resource"];
        (r["resourceType"] == "ServiceRequest").then(|| r["id"].as_str().map(str::to_string)).flatten()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrals_survive_kill_9_restarts_and_an_ehr_outage_exactly_once_and_in_order() {
    let started = Instant::now();
    let total: usize = std::env::var("EREFERRAL_CRASH_REFERRALS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let postgres = test_postgres().is_some();
    let instances = if postgres { 3 } else { 1 };
    let dir = std::env::temp_dir().join(format!("erx-test-{}", server::smart::random_token(9)));
    std::fs::create_dir_all(&dir).unwrap();

    // The public URL is the balancer's: the EHR redirects browsers there.
    let lb = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!("http://127.0.0.1:{}/", lb.local_addr().unwrap().port())).unwrap();
    let sandbox_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = sandbox::SandboxConfig::default_for_app(&base);
    config.static_bearers.push(EXTERNAL_BEARER.into());
    config.clients.push(sandbox::ClientRegistration {
        client_id: EXTERNAL_CLIENT_ID.into(),
        redirect_uris: vec![base.join("callback").unwrap().to_string()],
        auth: ClientAuth::ClientSecretBasic { secret: SECRET.into() },
        scopes: sandbox::config::DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
    });
    let sandbox = sandbox::start(config, sandbox_listener).await.expect("sandbox");
    let toml = common::secret_basic_ehr_toml(&sandbox, SECRET);
    let config_file = dir.join("ereferral.toml");
    std::fs::write(&config_file, toml).unwrap();
    let database_url =
        test_database_url(&dir).await.unwrap_or_else(|| format!("sqlite://{}", dir.join("ereferral.db").display()));
    let env: Vec<(String, String)> = [
        ("EREFERRAL_CONFIG", config_file.display().to_string()),
        ("EREFERRAL_PUBLIC_URL", base.to_string()),
        ("EREFERRAL_DATA_DIR", dir.display().to_string()),
        ("EREFERRAL_DATABASE_URL", database_url.clone()),
        ("EREFERRAL_TOKEN_KEY", TOKEN_KEY.to_string()),
        ("EREFERRAL_OUTBOUND_TIMEOUT_SECS", "2".into()),
        ("EREFERRAL_OUTBOX_LEASE_SECS", "3".into()),
        ("EREFERRAL_OUTBOX_RETRY_BASE_SECS", "1".into()),
        ("EREFERRAL_OUTBOX_RETRY_MAX_SECS", "2".into()),
        ("EREFERRAL_OUTBOX_CONFIRM_WAIT_MILLIS", "0".into()),
        ("EREFERRAL_LOG", "warn".into()),
        ("LEPTOS_OUTPUT_NAME", "ereferral".into()),
        ("LEPTOS_SITE_ROOT", "target/site".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let ports: Vec<u16> = (0..instances).map(|_| free_port()).collect();
    let mut cluster = Cluster {
        instances: ports.iter().map(|&port| Instance { port, child: None, starts: 0 }).collect(),
        env,
        dir: dir.clone(),
    };
    for i in 0..instances {
        cluster.start(i).await;
    }
    tokio::spawn(balancer(lb, ports.clone()));
    // The test reads the store as any instance does (same URL, same key).
    let cipher = server::session::crypto::TokenCipher::from_base64(TOKEN_KEY).unwrap();
    let db = server::store::open(&database_url, cipher).await.unwrap();
    server::console::accounts::create(&db, "kim", "Nurse Kim", PASSWORD).await.unwrap();

    // Chaos: kill an instance at random every 0.3-1.5 s and bring it back 0.1-0.8 s later.
    let stop = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));
    let cluster = Arc::new(tokio::sync::Mutex::new(cluster));
    let chaos = {
        let (stop, kills, cluster) = (stop.clone(), kills.clone(), cluster.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (pause, down, which) = {
                    let mut rng = rand::thread_rng();
                    (rng.gen_range(300..1500), rng.gen_range(100..800), rng.gen_range(0..instances))
                };
                tokio::time::sleep(Duration::from_millis(pause)).await;
                let mut c = cluster.lock().await;
                c.kill(which).await;
                kills.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(down)).await;
                c.start(which).await;
            }
        })
    };

    // Clinicians: 8 at a time, each referral from a launch of its own; every 10th is accepted by
    // the service at once, while its first message may still be waiting.
    let cookie = console(&base).await;
    let accepted = Arc::new(Mutex::new(HashSet::new()));
    let done = Arc::new(AtomicUsize::new(0));
    let outage_at = total * 3 / 10;
    let mut clinicians = Vec::new();
    for worker in 0..8 {
        let (sandbox, base, db, cookie) = (sandbox.clone(), base.clone(), db.clone(), cookie.clone());
        let (accepted, done) = (accepted.clone(), done.clone());
        clinicians.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for n in (worker..total).step_by(8) {
                if n == outage_at {
                    // The EHR fails every message for a while.
                    sandbox
                        .set_faults(Faults { process_message: ProcessMessageFault::ServerError, ..Faults::default() });
                    let sandbox = sandbox.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(4)).await;
                        sandbox.set_faults(Faults::default());
                    });
                }
                let patient = if n % 2 == 0 { "pat-1" } else { "pat-2" };
                let b = Browser::launch(&sandbox, &base, patient).await;
                refer(&b).await;
                let session = b.path.trim_start_matches("/l/").to_string();
                let id: String =
                    server::sql_scalar!(&db, "SELECT id FROM referrals WHERE session_id = $1", &session).unwrap();
                if n % 10 == 0 {
                    accept(&db, &base, &cookie, &id).await;
                    accepted.lock().unwrap().insert(id.clone());
                }
                mine.push((session, id, patient));
                done.fetch_add(1, Ordering::Relaxed);
            }
            mine
        }));
    }
    let mut referred = Vec::new();
    for c in clinicians {
        referred.extend(c.await.unwrap());
    }
    let entered = started.elapsed();
    // Deliveries go on through more kills, then the instances are left alone to finish.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    chaos.await.unwrap();
    let accepted = accepted.lock().unwrap().clone();
    let expected_messages = total + accepted.len();
    let messages = common::eventually("every message reached the EHR", 180, || async {
        let got = sandbox.received_messages();
        (got.len() >= expected_messages).then_some(got)
    })
    .await;

    // Every referral stored once, for the patient it was launched for.
    let stored: i64 = server::sql_scalar!(&db, "SELECT COUNT(*) FROM referrals").unwrap();
    assert_eq!(stored as usize, total, "one referral per submitted draft");
    let drafts: i64 = server::sql_scalar!(&db, "SELECT COUNT(DISTINCT draft_id) FROM referrals").unwrap();
    assert_eq!(drafts as usize, total);
    for (session, id, patient) in &referred {
        let (sid, pid): (String, String) =
            server::sql_one!(&db, "SELECT session_id, patient_id FROM referrals WHERE id = $1", id).unwrap();
        assert_eq!((&sid, &pid), (session, &patient.to_string()), "referral {id} belongs to its launch and patient");
    }
    // The EHR holds each message once by MessageHeader id (resends de-duplicated and counted).
    let mut by_header: HashMap<&str, &sandbox::ReceivedMessage> = HashMap::new();
    for m in &messages {
        assert!(by_header.insert(&m.message_header_id, m).is_none(), "one record per MessageHeader id");
    }
    let notify_add: Vec<&sandbox::ReceivedMessage> =
        messages.iter().filter(|m| m.event.starts_with("notify-add-service")).collect();
    assert_eq!(notify_add.len(), total, "one notify-add-service-request per referral, none lost");
    let ours: HashSet<&str> = referred.iter().map(|(_, id, _)| id.as_str()).collect();
    let mut notified = HashSet::new();
    for m in &notify_add {
        let sr = service_request_of(m).expect("the message names its ServiceRequest");
        assert!(ours.contains(sr.as_str()), "a notification for a referral nobody made: {sr}");
        assert!(notified.insert(sr), "two notifications for one referral");
    }
    let outbox: Vec<(String, i64)> =
        server::sql_all!(&db, "SELECT message_header_id, attempts FROM outbox WHERE status = 'delivered'").unwrap();
    assert_eq!(outbox.len(), expected_messages, "every message recorded delivered");
    for (header_id, _) in &outbox {
        assert!(by_header.contains_key(header_id.as_str()), "delivered {header_id} reached the EHR");
    }
    // In order: an accepted referral's notify-add arrived before its status update.
    let position = |sr: &str, pick: &dyn Fn(&sandbox::ReceivedMessage) -> bool| {
        messages.iter().position(|m| pick(m) && service_request_of(m).as_deref() == Some(sr))
    };
    for id in &accepted {
        let add = position(id, &|m| m.event.starts_with("notify-add-service")).expect("notify-add");
        let update = position(id, &|m| !m.event.starts_with("notify-add-service")).expect("the acceptance");
        assert!(add < update, "referral {id}: its messages arrived out of order");
    }

    let resent: u32 = messages.iter().map(|m| m.times_received.saturating_sub(1)).sum();
    let attempts: i64 = outbox.iter().map(|(_, a)| a).sum();
    let restarts: usize = cluster.lock().await.instances.iter().map(|i| i.starts - 1).sum();
    println!(
        "crash proof on {}: {} instance(s), {total} referrals ({} accepted) entered in {:.1} s, {} kills, {restarts} restarts, \
         {expected_messages} messages delivered in {attempts} attempts, {resent} resends the EHR de-duplicated, {:.1} s in all",
        if postgres { "PostgreSQL" } else { "SQLite" },
        instances,
        accepted.len(),
        entered.as_secs_f64(),
        kills.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
    );
    for i in 0..instances {
        cluster.lock().await.kill(i).await;
    }
    db.close().await;
    common::drop_test_database(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}
