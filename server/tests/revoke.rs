//! `revoke-service-request` from the source: the referral's PHI leaves the database file, the
//! Task is cancelled, the source is told, and every later access says "revoked".

mod common;

use common::fhir_validation::assert_valid_fhir;
use common::*;
use reqwest::StatusCode;
use serde_json::Value;

const NAME: &str = "Ndiaye"; // pat-2, Zoë Ndiaye-Côté
                             // Markers of this run: on PostgreSQL the WAL is the cluster's, shared with the tests running
                             // beside this one, so fixed strings could be another test's.
fn marker(kind: &str) -> String {
    format!("{kind}-{}", server::smart::random_token(9).replace(['-', '_'], "x"))
}

/// What the store has on disk, as bytes. SQLite: the database file and its WAL. PostgreSQL: the
/// test database's files and the cluster's WAL (all of it: any instance's changes go there).
async fn database_bytes(env: &TestEnv) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut read_dir = |dir: &std::path::Path| {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                if let Ok(b) = std::fs::read(entry.path()) {
                    bytes.extend(b);
                }
            }
        }
    };
    match env.state.db.backend() {
        server::store::Backend::Sqlite => {
            for name in ["ereferral.db", "ereferral.db-wal"] {
                if let Ok(b) = std::fs::read(env.data_dir.join(name)) {
                    bytes.extend(b);
                }
            }
        }
        server::store::Backend::Postgres => {
            let data =
                std::path::PathBuf::from(std::env::var("EREFERRAL_TEST_PG_DATA").expect("the PostgreSQL data dir"));
            // Written pages reach the files at a checkpoint; the WAL has every change at commit.
            server::sql_exec!(&env.state.db, "CHECKPOINT").unwrap();
            let oid: i64 = server::sql_scalar!(
                &env.state.db,
                "SELECT oid::BIGINT FROM pg_database WHERE datname = current_database()"
            )
            .unwrap();
            read_dir(&data.join("base").join(oid.to_string()));
            read_dir(&data.join("pg_wal"));
        }
    }
    bytes
}

fn own_file_store(env: &TestEnv) -> bool {
    env.state.db.backend() == server::store::Backend::Sqlite
}

async fn count_with(env: &TestEnv, sql: &str, arg: &str) -> i64 {
    server::sql_scalar!(&env.state.db, sql, arg).unwrap()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    memchr::memmem::find(haystack, needle.as_bytes()).is_some()
}

#[tokio::test]
async fn a_revoked_referral_leaves_no_phi_and_says_revoked_everywhere() {
    let env = start().await;
    let (l, _) = launched(&env, launch_request("pat-2", "Practitioner/prac-1")).await;
    fill_valid_referral(&env, &l).await;
    let (reason, note, file_mark, place) = (marker("REASON"), marker("NOTE"), marker("ATTACH"), marker("ROOM"));
    let (reason, note, file_mark, place) = (reason.as_str(), note.as_str(), file_mark.as_str(), place.as_str());
    l.post_see_other(&env, "/do/step/details", &[("reason", reason), ("notes", note), ("nav", "next")]).await;
    l.upload(&env, "scan.pdf", format!("%PDF-1.7\n{file_mark}").into_bytes()).await;
    l.post_see_other(&env, "/do/submit", &[]).await;
    let sr_id: String = server::sql_scalar!(&env.state.db, "SELECT id FROM referrals").unwrap();
    let number: String = server::sql_scalar!(&env.state.db, "SELECT referral_number FROM referrals").unwrap();
    eventually("the referral is delivered", 20, || async {
        let s: String = server::sql_scalar!(&env.state.db, "SELECT status FROM outbox").unwrap();
        (s == "delivered").then_some(())
    })
    .await;
    // The service had booked it somewhere.
    use server::referral::{progress::progress, status_change::StaffAction};
    progress(&env.state, &sr_id, &StaffAction::Accept, "Nurse Kim").await.unwrap();
    let book = StaffAction::Book { start: "2026-12-03T09:30:00Z".into(), minutes: 30, location: place.into() };
    progress(&env.state, &sr_id, &book, "Nurse Kim").await.unwrap();
    // Readable through the app, and stored sealed: none of it in the clear on disk.
    let (_, record) = l.get(&env, &format!("/referrals/{sr_id}")).await;
    assert!(record.contains(reason) && record.contains(NAME) && record.contains(place), "{record}");
    let before = database_bytes(&env).await;
    for phi in [NAME, reason, note, file_mark, place] {
        assert!(!contains(&before, phi), "{phi} is on disk in the clear");
    }
    // What the revoke must destroy: the referral's (draft's) data key and its launch's.
    let keys: Vec<(String, Vec<u8>)> = server::sql_all!(
        &env.state.db,
        "SELECT k.id, k.wrapped FROM data_keys k WHERE k.id IN (SELECT key_id FROM referrals UNION SELECT key_id FROM launch_sessions)"
    )
    .unwrap();
    assert_eq!(keys.len(), 2, "one key for the referral, one for its launch");
    for (_, wrapped) in &keys {
        assert!(
            memchr::memmem::find(&before, wrapped).is_some() || !own_file_store(&env),
            "the wrapped key is on disk"
        );
    }

    // The source revokes, in the older spelling and an http variant of the event system.
    let token =
        api_token(&env, "system/Bundle.c system/ServiceRequest.rs system/Task.rs system/DocumentReference.rs").await;
    let message = revoke_message(
        "revoke-servicerequest",
        "http://ehealthontario.ca/fhir/CodeSystem/message-event-code",
        &format!("{}fhir/ServiceRequest/{sr_id}", env.app_url),
    );
    let (status, outcome) = post_message(&env, Some(&token), message.to_string().as_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["issue"][0]["severity"], "information");

    // The keys are gone from the store at once (a message in flight has its body in memory only).
    for (id, _) in &keys {
        assert_eq!(count_with(&env, "SELECT COUNT(*) FROM data_keys WHERE id = $1", id).await, 0, "key destroyed");
    }
    // On SQLite they also leave the file: the WAL is checkpointed and freed pages are zeroed. On
    // PostgreSQL a copy of the wrapped key stays in the WAL until it is recycled (and in backups):
    // readable only with the master key, see the README's store guarantees.
    if own_file_store(&env) {
        let keys_left = |bytes: &[u8]| keys.iter().filter(|(_, w)| memchr::memmem::find(bytes, w).is_some()).count();
        eventually("the database files hold no key of the revoked referral", 60, || async {
            let bytes = database_bytes(&env).await;
            (keys_left(&bytes) == 0).then_some(())
        })
        .await;
    }
    let after = database_bytes(&env).await;
    for phi in [NAME, reason, note, file_mark, place] {
        assert!(!contains(&after, phi), "{phi} is on disk in the clear after the revoke");
    }

    // Every later access says revoked.
    let (_, done) = l.get(&env, "/done").await;
    assert!(done.contains("This referral was revoked"), "{done}");
    assert!(done.contains(&number));
    assert!(!done.contains(NAME) && !done.contains(reason));
    let (_, review) = l.get(&env, "/review").await;
    assert!(review.contains("This referral was revoked"));
    let (_, list) = l.get(&env, "/referrals").await;
    assert!(list.contains("Revoked") && !list.contains(NAME), "{list}");
    let (_, record) = l.get(&env, &format!("/referrals/{sr_id}")).await;
    assert!(record.contains("This referral was revoked") && !record.contains(reason));
    let read = |path: String| {
        let env = &env;
        let token = token.clone();
        async move {
            let r = env.http.get(format!("{}fhir/{path}", env.app_url)).bearer_auth(token).send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (_, sr) = read(format!("ServiceRequest/{sr_id}")).await;
    assert_eq!(sr["status"], "revoked");
    let (_, tasks) = read(format!("Task?based-on=ServiceRequest/{sr_id}")).await;
    let task = &tasks["entry"][0]["resource"];
    assert_eq!(task["status"], "cancelled");
    assert_eq!(task["businessStatus"]["coding"][0]["code"], "6.0");
    assert!(!sr.to_string().contains(NAME) && !task.to_string().contains(NAME));

    // The source is told: one notify-update-status with the cancelled Task, valid FHIR.
    let update = eventually("the status update reaches the EHR", 20, || async {
        env.sandbox
            .received_messages()
            .into_iter()
            .find(|m| m.event == "notify-update-status" && m.raw["entry"][1]["resource"]["status"] == "cancelled")
    })
    .await;
    let entries = update.raw["entry"].as_array().unwrap();
    assert_eq!(entries[0]["resource"]["focus"][0]["reference"], format!("Task/{}", task["id"].as_str().unwrap()));
    assert_eq!(entries[1]["resource"]["status"], "cancelled");
    assert!(!update.raw.to_string().contains(NAME));
    assert_valid_fhir(&[update.raw.clone(), sr.clone(), tasks.clone()]);

    // Again: nothing more happens.
    let again = revoke_message(
        "revoke-service-request",
        server::config::DEFAULT_EVENT_SYSTEM,
        &format!("ServiceRequest/{sr_id}"),
    );
    let (status, outcome) = post_message(&env, Some(&token), again.to_string().as_bytes()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(outcome["issue"][0]["details"]["text"].as_str().unwrap().contains("already revoked"));
}

#[tokio::test]
async fn process_message_refuses_what_it_cannot_take() {
    let env = start().await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    fill_valid_referral(&env, &l).await;
    l.post_see_other(&env, "/do/submit", &[]).await;
    let sr_id: String = server::sql_scalar!(&env.state.db, "SELECT id FROM referrals").unwrap();
    let revoke = revoke_message(
        "revoke-service-request",
        server::config::DEFAULT_EVENT_SYSTEM,
        &format!("ServiceRequest/{sr_id}"),
    );
    let body = revoke.to_string();

    assert_eq!(post_message(&env, None, body.as_bytes()).await.0, StatusCode::UNAUTHORIZED);
    let reader = api_token(&env, "system/ServiceRequest.rs").await;
    assert_eq!(post_message(&env, Some(&reader), body.as_bytes()).await.0, StatusCode::FORBIDDEN);

    let token = api_token(&env, "system/Bundle.c").await;
    let (status, outcome) = post_message(&env, Some(&token), b"{not json").await;
    assert_eq!((status, outcome["resourceType"].as_str()), (StatusCode::BAD_REQUEST, Some("OperationOutcome")));
    let (status, _) =
        post_message(&env, Some(&token), br#"{"resourceType":"Bundle","type":"message","entry":[]}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let unknown =
        revoke_message("notify-add-appointment-please", server::config::DEFAULT_EVENT_SYSTEM, "ServiceRequest/x");
    let (status, outcome) = post_message(&env, Some(&token), unknown.to_string().as_bytes()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(outcome["issue"][0]["code"], "not-supported");
    let nobody = revoke_message("revoke-service-request", server::config::DEFAULT_EVENT_SYSTEM, "ServiceRequest/nope");
    assert_eq!(post_message(&env, Some(&token), nobody.to_string().as_bytes()).await.0, StatusCode::NOT_FOUND);

    // Nothing was revoked by any of these.
    let revoked: Option<i64> = server::sql_scalar!(&env.state.db, "SELECT revoked_at FROM referrals").unwrap();
    assert!(revoked.is_none());
}

#[tokio::test]
async fn the_wal_checkpoint_is_checked_not_assumed() {
    let env = start().await;
    if env.state.db.backend() != server::store::Backend::Sqlite {
        // SQLite's WAL only; on PostgreSQL erasure rests on the referral's data key (the test above).
        return;
    }
    launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    // A reader holding an old snapshot keeps the WAL from being truncated…
    let mut reader = env.state.db.begin().await.unwrap();
    let _: i64 = server::sql_scalar!(in &mut reader, "SELECT COUNT(*) FROM launch_sessions").unwrap();
    launched(&env, launch_request("pat-2", "Practitioner/prac-1")).await;
    let db = env.state.db.clone();
    let checkpoint = tokio::spawn(async move { server::referral::revoke::checkpoint(&db).await });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!checkpoint.is_finished(), "the checkpoint waits for the reader instead of claiming success");
    // …and once it is gone the checkpoint completes and says so.
    reader.commit().await.unwrap();
    assert!(checkpoint.await.unwrap(), "checkpointed");
    let wal = std::fs::metadata(env.data_dir.join("ereferral.db-wal")).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal, 0, "TRUNCATE left an empty WAL");
}

#[tokio::test]
async fn the_keys_of_purged_launches_and_drafts_are_destroyed_with_them() {
    let env = start().await;
    let (old, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    old.get(&env, "").await; // the draft, and its key
    let (live, _) = launched(&env, launch_request("pat-2", "Practitioner/prac-1")).await;
    live.get(&env, "").await;
    assert_eq!(count(&env, "SELECT COUNT(*) FROM data_keys").await, 4, "a key per launch and per draft");
    // The first launch and its draft expire and are purged…
    let db = &env.state.db;
    server::sql_exec!(db, "UPDATE launch_sessions SET expires_at = 0 WHERE id = $1", old.id()).unwrap();
    server::sql_exec!(db, "UPDATE referral_drafts SET expires_at = 0 WHERE session_id = $1", old.id()).unwrap();
    let now = server::smart::now_unix();
    server::store::sessions::purge_expired(db, now).await.unwrap();
    server::store::drafts::purge_expired(db, now).await.unwrap();
    // …and, a minute later, so are their keys; the live launch keeps its own.
    assert_eq!(server::store::data_keys::purge_orphans(db, now).await.unwrap(), 0, "not younger than a minute");
    assert_eq!(server::store::data_keys::purge_orphans(db, now + 120).await.unwrap(), 2);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM data_keys").await, 2);
    let (status, page) = live.get(&env, "").await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(page.contains("Ndiaye"), "the live launch still reads its sealed patient");
}
