//! Delivery that cannot double or reorder (issue 11): a claim's lease token guards every result
//! write, an attempt is cut off inside its lease (all of its calls together), and a revoke lets
//! a message in flight finish before the cancellation goes out.

mod common;

use common::*;
use sandbox::Faults;
use server::store::outbox::{self as store, Outcome, Recorded};

async fn submitted(env: &TestEnv, patient: &str) -> Launched {
    let (l, _) = launched(env, launch_request(patient, "Practitioner/prac-1")).await;
    fill_valid_referral(env, &l).await;
    let to = l.post_see_other(env, "/do/submit", &[]).await;
    assert!(to.ends_with("/done"), "{to}");
    l
}

async fn status_of(env: &TestEnv, event: &str) -> (String, String) {
    server::sql_one!(&env.state.db, "SELECT status, body FROM outbox WHERE event = $1 ORDER BY seq LIMIT 1", event)
        .unwrap()
}

#[tokio::test]
async fn a_holder_whose_lease_ran_out_cannot_overwrite_the_next_holders_result() {
    let env = start().await;
    env.state.outbox.halt(); // no worker: this test is the only one claiming
    submitted(&env, "pat-1").await;
    let db = &env.state.db;
    let t0 = server::smart::now_unix() + 5;
    let first = store::claim(db, t0, 2).await.unwrap().expect("due");
    assert!(store::claim(db, t0 + 1, 2).await.unwrap().is_none(), "held: nobody else gets it");
    // The first holder stalls past its lease; a second takes the message over.
    let second = store::claim(db, t0 + 3, 2).await.unwrap().expect("the lease ran out");
    assert_ne!(first.lease_token, second.lease_token);
    assert_eq!(second.attempts, 2);

    // The stale holder comes back with a result: it is not recorded, whatever it says.
    for outcome in [Outcome::Delivered, Outcome::Rejected { text: "stale" }] {
        let r = store::record(db, &first, t0 + 3, &outcome, "stale").await.unwrap();
        assert_eq!(r, Recorded::LeaseLost);
    }
    let (status, _) = status_of(&env, "notify-add-service-request").await;
    assert_eq!(status, "pending", "the new holder's attempt is still open");
    let r =
        store::record(db, &second, t0 + 4, &Outcome::Retry { next_attempt_at: t0 + 10, reason: "HTTP 500" }, "retry")
            .await
            .unwrap();
    assert_eq!(r, Recorded::Yes);
    let attempts = store::attempts(db, &second.id).await.unwrap();
    let outcomes: Vec<_> = attempts.iter().map(|a| a.outcome.as_deref()).collect();
    assert_eq!(outcomes, [Some("lease-lost"), Some("retry")], "the history says what happened");
}

#[tokio::test]
async fn an_attempt_whose_calls_together_outlast_the_lease_is_cut_off_inside_it() {
    // Backend Services: each attempt may call the token endpoint, then POSTs. Each call is within
    // the 4 s timeout, but a slow token (3.5 s) plus a slow POST (3.5 s) outlast the 6 s lease.
    let env = start_with_backend_services_ehr(
        "",
        &[
            ("EREFERRAL_OUTBOUND_TIMEOUT_SECS", "4"),
            ("EREFERRAL_OUTBOX_LEASE_SECS", "6"),
            ("EREFERRAL_OUTBOX_RETRY_BASE_SECS", "1"),
            ("EREFERRAL_OUTBOX_RETRY_MAX_SECS", "1"),
            ("EREFERRAL_OUTBOX_POLL_MILLIS", "100"),
            ("EREFERRAL_OUTBOX_CONFIRM_WAIT_MILLIS", "0"),
        ],
    )
    .await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    fill_valid_referral(&env, &l).await;
    env.sandbox.set_faults(Faults { slow_token_millis: 3500, slow_notify_add_millis: 3500, ..Faults::default() });
    l.post_see_other(&env, "/do/submit", &[]).await;
    let (status, _) = eventually("delivered", 40, || async {
        let s = status_of(&env, "notify-add-service-request").await;
        (s.0 == "delivered").then_some(s)
    })
    .await;
    assert_eq!(status, "delivered");
    let id: String =
        server::sql_scalar!(&env.state.db, "SELECT id FROM outbox WHERE event = 'notify-add-service-request'").unwrap();
    let attempts = store::attempts(&env.state.db, &id).await.unwrap();
    assert!(attempts.len() >= 2, "the first attempt was cut off: {attempts:?}");
    for a in &attempts {
        let finished = a.finished_ms.expect("every attempt ended");
        assert!(finished <= a.lease_until * 1000, "attempt {} ended inside its lease: {a:?}", a.attempt);
    }
    for pair in attempts.windows(2) {
        assert!(pair[0].finished_ms.unwrap() <= pair[1].started_ms, "attempts never overlap: {attempts:?}");
    }
    assert_eq!(attempts[0].outcome.as_deref(), Some("retry"));
    assert_eq!(attempts.last().unwrap().outcome.as_deref(), Some("delivered"));
    let last_error: Option<String> =
        server::sql_scalar!(&env.state.db, "SELECT last_error FROM outbox WHERE id = $1", &id).unwrap();
    assert!(last_error.is_none(), "delivered clears the error");
}

#[tokio::test]
async fn a_revoke_during_delivery_lets_it_finish_and_the_cancellation_follows_it() {
    let env = start_with(&[
        ("EREFERRAL_OUTBOX_POLL_MILLIS", "100"),
        ("EREFERRAL_OUTBOX_CONFIRM_WAIT_MILLIS", "0"),
        ("EREFERRAL_OUTBOUND_TIMEOUT_SECS", "5"),
    ])
    .await;
    // The EHR is slow to take in the referral (2.5 s), and quick with anything else.
    env.sandbox.set_faults(Faults { slow_notify_add_millis: 2500, ..Faults::default() });
    submitted(&env, "pat-2").await;
    eventually("the notification is in flight", 20, || async {
        let leased: i64 = server::sql_scalar!(&env.state.db,
            "SELECT COUNT(*) FROM outbox WHERE event = 'notify-add-service-request' AND status = 'pending' AND lease_until > $1",
            server::smart::now_unix()
        )
        .unwrap();
        (leased == 1).then_some(())
    })
    .await;
    let sr: String = server::sql_scalar!(&env.state.db, "SELECT id FROM referrals").unwrap();
    let token = api_token(&env, "system/Bundle.c").await;
    let body =
        revoke_message("revoke-service-request", server::config::DEFAULT_EVENT_SYSTEM, &format!("ServiceRequest/{sr}"));
    let (status, outcome) = post_message(&env, Some(&token), body.to_string().as_bytes()).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{outcome}");
    // The message in flight was not pulled away from its worker…
    let (status, body) = status_of(&env, "notify-add-service-request").await;
    assert_eq!(status, "pending", "still being delivered");
    assert!(!body.is_empty(), "its body goes when its attempt ends");

    let delivered = eventually("both messages delivered", 30, || async {
        let statuses: Vec<(String, String, String)> =
            server::sql_all!(&env.state.db, "SELECT event, status, body FROM outbox ORDER BY seq").unwrap();
        statuses.iter().all(|(_, s, _)| s == "delivered").then_some(statuses)
    })
    .await;
    assert_eq!(delivered.len(), 2);
    assert_eq!(delivered[0].2, "", "the referral's message body (PHI) went when its attempt ended");
    assert!(!delivered[1].2.contains("Ndiaye"), "the cancellation carries ids and status only");
    // …and the EHR received the referral before its cancellation.
    let events: Vec<String> = env.sandbox.received_messages().into_iter().map(|m| m.event).collect();
    assert_eq!(events, ["notify-add-service-request", "notify-update-status"]);
}
