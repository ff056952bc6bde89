//! The independent FHIR R4 validator (fhir.resources 6.4.0 from PyPI, FHIR 4.0.1) is real, and every kind of
//! referral message and resource the app builds passes it.

mod common;

use common::fhir_validation::{assert_valid_fhir, fhir_errors};
use common::*;
use serde_json::{json, Value};

fn message() -> Value {
    json!({
        "resourceType": "Bundle", "id": "b1", "type": "message", "timestamp": "2026-11-22T10:00:00Z",
        "entry": [
            {"fullUrl": "https://us.example/fhir/MessageHeader/h1", "resource": {
                "resourceType": "MessageHeader", "id": "h1",
                "eventCoding": {"system": "https://ehealthontario.ca/fhir/CodeSystem/message-event-code", "code": "notify-add-service-request"},
                "source": {"endpoint": "https://us.example/fhir/$process-message"},
                "focus": [{"reference": "ServiceRequest/s1"}]}},
            {"fullUrl": "https://us.example/fhir/ServiceRequest/s1", "resource": {
                "resourceType": "ServiceRequest", "id": "s1", "status": "active", "intent": "order",
                "subject": {"reference": "https://ehr.example/fhir/Patient/p1"}, "authoredOn": "2026-11-22T10:00:00Z"}},
            {"fullUrl": "https://ehr.example/fhir/Patient/p1", "resource": {"resourceType": "Patient", "id": "p1", "gender": "unknown"}}
        ]
    })
}

#[test]
fn the_validator_passes_a_valid_message_and_catches_each_kind_of_error() {
    assert_valid_fhir(&[message()]);
    assert!(fhir_errors(&[message(), message()]).is_empty());
    let spoilt: Vec<(&str, Value)> = vec![
        ("unknown element", {
            let mut m = message();
            m["entry"][1]["resource"]["colour"] = json!("blue");
            m
        }),
        ("bad date", {
            let mut m = message();
            m["entry"][1]["resource"]["authoredOn"] = json!("2026-13-45");
            m
        }),
        ("missing intent", {
            let mut m = message();
            m["entry"][1]["resource"].as_object_mut().unwrap().remove("intent");
            m
        }),
        ("first entry not a MessageHeader", {
            let mut m = message();
            m["entry"].as_array_mut().unwrap().swap(0, 2);
            m
        }),
        ("duplicate fullUrl", {
            let mut m = message();
            m["entry"][2]["fullUrl"] = m["entry"][1]["fullUrl"].clone();
            m
        }),
        ("null value", {
            let mut m = message();
            m["entry"][2]["resource"]["birthDate"] = Value::Null;
            m
        }),
        ("empty array", {
            let mut m = message();
            m["entry"][2]["resource"]["name"] = json!([]);
            m
        }),
        ("code outside a required binding", {
            let mut m = message();
            m["entry"][2]["resource"]["gender"] = json!("unspecified");
            m
        }),
        ("a status that does not exist", {
            let mut m = message();
            m["entry"][1]["resource"]["status"] = json!("sent");
            m
        }),
        ("a string where FHIR JSON wants a boolean (pydantic would coerce it)", {
            let mut m = message();
            m["entry"][2]["resource"]["active"] = json!("true");
            m
        }),
        ("a number where FHIR JSON wants a string", {
            let mut m = message();
            m["entry"][1]["resource"]["subject"]["reference"] = json!(7);
            m
        }),
        ("a dateTime with a time but no zone", {
            let mut m = message();
            m["entry"][1]["resource"]["authoredOn"] = json!("2026-11-22T10:00:00");
            m
        }),
        ("an Extension without url", {
            let mut m = message();
            m["entry"][2]["resource"]["extension"] = json!([{"valueString": "x"}]);
            m
        }),
        ("an entry of a message without fullUrl", {
            let mut m = message();
            m["entry"][2].as_object_mut().unwrap().remove("fullUrl");
            m
        }),
        (
            "an R4B-only resource",
            json!({"resourceType": "SubscriptionStatus", "id": "x", "type": "handshake",
            "subscription": {"reference": "Subscription/1"}}),
        ),
    ];
    let all: Vec<Value> = spoilt.iter().map(|(_, m)| m.clone()).collect();
    let errors = fhir_errors(&all);
    for (i, (what, _)) in spoilt.iter().enumerate() {
        assert!(errors.iter().any(|e| e.starts_with(&format!("#{i} "))), "{what} was not caught: {errors:#?}");
    }
}

/// Every stored message (outbox) and referral resource.
async fn stored(env: &TestEnv) -> Vec<Value> {
    let mut out = Vec::new();
    let rows = server::store::outbox::bodies(&env.state.db).await.unwrap();
    out.extend(rows.into_iter().map(|(_, _, b)| serde_json::from_str(&b).unwrap()));
    let rows = server::store::referrals::all_resources(&env.state.db).await.unwrap();
    for (sr, task, consent) in rows {
        for r in [sr, task, consent] {
            out.push(serde_json::from_str(&r).unwrap());
        }
    }
    let docs = server::store::referrals::all_document_references(&env.state.db).await.unwrap();
    out.extend(docs.into_iter().map(|d| serde_json::from_str(&d).unwrap()));
    out
}

#[tokio::test]
async fn every_kind_of_referral_message_is_valid_fhir_r4() {
    let env = start().await;

    // Plain, with an attachment.
    let (l, _) = launched(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    fill_valid_referral(&env, &l).await;
    l.upload(&env, "scan.png", b"\x89PNG\r\n\x1a\nrest of a png".to_vec()).await;
    l.post_see_other(&env, "/do/submit", &[]).await;

    // A related person consented; routing and location given; urgent; a patient with sparse data.
    let (l, _) = launched(&env, launch_request("pat-4", "PractitionerRole/role-1")).await;
    fill_valid_referral(&env, &l).await;
    l.post_see_other(&env, "/do/step/details", &[("reason", "Weight gain"), ("priority", "urgent"), ("nav", "next")])
        .await;
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
    l.post_see_other(
        &env,
        "/do/step/routing",
        &[
            ("routing", "specific-provider"),
            ("routing_note", "Dr. Lee's clinic"),
            ("patient_location", "hospital-inpatient"),
            ("authorizer", "self"),
            ("nav", "next"),
        ],
    )
    .await;
    l.post_see_other(&env, "/do/submit", &[]).await;

    // A delegate submits for another clinician (MessageHeader.sender), patient with non-ASCII name.
    let (l, _) = launched(&env, launch_request("pat-3", "PractitionerRole/role-3")).await;
    l.post_see_other(&env, "/do/step/service", &[("pick", DIABETES_PICK), ("nav", "next")]).await;
    l.post_see_other(&env, "/do/step/details", &[("reason", "Prediabetes"), ("nav", "next")]).await;
    l.post_see_other(
        &env,
        "/do/step/consent",
        &[("consent_decision", "permit"), ("consent_by", "patient"), ("consent_date", "2026-11-01"), ("nav", "next")],
    )
    .await;
    l.post_see_other(
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
    l.post_see_other(&env, "/do/submit", &[]).await;

    // Pre-filled from the EHR's draft: identifiers echoed, basedOn the draft, its requester.
    let mut req = launch_request("pat-1", "Practitioner/prac-1");
    req.draft_service_request_id = Some("draft-1".into());
    let (l, _) = launched(&env, req).await;
    l.post_see_other(
        &env,
        "/do/step/consent",
        &[("consent_decision", "permit"), ("consent_by", "patient"), ("consent_date", "2026-11-01"), ("nav", "next")],
    )
    .await;
    l.post_see_other(&env, "/do/step/routing", &[("authorizer", "draft"), ("nav", "next")]).await;
    let to = l.post_see_other(&env, "/do/submit", &[]).await;
    assert!(to.ends_with("/done"), "{to}");

    let resources = stored(&env).await;
    let messages = resources.iter().filter(|r| r["type"] == "message").count();
    assert_eq!(messages, 4, "one message per referral");
    let senders = resources.iter().filter(|r| r["entry"][0]["resource"].get("sender").is_some()).count();
    assert_eq!(senders, 2, "the delegate's referral and the one authorized by the draft's requester name a sender");
    assert_valid_fhir(&resources);
}
