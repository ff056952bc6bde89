//! The referral wizard end to end over HTTP, as a browser without scripts uses it: plain form
//! posts, 303 redirects, server-rendered pages. Real server, real sandbox EHR, real database.

mod common;
use common::*;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn a_launch_lands_on_the_service_step_with_the_catalogue() {
    let env = start().await;
    let (_, body) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    assert!(body.contains("Choose the service"), "the first step");
    assert!(body.contains("data-testid=\"progress-review\""), "the progress indicator lists every step");
    assert!(body.matches("class=\"service").count() >= 6, "the catalogue is listed");
    assert!(body.contains("Amelia Jeanne Tremblay"));
    assert!(body.contains("<form id=\"step-form\" method=\"post\""), "a plain HTML form");
}

#[tokio::test]
async fn the_service_search_filters_by_words_type_and_availability() {
    let env = start().await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    let (_, all) = l.get(&env, "/service").await;
    let (_, tobacco) = l.get(&env, "/service?q=smoking").await;
    assert!(tobacco.matches("data-testid=\"service-svc-").count() < all.matches("data-testid=\"service-svc-").count());
    assert!(tobacco.to_lowercase().contains("smok"));
    let (_, accepting) = l.get(&env, "/service?accepting=true").await;
    assert!(!accepting.contains("Not accepting referrals"), "closed services are filtered out");
    assert!(all.contains("Not accepting referrals"), "the catalogue has a closed service");
    let (_, none) = l.get(&env, "/service?q=zzzzqqq").await;
    assert!(none.contains("No service matches your search."));
}

#[tokio::test]
async fn a_referral_completes_with_plain_form_posts_and_is_stored_whole() {
    let env = start().await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    fill_valid_referral(&env, &l).await;
    let r = l.upload(&env, "lab results.pdf", b"%PDF-1.7\nfake but signed like a PDF".to_vec()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, review) = l.get(&env, "/review").await;
    assert!(review.contains("lab results.pdf"));
    assert!(review.contains("Prediabetes, HbA1c 6.2%"));
    let to = l.post_see_other(&env, "/do/submit", &[]).await;
    assert!(to.ends_with("/done"), "{to}");
    let (_, done) = l.get(&env, "/done").await;
    assert!(done.contains("Referral sent"));
    assert!(done.contains("data-outcome=\"submitted\""));
    assert!(done.contains("ER-"), "the referral number is shown");

    assert_eq!(count(&env, "SELECT COUNT(*) FROM referrals").await, 1);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM referral_documents").await, 1);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM outbox WHERE event = 'notify-add-service-request'").await, 1);
    let (sr, task, consent): (String, String, String) = first_referral(&env).await;
    let sr: Value = serde_json::from_str(&sr).unwrap();
    let task: Value = serde_json::from_str(&task).unwrap();
    let consent: Value = serde_json::from_str(&consent).unwrap();
    // References to the EHR's resources are absolute on the EHR's FHIR base.
    let on_ehr = |r: &str| format!("{}/{r}", env.sandbox.fhir_base());
    assert_eq!(sr["subject"]["reference"], on_ehr("Patient/pat-1"), "the referral is for the launched patient");
    assert_eq!(task["for"]["reference"], on_ehr("Patient/pat-1"));
    assert_eq!(consent["patient"]["reference"], on_ehr("Patient/pat-1"));
    assert_eq!(sr["code"]["coding"][0]["code"], "736379004");
    assert_eq!(sr["reasonCode"][0]["text"], "Prediabetes, HbA1c 6.2%");
    assert_eq!(sr["requester"]["reference"], on_ehr("Practitioner/prac-1"));
    assert_eq!(task["status"], "requested");
    assert_eq!(consent["provision"]["type"], "permit");
    let infos: Vec<&str> =
        sr["supportingInfo"].as_array().unwrap().iter().map(|r| r["reference"].as_str().unwrap()).collect();
    assert_eq!(infos.len(), 2, "the Consent and the attachment's DocumentReference");
    // After submission the wizard is closed: posts land on the outcome.
    let to = l.post_see_other(&env, "/do/step/details", &[("reason", "changed"), ("nav", "next")]).await;
    assert!(to.ends_with("/done"));
}

#[tokio::test]
async fn a_double_submit_creates_one_referral() {
    let env = start().await;
    let (l, _) = launched(&env, launch_request("pat-2", "Practitioner/prac-1")).await;
    fill_valid_referral(&env, &l).await;
    let (a, b, c) =
        tokio::join!(l.post(&env, "/do/submit", &[]), l.post(&env, "/do/submit", &[]), l.post(&env, "/do/submit", &[]));
    for r in [a, b, c] {
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(r.headers()["location"].to_str().unwrap().ends_with("/done"));
    }
    // A retry long after (a reload of the POST) also finds the same referral.
    l.post_see_other(&env, "/do/submit", &[]).await;
    assert_eq!(count(&env, "SELECT COUNT(*) FROM referrals").await, 1);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM outbox").await, 1);
}

#[tokio::test]
async fn invalid_input_is_kept_and_explained_next_to_its_field() {
    let env = start().await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    let to = l
        .post_see_other(
            &env,
            "/do/step/details",
            &[("reason", "  "), ("notes", "Takes metformin <500 mg>"), ("nav", "next")],
        )
        .await;
    assert!(to.ends_with("/details#field-reason"), "{to}");
    let (_, page) = l.get(&env, "/details").await;
    assert!(page.contains("Enter the reason for referral."));
    assert!(page.contains("aria-invalid=\"true\""));
    assert!(page.contains("Takes metformin &lt;500 mg&gt;</textarea>"), "what was typed is kept (and escaped)");
    assert!(page.contains("data-testid=\"error-summary\""));
    // Going back with the same invalid input still keeps it.
    let to = l
        .post_see_other(&env, "/do/step/details", &[("reason", ""), ("notes", "Second thoughts"), ("nav", "back")])
        .await;
    assert!(to.ends_with("/service"));
    let (_, page) = l.get(&env, "/details").await;
    assert!(page.contains("Second thoughts"));
    // Jumping ahead past an invalid step is refused; jumping back is not.
    let to = l.post_see_other(&env, "/do/step/details", &[("reason", ""), ("nav", "goto:review")]).await;
    assert!(to.contains("/details"), "{to}");
    // Text cannot break out of its field.
    l.post_see_other(&env, "/do/step/details", &[("reason", "</textarea><b id=\"injected\">x</b>"), ("nav", "back")])
        .await;
    let (_, page) = l.get(&env, "/details").await;
    assert!(!page.contains("<b id=\"injected\">"));
}

#[tokio::test]
async fn the_chosen_service_must_accept_referrals_and_offer_the_code() {
    let env = start().await;
    let (l, body) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    let item =
        body.split("<li ").find(|li| li.contains("class=\"service closed\"")).expect("a closed service is listed");
    let closed =
        item.split("data-testid=\"service-").nth(1).and_then(|rest| rest.split('"').next()).unwrap().to_string();
    let to = l
        .post_see_other(
            &env,
            "/do/step/service",
            &[("pick", &format!("{closed}::http://snomed.info/sct|1")), ("nav", "next")],
        )
        .await;
    assert!(to.contains("/service#field-service_id"), "{to}");
    let (_, page) = l.get(&env, "/service").await;
    assert!(page.contains("is not accepting referrals at the moment"));
    let to = l
        .post_see_other(
            &env,
            "/do/step/service",
            &[("pick", "svc-diabetes-prevention::http://snomed.info/sct|000"), ("nav", "next")],
        )
        .await;
    assert!(to.contains("#field-code"), "{to}");
}

#[tokio::test]
async fn posts_from_other_sites_or_browsers_are_refused() {
    let env = start().await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    let evil = env
        .http
        .post(l.url(&env, "/do/step/details"))
        .header("cookie", l.jar.header())
        .header("origin", "https://evil.example")
        .form(&[("reason", "injected"), ("nav", "next")])
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status(), StatusCode::FORBIDDEN);
    let cross = env
        .http
        .post(l.url(&env, "/do/cancel"))
        .header("cookie", l.jar.header())
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    // A browser without the launch's cookie (the launching one has shown it).
    let other = env
        .http
        .post(l.url(&env, "/do/step/details"))
        .header("origin", env.app_url.origin().ascii_serialization())
        .form(&[("reason", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::GONE);
    assert!(other.text().await.unwrap().contains("Launch the app again from your EHR"));
    let (_, page) = l.get(&env, "/details").await;
    assert!(!page.contains("injected"));
    assert_eq!(count(&env, "SELECT COUNT(*) FROM referral_drafts WHERE status = 'editing'").await, 1);
}

#[tokio::test]
async fn a_refused_consent_blocks_sending() {
    let env = start().await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    fill_valid_referral(&env, &l).await;
    l.post_see_other(
        &env,
        "/do/step/consent",
        &[("consent_decision", "deny"), ("consent_by", "patient"), ("consent_date", "2026-11-01")],
    )
    .await;
    let (_, review) = l.get(&env, "/review").await;
    assert!(review.contains("data-testid=\"submit-blockers\""));
    assert!(review.contains("has not agreed"));
    let to = l.post_see_other(&env, "/do/submit", &[]).await;
    assert!(to.contains("/consent"), "{to}");
    assert_eq!(count(&env, "SELECT COUNT(*) FROM referrals").await, 0);
}

#[tokio::test]
async fn a_related_person_can_give_consent() {
    let env = start().await;
    let (l, _) = launched(&env, launch_request("pat-5", "Practitioner/prac-1")).await;
    fill_valid_referral(&env, &l).await;
    let to = l
        .post_see_other(
            &env,
            "/do/step/consent",
            &[
                ("consent_decision", "permit"),
                ("consent_by", "related"),
                ("consent_date", "2026-11-01"),
                ("nav", "next"),
            ],
        )
        .await;
    assert!(to.contains("/consent#field-consent_related_name"), "{to}");
    l.post_see_other(
        &env,
        "/do/step/consent",
        &[
            ("consent_decision", "permit"),
            ("consent_by", "related"),
            ("consent_related_name", "Fiona O'Brien"),
            ("consent_related_relationship", "PRN"),
            ("consent_date", "2026-11-01"),
            ("nav", "next"),
        ],
    )
    .await;
    l.post_see_other(&env, "/do/submit", &[]).await;
    let consent = first_referral(&env).await.2;
    let consent: Value = serde_json::from_str(&consent).unwrap();
    assert_eq!(consent["contained"][0]["resourceType"], "RelatedPerson");
    assert_eq!(consent["contained"][0]["name"][0]["text"], "Fiona O'Brien");
}

#[tokio::test]
async fn cancelling_records_the_abandonment_and_sends_nothing() {
    let env = start().await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    l.post_see_other(&env, "/do/step/details", &[("reason", "Knee pain"), ("nav", "next")]).await;
    let (_, confirm) = l.get(&env, "/cancel").await;
    assert!(confirm.contains("Cancel this referral?"));
    let to = l.post_see_other(&env, "/do/cancel", &[("reason", "cancel")]).await;
    assert!(to.ends_with("/done"));
    let (_, done) = l.get(&env, "/done").await;
    assert!(done.contains("Referral not sent"));
    assert!(done.contains("data-outcome=\"abandoned\""));
    assert!(done.contains("You can now close this window or tab."));
    assert_eq!(count(&env, "SELECT COUNT(*) FROM referral_drafts WHERE status = 'cancelled'").await, 1);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM outbox").await, 0);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM referrals").await, 0);
    assert!(env.sandbox.received_messages().is_empty(), "nothing reached the EHR");
    // A cancelled draft is not offered to a later launch.
    let (_, again) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    assert!(!again.contains("data-testid=\"resume-offer\""));
}

#[tokio::test]
async fn a_new_launch_offers_to_resume_an_unsubmitted_draft() {
    let env = start().await;
    let (first, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    first.post_see_other(&env, "/do/step/service", &[("pick", DIABETES_PICK), ("nav", "next")]).await;
    first.post_see_other(&env, "/do/step/details", &[("reason", "Weight gain and fatigue"), ("nav", "next")]).await;
    first.upload(&env, "scan.png", b"\x89PNG\r\n\x1a\nimage".to_vec()).await;

    // Another patient, or another user, is never offered this draft.
    let (_, other_patient) = launched(&env, launch_request("pat-2", "Practitioner/prac-1")).await;
    assert!(!other_patient.contains("data-testid=\"resume-offer\""));
    let (_, other_user) = launched(&env, launch_request("pat-1", "Practitioner/prac-2")).await;
    assert!(!other_user.contains("data-testid=\"resume-offer\""));

    let (second, page) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    assert!(page.contains("data-testid=\"resume-offer\""), "same patient and user: offered");
    assert!(page.contains("Weight gain and fatigue"));
    let draft_id: String =
        server::sql_scalar!(&env.state.db, "SELECT id FROM referral_drafts WHERE session_id = $1", first.id()).unwrap();
    let to = second.post_see_other(&env, &format!("/do/resume/{draft_id}"), &[]).await;
    assert!(to.ends_with("/attachments"), "resumes where the clinician left off: {to}");
    let (_, attachments) = second.get(&env, "/attachments").await;
    assert!(attachments.contains("scan.png"), "attachments come along");
    let (_, details) = second.get(&env, "/details").await;
    assert!(details.contains("Weight gain and fatigue"));
    let (_, old) = first.get(&env, "").await;
    assert!(old.contains("continues in another window"));
    // The other patient's launch cannot take it.
    let (third, _) = launched(&env, launch_request("pat-3", "Practitioner/prac-1")).await;
    third.post_see_other(&env, &format!("/do/resume/{draft_id}"), &[]).await;
    let (_, mine) = second.get(&env, "/details").await;
    assert!(mine.contains("Weight gain and fatigue"), "still with the second launch");
}

#[tokio::test]
async fn starting_fresh_hides_the_offer_and_drafts_expire() {
    let env = start().await;
    let (first, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    first.post_see_other(&env, "/do/step/details", &[("reason", "Old reason"), ("nav", "back")]).await;
    let (second, page) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    assert!(page.contains("data-testid=\"resume-offer\""));
    second.post_see_other(&env, "/do/fresh", &[]).await;
    let (_, page) = second.get(&env, "/service").await;
    assert!(!page.contains("data-testid=\"resume-offer\""));
    let far = server::smart::now_unix() + 8 * 24 * 3600;
    let purged = server::store::drafts::purge_expired(&env.state.db, far).await.unwrap();
    assert_eq!(purged, 2);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM draft_attachments").await, 0);
}

#[tokio::test]
async fn the_ehrs_draft_prefills_the_referral() {
    let env = start().await;
    let mut req = launch_request("pat-1", "Practitioner/prac-1");
    req.draft_service_request_id = Some("draft-1".into());
    let (l, page) = launched(&env, req).await;
    assert!(page.contains("pre-filled from the draft in your EHR"));
    let checked = format!("value=\"{DIABETES_PICK}\" checked");
    assert!(page.contains(&checked), "the draft's code picks the service");
    let (_, details) = l.get(&env, "/details").await;
    assert!(details.contains("Prediabetes, HbA1c 6.2% (2026-10-20)"));
    assert!(details.contains("Patient prefers French-language programs."));
    fill_consent_and_submit_from(&env, &l).await;
    let sr = first_referral(&env).await.0;
    let sr: Value = serde_json::from_str(&sr).unwrap();
    let ids: Vec<&str> = sr["identifier"].as_array().unwrap().iter().filter_map(|i| i["value"].as_str()).collect();
    assert!(ids.contains(&"EHR-SR-000123"), "the EHR draft's identifier is echoed: {ids:?}");
}

async fn fill_consent_and_submit_from(env: &TestEnv, l: &Launched) {
    l.post_see_other(
        env,
        "/do/step/consent",
        &[("consent_decision", "permit"), ("consent_by", "patient"), ("consent_date", "2026-11-01"), ("nav", "next")],
    )
    .await;
    let to = l.post_see_other(env, "/do/submit", &[]).await;
    assert!(to.ends_with("/done"), "{to}");
}

#[tokio::test]
async fn a_delegate_must_name_the_authorizing_clinician() {
    let env = start().await;
    let (l, _) = launched(&env, launch_request("pat-1", "PractitionerRole/role-3")).await;
    fill_valid_referral_until_routing(&env, &l).await;
    let to = l.post_see_other(&env, "/do/step/routing", &[("authorizer", "self"), ("nav", "next")]).await;
    assert!(to.contains("/routing#field-authorizer"), "{to}");
    let to = l
        .post_see_other(
            &env,
            "/do/step/routing",
            &[
                ("authorizer", "other"),
                ("authorizer_name", "Dr. Rajesh Patel"),
                ("authorizer_licence", "CPSO 12345"),
                ("nav", "next"),
            ],
        )
        .await;
    assert!(to.ends_with("/review"), "{to}");
    l.post_see_other(&env, "/do/submit", &[]).await;
    let sr = first_referral(&env).await.0;
    let sr: Value = serde_json::from_str(&sr).unwrap();
    assert_eq!(sr["requester"]["display"], "Dr. Rajesh Patel");
    assert_eq!(sr["requester"]["identifier"]["value"], "CPSO 12345");
    let submitter =
        sr["extension"].as_array().unwrap().iter().find(|e| e["url"].as_str().unwrap().ends_with("/submitter"));
    assert_eq!(
        submitter.unwrap()["valueReference"]["reference"],
        format!("{}/PractitionerRole/role-3", env.sandbox.fhir_base())
    );
}

async fn fill_valid_referral_until_routing(env: &TestEnv, l: &Launched) {
    l.post_see_other(env, "/do/step/service", &[("pick", DIABETES_PICK), ("nav", "next")]).await;
    l.post_see_other(env, "/do/step/details", &[("reason", "Prediabetes"), ("nav", "next")]).await;
    l.post_see_other(
        env,
        "/do/step/consent",
        &[("consent_decision", "permit"), ("consent_by", "patient"), ("consent_date", "2026-11-01"), ("nav", "next")],
    )
    .await;
}

#[tokio::test]
async fn attachments_are_checked_by_content_size_and_number() {
    let env = start_with(&[("EREFERRAL_MAX_ATTACHMENT_BYTES", "2048"), ("EREFERRAL_MAX_ATTACHMENTS", "2")]).await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    l.upload(&env, "notes.pdf", b"<html>not a pdf</html>".to_vec()).await;
    let (_, page) = l.get(&env, "/attachments").await;
    assert!(page.contains("is not a PDF, PNG or JPEG file"));
    let big = [b"%PDF-1.4".as_slice(), &vec![b'x'; 4096]].concat();
    let r = l.upload(&env, "big.pdf", big).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = l.get(&env, "/attachments").await;
    assert!(page.contains("is larger than 1 MB") || page.contains("larger than"), "too large is explained");
    l.upload(&env, "a.pdf", b"%PDF-1.4 a".to_vec()).await;
    l.upload(&env, "b.jpg", vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 1]).await;
    l.upload(&env, "c.pdf", b"%PDF-1.4 c".to_vec()).await;
    let (_, page) = l.get(&env, "/attachments").await;
    assert!(page.contains("at most 2 attachments"));
    assert_eq!(count(&env, "SELECT COUNT(*) FROM draft_attachments").await, 2);
    let draft: String = server::sql_scalar!(&env.state.db, "SELECT draft_id FROM draft_attachments LIMIT 1").unwrap();
    let files = server::store::drafts::attachments(&env.state.db, &draft).await.unwrap();
    let id = files.iter().find(|f| f.filename == "a.pdf").expect("a.pdf attached").id.clone();
    l.post_see_other(&env, &format!("/do/detach/{id}"), &[]).await;
    assert_eq!(count(&env, "SELECT COUNT(*) FROM draft_attachments").await, 1);
}

#[tokio::test]
async fn autosave_keeps_typing_without_moving_and_stops_once_sent() {
    let env = start().await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    let r = l
        .post(&env, "/do/autosave/details", &[("reason", "Typed but not submitted"), ("notes", "half a thought")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["revision"], 1);
    let (_, page) = l.get(&env, "").await;
    assert!(page.contains("Choose the service"), "autosave does not move the wizard");
    let (_, details) = l.get(&env, "/details").await;
    assert!(details.contains("Typed but not submitted") && details.contains("half a thought"));
    l.post_see_other(&env, "/do/cancel", &[]).await;
    let r = l.post(&env, "/do/autosave/details", &[("reason", "late")]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_done_page_carries_what_closing_needs_for_each_launch_mode() {
    let env = start().await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    l.post_see_other(&env, "/do/cancel", &[]).await;
    let (_, done) = l.get(&env, "/done").await;
    let ehr_origin = env.sandbox.base_url().origin().ascii_serialization();
    assert!(done.contains(&format!("data-messaging-origin=\"{ehr_origin}\"")), "web messaging to the EHR's origin");
    assert!(done.contains("data-messaging-handle=\""));
    assert!(done.contains(&format!("data-ehr-origins=\"{ehr_origin}\"")));

    let mut link = launch_request("pat-2", "Practitioner/prac-1");
    link.mode = sandbox::LaunchMode::Link;
    link.web_messaging = false;
    let (l, _) = launched(&env, link).await;
    l.post_see_other(&env, "/do/cancel", &[]).await;
    let (_, done) = l.get(&env, "/done").await;
    assert!(!done.contains("data-messaging-handle"), "no handle without web messaging");
    assert!(done.contains("data-testid=\"return-link\""), "link mode offers the way back");
    assert!(done.contains(&format!("href=\"{ehr_origin}/")), "to the registered EHR origin");
}

#[tokio::test]
async fn two_uploads_at_once_cannot_pass_the_attachment_limit() {
    let env = start_with(&[("EREFERRAL_MAX_ATTACHMENTS", "1")]).await;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    let pdf = |n: u8| format!("%PDF-1.7\nfile {n}").into_bytes();
    let (a, b) = tokio::join!(l.upload(&env, "a.pdf", pdf(1)), l.upload(&env, "b.pdf", pdf(2)));
    assert_eq!((a.status(), b.status()), (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER));
    assert_eq!(count(&env, "SELECT COUNT(*) FROM draft_attachments").await, 1, "the count and the insert are one step");
    let (_, page) = l.get(&env, "/attachments").await;
    assert!(page.contains("at most 1 attachments") || page.contains("at most 1"), "the loser is told why");
}

#[tokio::test]
async fn a_referral_number_collision_draws_another_number() {
    let env = start().await;
    let db = &env.state.db;
    server::sql_exec!(
        db,
        "INSERT INTO referral_numbers (number, draft_id, created_at) VALUES ('ER-AAAA-AAAA', 'someone-else', 0)",
    )
    .unwrap();
    let mut draws = ["ER-AAAA-AAAA", "ER-BBBB-BBBB"].into_iter().map(str::to_string);
    let n = server::referral::number::reserve(db, "draft-x", 1, || draws.next().unwrap()).await.unwrap();
    assert_eq!(n, "ER-BBBB-BBBB", "the taken number was skipped, not a failure");
    let again =
        server::referral::number::reserve(db, "draft-x", 2, || panic!("a retried submit draws nothing")).await.unwrap();
    assert_eq!(again, n, "a retried submit keeps its draft's number");
    // A real submit reserves its number the same way and records it.
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    fill_valid_referral(&env, &l).await;
    l.post_see_other(&env, "/do/submit", &[]).await;
    let (number, reserved): (String, i64) = server::sql_one!(db,
        "SELECT r.referral_number, (SELECT COUNT(*) FROM referral_numbers n WHERE n.number = r.referral_number AND n.draft_id = r.draft_id) FROM referrals r",
    )
    .unwrap();
    assert!(number.starts_with("ER-"));
    assert_eq!(reserved, 1);
}

#[tokio::test]
async fn a_submit_keeps_a_number_its_draft_already_holds() {
    // A number reserved for the draft earlier (a submit that failed after reserving it, or an
    // older version that reserved first): the submit's fresh draw is not held, and the referral
    // gets the draft's number instead of a second one.
    let env = start().await;
    let db = &env.state.db;
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    fill_valid_referral(&env, &l).await;
    let draft: String =
        server::sql_scalar!(db, "SELECT id FROM referral_drafts WHERE session_id = $1", l.id()).unwrap();
    server::sql_exec!(
        db,
        "INSERT INTO referral_numbers (number, draft_id, created_at) VALUES ('ER-KEPT-2345', $1, 0)",
        &draft
    )
    .unwrap();
    l.post_see_other(&env, "/do/submit", &[]).await;
    let numbers: Vec<(String,)> = server::sql_all!(db, "SELECT referral_number FROM referrals").unwrap();
    assert_eq!(numbers, [("ER-KEPT-2345".to_string(),)]);
    let held: i64 =
        server::sql_scalar!(db, "SELECT COUNT(*) FROM referral_numbers WHERE draft_id = $1", &draft).unwrap();
    assert_eq!(held, 1, "no second number was reserved for the draft");
}
