//! Several instances of the app on one store (issue 12): a launch continues on any instance, a
//! message recorded on one wakes the workers of the others, and an instance configured with
//! another token key refuses to start instead of writing what the others can't read.

mod common;

use common::*;
use reqwest::StatusCode;

fn notifications(env: &TestEnv) -> Vec<sandbox::ReceivedMessage> {
    env.sandbox.received_messages().into_iter().filter(|m| m.event.starts_with("notify-add-service")).collect()
}

#[tokio::test]
async fn a_launch_started_on_one_instance_continues_on_another() {
    let a = start().await;
    let b = try_start_another(&a, &[]).await.expect("a second instance starts on the same store");
    let (l, landing) = launched(&a, launch_request("pat-2", "Practitioner/prac-1")).await;
    assert!(landing.contains("Ndiaye"), "launched on the first instance");

    // The load balancer sends the same browser to the other instance: same launch, same patient.
    let (status, page) = l.get(&b, "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Ndiaye"), "the second instance shows the launched patient");
    // It fills in and submits there; the referral is for the launched patient, delivered once.
    fill_valid_referral(&b, &l).await;
    let to = l.post_see_other(&b, "/do/submit", &[]).await;
    assert!(to.ends_with("/done"), "{to}");
    let got = eventually("delivered", 20, || async {
        let n = notifications(&a);
        (!n.is_empty()).then_some(n)
    })
    .await;
    assert_eq!(got.len(), 1);
    assert!(got[0].patient.as_deref().is_some_and(|p| p.contains("Ndiaye")), "{:?}", got[0].patient);

    // Another browser's cookies do not open this launch on either instance.
    let (other, _) = launched(&a, launch_request("pat-1", "Practitioner/prac-1")).await;
    let stolen = Launched { path: l.path.clone(), jar: other.jar.clone() };
    for env in [&a, &b] {
        let (status, page) = stolen.get(env, "").await;
        assert_ne!(status, StatusCode::OK, "another browser read the launch: {page}");
        assert!(!page.contains("Ndiaye"));
    }
}

#[tokio::test]
async fn a_message_recorded_on_one_instance_wakes_the_others() {
    // Workers poll every 10 minutes here: only the notification can make the delivery prompt.
    let slow_poll = [("EREFERRAL_OUTBOX_POLL_MILLIS", "600000")];
    let a = start_with(&slow_poll).await;
    if a.state.db.backend() != server::store::Backend::Postgres {
        // SQLite serves one instance; its workers are woken in-process (and poll).
        return;
    }
    let b = try_start_another(&a, &slow_poll).await.expect("second instance");
    // The first instance's workers are gone: only the second's can deliver.
    a.state.outbox.halt();
    let (l, _) = launched(&a, launch_request("pat-1", "Practitioner/prac-1")).await;
    fill_valid_referral(&a, &l).await;
    assert!(l.post_see_other(&a, "/do/submit", &[]).await.ends_with("/done"));
    eventually("the other instance delivered it, woken by the notification", 20, || async {
        (!notifications(&b).is_empty()).then_some(())
    })
    .await;
    let delivered: i64 =
        server::sql_scalar!(&b.state.db, "SELECT COUNT(*) FROM outbox WHERE status = 'delivered'").unwrap();
    assert_eq!(delivered, 1);
}

#[tokio::test]
async fn an_instance_with_another_token_key_refuses_to_start() {
    let a = start().await;
    // Written by the first instance (its key generated into its data dir)…
    launched(&a, launch_request("pat-1", "Practitioner/prac-1")).await;
    let other_dir = std::env::temp_dir().join(format!("erx-test-{}", server::smart::random_token(9)));
    let refusals: Vec<Vec<(&str, String)>> = vec![
        // …a second one configured with another key,
        vec![("EREFERRAL_TOKEN_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_string())],
        // …or one that generated its own (another data dir, the same database).
        vec![("EREFERRAL_DATA_DIR", other_dir.display().to_string())],
    ];
    for extra in refusals {
        if extra[0].0 == "EREFERRAL_DATA_DIR" && a.state.db.backend() != server::store::Backend::Postgres {
            continue; // on SQLite another data dir is another database
        }
        let pairs: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let err = try_start_another(&a, &pairs).await.err().expect("refused");
        let chain = format!("{err:#}");
        assert!(chain.contains("another token key"), "{chain}");
        assert!(chain.contains("EREFERRAL_TOKEN_KEY"), "says what to configure: {chain}");
    }
    let _ = std::fs::remove_dir_all(other_dir);
    // The first instance goes on.
    launched(&a, launch_request("pat-2", "Practitioner/prac-1")).await;
}

#[tokio::test]
async fn instances_starting_together_on_a_new_store_apply_each_migration_once() {
    let dir = std::env::temp_dir().join(format!("erx-test-{}", server::smart::random_token(9)));
    std::fs::create_dir_all(&dir).unwrap();
    let url =
        test_database_url(&dir).await.unwrap_or_else(|| format!("sqlite://{}", dir.join("ereferral.db").display()));
    let key =
        server::session::crypto::TokenCipher::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let (url, key) = (url.clone(), key.clone());
            tokio::spawn(async move { server::store::open(&url, key).await })
        })
        .collect();
    let mut dbs = Vec::new();
    for o in opens {
        dbs.push(o.await.unwrap().expect("every instance starts"));
    }
    let applied: i64 = server::sql_scalar!(&dbs[0], "SELECT COUNT(*) FROM _sqlx_migrations").unwrap();
    let distinct: i64 = server::sql_scalar!(&dbs[0], "SELECT COUNT(DISTINCT version) FROM _sqlx_migrations").unwrap();
    assert_eq!(applied, distinct, "each migration recorded once");
    assert!(applied >= 2);
    for db in dbs {
        db.close().await;
    }
    drop_test_database(&dir);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_master_key_rotates_and_the_retired_one_is_then_refused() {
    const OLD: &str = "b2xkLW1hc3Rlci1rZXktb2YtdGhpcy1zdG9yZS0zMiE=";
    const NEW: &str = "bmV3LW1hc3Rlci1rZXktb2YtdGhpcy1zdG9yZS0zMiE=";
    let a = start_with(&[("EREFERRAL_TOKEN_KEY", OLD)]).await;
    let (l, _) = launched(&a, launch_request("pat-2", "Practitioner/prac-1")).await;
    l.post_see_other(&a, "/do/step/service", &[("pick", DIABETES_PICK), ("nav", "next")]).await;
    // Every instance restarts with the new key and the old one as previous: the first re-wraps.
    let b = try_start_another(&a, &[("EREFERRAL_TOKEN_KEY", NEW), ("EREFERRAL_TOKEN_KEY_PREVIOUS", OLD)])
        .await
        .expect("starts, rotating");
    let c = try_start_another(&a, &[("EREFERRAL_TOKEN_KEY", NEW), ("EREFERRAL_TOKEN_KEY_PREVIOUS", OLD)])
        .await
        .expect("starts, finding it rotated");
    // The launch goes on under the new key: its sealed patient and draft, and its EHR tokens.
    for env in [&b, &c] {
        let (status, page) = l.get(env, "").await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("Ndiaye"), "the sealed patient reads under the new key");
    }
    fill_valid_referral(&b, &l).await;
    assert!(l.post_see_other(&b, "/do/submit", &[]).await.ends_with("/done"), "submitted under the new key");
    // With the previous key removed the store still opens; the retired key alone is refused.
    try_start_another(&a, &[("EREFERRAL_TOKEN_KEY", NEW)]).await.expect("the new key alone");
    let err = try_start_another(&a, &[("EREFERRAL_TOKEN_KEY", OLD)]).await.err().expect("the old key is refused");
    assert!(format!("{err:#}").contains("another token key"), "{err:#}");
}
