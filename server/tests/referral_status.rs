//! Clinicians' status pages inside an EHR launch: the launched patient's referrals from the
//! same EHR only, each with its timeline and content; the service's changes show up.

mod common;

use common::*;
use reqwest::StatusCode;
use server::referral::{progress, status_change::StaffAction};

async fn submit(env: &TestEnv, patient: &str, reason: &str) -> (Launched, String, String) {
    let (l, _) = launched(env, launch_request(patient, "Practitioner/prac-1")).await;
    fill_valid_referral(env, &l).await;
    l.post_see_other(env, "/do/step/details", &[("reason", reason), ("nav", "next")]).await;
    l.post_see_other(env, "/do/submit", &[]).await;
    let (id, number): (String, String) =
        server::sql_one!(&env.state.db, "SELECT r.id, r.referral_number FROM referrals r JOIN referral_events e ON e.referral_id = r.id AND e.kind = 'submitted' ORDER BY e.seq DESC LIMIT 1")
            .unwrap();
    (l, id, number)
}

#[tokio::test]
async fn a_clinician_sees_this_patients_referrals_from_this_ehr_and_their_progress() {
    let env = start().await;
    let (mine, id, number) = submit(&env, "pat-1", "Knee pain, pat-1").await;
    let (_, other_patient_id, other_patient_number) = submit(&env, "pat-2", "Reason of pat-2").await;
    let (_, other_ehr_id, other_ehr_number) = submit(&env, "pat-1", "From another EHR").await;
    server::sql_exec!(&env.state.db, "UPDATE referrals SET ehr_id = 'another-ehr' WHERE id = $1", &other_ehr_id)
        .unwrap();

    let (status, list) = mine.get(&env, "/referrals").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains(&number), "{list}");
    assert!(!list.contains(&other_patient_number), "another patient's referral is not listed");
    assert!(!list.contains(&other_ehr_number), "another EHR's referral is not listed");
    assert_eq!(list.matches("data-testid=\"status-row\"").count(), 1);
    assert!(list.contains("Waiting for the service"));
    for stranger in [&other_patient_id, &other_ehr_id] {
        let (status, page) = mine.get(&env, &format!("/referrals/{stranger}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(!page.contains("pat-2") && !page.contains("Reason of pat-2") && !page.contains("From another EHR"));
    }

    // The service accepts and books; the clinician sees both, with the timeline.
    progress::progress(&env.state, &id, &StaffAction::Accept, "Nurse Kim").await.unwrap();
    let book =
        StaffAction::Book { start: "2026-12-03T09:30:00-05:00".into(), minutes: 30, location: "Clinic B".into() };
    progress::progress(&env.state, &id, &book, "Nurse Kim").await.unwrap();
    let (_, list) = mine.get(&env, "/referrals").await;
    assert!(list.contains("Appointment booked"), "{list}");
    assert!(list.contains("in-progress · 5.1.1 Event scheduled"), "the Task and BSeR business status: {list}");
    let (status, page) = mine.get(&env, &format!("/referrals/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Knee pain, pat-1"), "the submitted content, read-only");
    assert!(page.contains("2026-12-03T09:30:00-05:00 · Clinic B"));
    assert_eq!(page.matches("data-testid=\"timeline-event\"").count(), 3, "submitted, accepted, booked");
    assert!(!page.contains("<form"), "nothing to change here");

    // Another browser cannot read it.
    let r = env.http.get(mine.url(&env, "/referrals")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::GONE);
}

#[tokio::test]
async fn a_launch_for_referral_status_opens_the_list() {
    let env = start().await;
    let mut req = launch_request("pat-3", "Practitioner/prac-1");
    req.intent = Some("referral-status".into());
    let (response, session, _, _) = launch(&env, req).await;
    let session = session.expect("launched");
    assert!(session.ends_with("/referrals"), "{session}");
    let body = response.text().await.unwrap();
    assert!(body.contains("No referrals have been sent for this patient"), "{body}");
    assert!(body.contains("Łukasz Wójcik"));
}
