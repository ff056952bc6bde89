//! FHIR reads (scopes, 401/403/404, faults), `$process-message` and the EHR pages.

mod common;

use std::time::Duration;

use common::*;
use sandbox::{Faults, ProcessMessageFault, ReadFault, STATIC_DEV_TOKEN};
use serde_json::{json, Value};

fn message(bundle_id: &str, header_id: &str) -> Value {
    json!({
        "resourceType": "Bundle",
        "id": bundle_id,
        "type": "message",
        "timestamp": "2026-11-02T10:00:00-05:00",
        "entry": [
            {"fullUrl": format!("urn:uuid:{header_id}"), "resource": {
                "resourceType": "MessageHeader", "id": header_id,
                "eventCoding": {"system": "https://ehealthontario.ca/fhir/CodeSystem/message-event-code", "code": "notify-add-service-request"},
                "source": {"endpoint": "http://localhost:3000/fhir"},
                "focus": [{"reference": "ServiceRequest/sr-1"}]
            }},
            {"resource": {"resourceType": "ServiceRequest", "id": "sr-1", "status": "active", "intent": "order", "subject": {"reference": "Patient/pat-2"}}},
            {"resource": {"resourceType": "Patient", "id": "pat-2", "gender": "female", "name": [{"use": "official", "family": "Ndiaye-Côté", "given": ["Zoë"]}]}}
        ]
    })
}

async fn post_message(
    sb: &sandbox::SandboxHandle,
    token: Option<&str>,
    body: &Value,
    timeout: Duration,
) -> Result<(u16, Value), reqwest::Error> {
    let mut req = http()
        .post(format!("{}/$process-message", sb.fhir_base()))
        .header("content-type", "application/fhir+json")
        .timeout(timeout)
        .body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await.unwrap_or(Value::Null)))
}

#[tokio::test]
async fn fhir_read_requires_a_live_token_with_scope() {
    let sb = spawn().await;
    let resp = http().get(format!("{}/Patient/pat-1", sb.fhir_base())).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    let oo: Value = resp.json().await.unwrap();
    assert_eq!(oo["resourceType"], "OperationOutcome");
    let resp = http().get(format!("{}/Patient/pat-1", sb.fhir_base())).bearer_auth("made-up").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);

    let at = backend_token(&sb, "system/Practitioner.rs").await;
    let get = |path: String| http().get(path).bearer_auth(at.clone()).send();
    assert_eq!(get(format!("{}/Practitioner/prac-2", sb.fhir_base())).await.unwrap().status().as_u16(), 200);
    assert_eq!(get(format!("{}/Patient/pat-1", sb.fhir_base())).await.unwrap().status().as_u16(), 403);
    assert_eq!(get(format!("{}/Practitioner/nope", sb.fhir_base())).await.unwrap().status().as_u16(), 404);
    assert_eq!(get(format!("{}/Observation/x", sb.fhir_base())).await.unwrap().status().as_u16(), 404);
}

#[tokio::test]
async fn patient_read_faults_and_identifier_search() {
    let sb = spawn().await;
    let at = backend_token(&sb, "system/Patient.rs").await;
    let read = || http().get(format!("{}/Patient/pat-1", sb.fhir_base())).bearer_auth(at.clone()).send();
    assert_eq!(read().await.unwrap().status().as_u16(), 200);
    sb.set_faults(Faults { patient_read: ReadFault::NotFound, ..Faults::default() });
    assert_eq!(read().await.unwrap().status().as_u16(), 404);
    sb.set_faults(Faults { patient_read: ReadFault::ServerError, ..Faults::default() });
    assert_eq!(read().await.unwrap().status().as_u16(), 500);
    sb.set_faults(Faults::default());
    let bundle: Value = http()
        .get(format!("{}/Patient", sb.fhir_base()))
        .query(&[("identifier", "https://fhir.infoway-inforoute.ca/NamingSystem/ca-on-patient-hcn|1234567890")])
        .bearer_auth(&at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bundle["total"], 1);
    assert_eq!(bundle["entry"][0]["resource"]["id"], "pat-2");
}

#[tokio::test]
async fn process_message_stores_and_acknowledges_duplicates_once() {
    let sb = spawn().await;
    let t = Duration::from_secs(5);
    let (status, oo) = post_message(&sb, None, &message("b-1", "h-1"), t).await.unwrap();
    assert_eq!(status, 401, "{oo}");
    let (status, oo) = post_message(&sb, Some(STATIC_DEV_TOKEN), &message("b-1", "h-1"), t).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(oo["issue"][0]["severity"], "information");
    let at = backend_token(&sb, "system/Bundle.c").await;
    let (status, oo) = post_message(&sb, Some(&at), &message("b-1", "h-1"), t).await.unwrap();
    assert_eq!(status, 200);
    assert!(oo["issue"][0]["diagnostics"].as_str().unwrap().contains("duplicate acknowledged"));
    let (status, _) = post_message(&sb, Some(&at), &message("b-2", "h-1"), t).await.unwrap();
    assert_eq!(status, 200, "same MessageHeader id is a duplicate too");
    let msgs = sb.received_messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].times_received, 3);
    assert_eq!(msgs[0].event, "notify-add-service-request");
    assert_eq!(msgs[0].patient.as_deref(), Some("Zoë Ndiaye-Côté"));
    assert_eq!(msgs[0].message_header_id, "h-1");

    let inbox = http().get(sb.base_url().join("inbox").unwrap()).send().await.unwrap().text().await.unwrap();
    assert!(inbox.contains("Zoë Ndiaye-Côté") && inbox.contains("/inbox/b-1"));
    let raw: Value = http().get(sb.base_url().join("inbox/b-1").unwrap()).send().await.unwrap().json().await.unwrap();
    assert_eq!(raw["id"], "b-1");

    for bad in [
        json!({"resourceType": "Bundle", "id": "x", "type": "collection", "entry": []}),
        json!({"resourceType": "Patient"}),
        json!({"resourceType": "Bundle", "id": "x", "type": "message", "entry": [{"resource": {"resourceType": "MessageHeader"}}]}),
    ] {
        let (status, oo) = post_message(&sb, Some(STATIC_DEV_TOKEN), &bad, t).await.unwrap();
        assert_eq!(status, 400);
        assert_eq!(oo["issue"][0]["severity"], "error");
        assert_eq!(oo["issue"][0]["code"], "invalid");
    }
    let resp = http()
        .post(format!("{}/$process-message", sb.fhir_base()))
        .header("content-type", "application/json")
        .bearer_auth(STATIC_DEV_TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test]
async fn process_message_faults() {
    let sb = spawn().await;
    let t = Duration::from_secs(5);
    sb.set_faults(Faults { process_message: ProcessMessageFault::ServerError, ..Faults::default() });
    let (status, oo) = post_message(&sb, Some(STATIC_DEV_TOKEN), &message("f-1", "fh-1"), t).await.unwrap();
    assert_eq!(status, 500);
    assert_eq!(oo["resourceType"], "OperationOutcome");
    sb.set_faults(Faults { process_message: ProcessMessageFault::Reject, ..Faults::default() });
    let (status, oo) = post_message(&sb, Some(STATIC_DEV_TOKEN), &message("f-1", "fh-1"), t).await.unwrap();
    assert_eq!(status, 422);
    assert_eq!(oo["issue"][0]["severity"], "error");
    assert_eq!(oo["issue"][0]["code"], "business-rule");
    assert_eq!(oo["issue"][0]["details"]["text"], "Referral rejected by sandbox EHR: patient not found in EHR");
    sb.set_faults(Faults { process_message: ProcessMessageFault::Timeout, ..Faults::default() });
    let err = post_message(&sb, Some(STATIC_DEV_TOKEN), &message("f-1", "fh-1"), Duration::from_millis(400))
        .await
        .expect_err("the sandbox must not answer in time");
    assert!(err.is_timeout());
    assert!(sb.received_messages().is_empty(), "nothing stored while faulty");
    sb.set_faults(Faults::default());
    let (status, _) = post_message(&sb, Some(STATIC_DEV_TOKEN), &message("f-1", "fh-1"), t).await.unwrap();
    assert_eq!(status, 200, "the retry with the same ids is accepted");
    assert_eq!(sb.received_messages().len(), 1);
    assert_eq!(sb.received_messages()[0].times_received, 1);
}

#[tokio::test]
async fn ehr_pages_launches_and_admin() {
    let sb = spawn().await;
    let resp = http().get(sb.base_url()).send().await.unwrap();
    let csp = resp.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("frame-src 'self' http://localhost:3000"), "{csp}");
    let html = resp.text().await.unwrap();
    for id in [
        "refer-modal-pat-1",
        "refer-inline-pat-2",
        "refer-link-pat-3",
        "refer-tab-pat-4",
        "opt-web-messaging",
        "ehr-events",
    ] {
        assert!(html.contains(&format!("data-testid=\"{id}\"")), "missing {id}");
    }
    assert!(html.contains("Łukasz Wójcik"));
    assert!(html.contains("O&#39;Brien-Singh") && html.contains("&lt;Rory&gt;"), "names are escaped");
    assert!(!html.contains("<Rory>"));
    assert!(html.contains("const APP_ORIGIN = \"http://localhost:3000\""));

    let returned =
        http().get(sb.base_url().join("?returned=%3Cb%3Ex").unwrap()).send().await.unwrap().text().await.unwrap();
    assert!(returned.contains("Back from the eReferral app") && returned.contains("&lt;b&gt;x"));

    let l: Value = http()
        .post(sb.base_url().join("ehr/launches").unwrap())
        .json(&json!({"patient_id": "pat-1", "user": "PractitionerRole/role-3", "mode": "inline", "use_draft": true, "faults": {"token": "server_error"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = l["launch_id"].as_str().unwrap();
    assert!(l["launch_url"].as_str().unwrap().contains(&format!("launch={id}")));
    assert!(l["messaging_handle"].is_string());
    let bad = http()
        .post(sb.base_url().join("ehr/launches").unwrap())
        .json(&json!({"patient_id": "nobody"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);

    let set: Value = http()
        .post(sb.base_url().join("admin/faults").unwrap())
        .json(&json!({"process_message": "reject"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(set["process_message"], "reject");
    let resp = http()
        .post(sb.base_url().join("admin/faults").unwrap())
        .form(&[("process_message", "ok"), ("token", "invalid_grant"), ("id_token", "ok"), ("patient_read", "ok")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let now: Value = http()
        .get(sb.base_url().join("admin/faults").unwrap())
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(now["token"], "invalid_grant");
    assert_eq!(http().get(sb.base_url().join("healthz").unwrap()).send().await.unwrap().status().as_u16(), 200);
}
