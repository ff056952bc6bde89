//! The `notify-add-service-request` message: a `Bundle` of type `message` whose first entry is
//! the MessageHeader, followed by the ServiceRequest, its process-request Task, the Patient, the
//! Practitioner and PractitionerRole, the target HealthcareService, the Consent, the
//! QuestionnaireResponse when there is one, and a DocumentReference per attachment. Pure: the
//! same input always gives the same bundle, so a retried delivery is byte-for-byte the same
//! message.
//!
//! Our resources get full URLs on our FHIR base, the EHR's (Patient, Practitioner,
//! PractitionerRole) on the EHR's, which is where our resources' absolute references to them
//! already point. Before returning, the builder checks that every reference resolves and that
//! the copies of each fact agree (one patient everywhere, the Task based on this
//! ServiceRequest, the same requester and performer, …) and refuses a bundle that does not.

use super::bundle_check::{check_references, entries, target, BundleError, EntryInfo};
use crate::referral::fhir_build::{ROUTING_OPTION_EXT, SUBMITTER_EXT};
use serde_json::{json, Value};

/// MessageHeader extension: the referral's identifiers (ours, and a requisition when the EHR
/// grouped referrals), so receivers can match messages without reading the payload.
pub const REFERRAL_IDENTIFIER_EXT: &str = "https://ereferral.dev/fhir/StructureDefinition/referral-identifier";

/// Who we are, in `MessageHeader.source`.
#[derive(Debug, Clone, Copy)]
pub struct MessageSource<'a> {
    pub name: &'a str,
    pub software: &'a str,
    pub version: &'a str,
    /// Our `$process-message` URL.
    pub endpoint: &'a str,
}

#[derive(Debug, Clone, Copy)]
pub struct HeaderInput<'a> {
    /// Bundle id: the outbox row id, reused on every retry.
    pub bundle_id: &'a str,
    /// MessageHeader id: also fixed when the message is first recorded.
    pub header_id: &'a str,
    /// RFC 3339 instant the message was made.
    pub timestamp: &'a str,
    pub event_system: &'a str,
    pub event_code: &'a str,
    pub event_display: &'a str,
    pub destination_name: &'a str,
    /// The EHR's `$process-message` URL.
    pub destination_endpoint: &'a str,
    pub source: MessageSource<'a>,
}

#[derive(Debug, Clone, Copy)]
pub struct NotifyAddInput<'a> {
    pub header: HeaderInput<'a>,
    /// Our FHIR base, no trailing slash.
    pub fhir_base: &'a str,
    /// The EHR's FHIR base (its `iss`), no trailing slash.
    pub ehr_base: &'a str,
    pub service_request: &'a Value,
    pub task: &'a Value,
    pub consent: &'a Value,
    pub documents: &'a [Value],
    pub questionnaire_response: Option<&'a Value>,
    pub healthcare_service: &'a Value,
    pub patient: &'a Value,
    pub practitioner: Option<&'a Value>,
    pub practitioner_role: Option<&'a Value>,
}

pub(crate) fn entry(base: &str, resource: &Value) -> Value {
    let rtype = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
    let id = resource.get("id").and_then(Value::as_str).unwrap_or_default();
    json!({"fullUrl": format!("{}/{rtype}/{id}", base.trim_end_matches('/')), "resource": resource})
}

/// The Patient as the EHR gave it, except that `gender` is never missing (the guide makes it
/// mandatory: `unknown` when it is not known).
fn patient_copy(patient: &Value) -> Value {
    let mut p = patient.clone();
    if let Some(map) = p.as_object_mut() {
        let missing = map.get("gender").and_then(Value::as_str).is_none_or(|g| g.trim().is_empty());
        if missing {
            map.insert("gender".into(), json!("unknown"));
        }
    }
    p
}

fn header(input: &NotifyAddInput) -> Value {
    let h = input.header;
    let sr = input.service_request;
    let sr_id = sr.get("id").and_then(Value::as_str).unwrap_or_default();
    let ext = |url: &str| {
        sr.get("extension")
            .and_then(Value::as_array)
            .and_then(|e| e.iter().find(|x| x.get("url").and_then(Value::as_str) == Some(url)).cloned())
    };
    let mut extensions: Vec<Value> = ext(ROUTING_OPTION_EXT).into_iter().collect();
    if let Some(ours) = sr.pointer("/identifier/0") {
        extensions.push(json!({"url": REFERRAL_IDENTIFIER_EXT, "valueIdentifier": ours}));
    }
    if let Some(requisition) = sr.get("requisition") {
        extensions.push(json!({"url": REFERRAL_IDENTIFIER_EXT, "valueIdentifier": requisition}));
    }
    let sender = ext(SUBMITTER_EXT).and_then(|e| e.get("valueReference").cloned());
    let mut header = base_header(&h, &format!("ServiceRequest/{sr_id}"));
    let map = header.as_object_mut().expect("object");
    if !extensions.is_empty() {
        map.insert("extension".into(), Value::Array(extensions));
    }
    if let Some(sender) = sender {
        map.insert("sender".into(), sender);
    }
    if let Some(author) = sr.get("requester") {
        map.insert("author".into(), author.clone());
    }
    header
}

/// A MessageHeader with its event, destination, source and one `focus`.
pub(crate) fn base_header(h: &HeaderInput, focus: &str) -> Value {
    json!({
        "resourceType": "MessageHeader",
        "id": h.header_id,
        "eventCoding": {"system": h.event_system, "code": h.event_code, "display": h.event_display},
        "destination": [{"name": h.destination_name, "endpoint": h.destination_endpoint}],
        "source": {
            "name": h.source.name,
            "software": h.source.software,
            "version": h.source.version,
            "endpoint": h.source.endpoint,
        },
        "focus": [{"reference": focus}],
    })
}

/// The message Bundle around `entries` (header first).
pub(crate) fn message_bundle(h: &HeaderInput, entries: Vec<Value>) -> Value {
    json!({
        "resourceType": "Bundle",
        "id": h.bundle_id,
        "identifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{}", h.bundle_id)},
        "type": "message",
        "timestamp": h.timestamp,
        "entry": entries,
    })
}

/// Builds the message and checks it (see the module docs).
pub fn build_notify_add(input: &NotifyAddInput) -> Result<Value, BundleError> {
    let ours = input.fhir_base;
    let ehr = input.ehr_base;
    let mut list = vec![
        entry(ours, &header(input)),
        entry(ours, input.service_request),
        entry(ours, input.task),
        entry(ehr, &patient_copy(input.patient)),
    ];
    list.extend(input.practitioner.map(|p| entry(ehr, p)));
    list.extend(input.practitioner_role.map(|r| entry(ehr, r)));
    list.push(entry(ours, input.healthcare_service));
    list.push(entry(ours, input.consent));
    list.extend(input.questionnaire_response.map(|q| entry(ours, q)));
    list.extend(input.documents.iter().map(|d| entry(ours, d)));

    let bundle = message_bundle(&input.header, list);
    check(&bundle, ehr)?;
    Ok(bundle)
}

fn of_type<'a>(entries: &'a [EntryInfo<'a>], rtype: &str) -> Vec<&'a EntryInfo<'a>> {
    entries.iter().filter(|e| e.resource.get("resourceType").and_then(Value::as_str) == Some(rtype)).collect()
}

fn one<'a>(entries: &'a [EntryInfo<'a>], rtype: &str) -> Result<&'a EntryInfo<'a>, BundleError> {
    match of_type(entries, rtype).as_slice() {
        [only] => Ok(only),
        [] => Err(BundleError::Malformed(format!("it has no {rtype}"))),
        _ => Err(BundleError::Malformed(format!("it has more than one {rtype}"))),
    }
}

/// `reference` in `from` must point at the entry `to`.
fn points_at(entries: &[EntryInfo], from: &EntryInfo, path: &str, to: &EntryInfo) -> Result<(), BundleError> {
    let reference = from.resource.pointer(path).unwrap_or(&Value::Null);
    match target(entries, from, reference) {
        Some(t) if t.full_url == to.full_url => Ok(()),
        _ => Err(BundleError::Disagree(format!("{}{path} is not {}", from.key, to.key))),
    }
}

fn same(a: Option<&Value>, b: Option<&Value>, what: &str) -> Result<(), BundleError> {
    if a == b {
        Ok(())
    } else {
        Err(BundleError::Disagree(what.to_string()))
    }
}

/// The checks of a `notify-add-service-request` bundle: structure, references, and agreement.
pub fn check(bundle: &Value, ehr_base: &str) -> Result<(), BundleError> {
    if bundle.get("type").and_then(Value::as_str) != Some("message") {
        return Err(BundleError::Malformed("Bundle.type is not message".into()));
    }
    let entries = entries(bundle)?;
    check_references(&entries, &[ehr_base])?;
    let header = &entries[0];
    let sr = one(&entries, "ServiceRequest")?;
    let task = one(&entries, "Task")?;
    let patient = one(&entries, "Patient")?;
    let service = one(&entries, "HealthcareService")?;
    let consent = one(&entries, "Consent")?;

    points_at(&entries, header, "/focus/0", sr)?;
    points_at(&entries, sr, "/subject", patient)?;
    points_at(&entries, task, "/for", patient)?;
    points_at(&entries, consent, "/patient", patient)?;
    points_at(&entries, task, "/basedOn/0", sr)?;
    points_at(&entries, task, "/focus", sr)?;
    points_at(&entries, sr, "/performer/0", service)?;
    points_at(&entries, task, "/owner", service)?;
    for doc in of_type(&entries, "DocumentReference") {
        points_at(&entries, doc, "/subject", patient)?;
    }
    for contained in consent.resource.get("contained").and_then(Value::as_array).into_iter().flatten() {
        let r = contained.pointer("/patient/reference").and_then(Value::as_str);
        if r.is_some() && r != consent.resource.pointer("/patient/reference").and_then(Value::as_str) {
            return Err(BundleError::Disagree("the consenting person is related to another patient".into()));
        }
    }
    same(header.resource.get("author"), sr.resource.get("requester"), "MessageHeader.author is not the requester")?;
    same(
        sr.resource.pointer("/identifier/0"),
        task.resource.pointer("/identifier/0"),
        "the ServiceRequest and Task carry different referral numbers",
    )?;
    same(sr.resource.get("priority"), task.resource.get("priority"), "the ServiceRequest and Task priorities differ")?;
    same(
        sr.resource.pointer("/subject/reference"),
        task.resource.pointer("/for/reference"),
        "the ServiceRequest and Task name the patient differently",
    )?;

    // supportingInfo lists exactly the Consent, QuestionnaireResponses and DocumentReferences.
    let mut listed: Vec<&str> = Vec::new();
    for info in sr.resource.get("supportingInfo").and_then(Value::as_array).into_iter().flatten() {
        let t = target(&entries, sr, info).ok_or_else(|| {
            BundleError::Disagree("a supportingInfo of the ServiceRequest is not in the bundle".into())
        })?;
        listed.push(t.full_url);
    }
    for rtype in ["Consent", "QuestionnaireResponse", "DocumentReference"] {
        for e in of_type(&entries, rtype) {
            if !listed.contains(&e.full_url) {
                return Err(BundleError::Disagree(format!("{} is not in the ServiceRequest's supportingInfo", e.key)));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str = "https://ereferral.example.org/fhir";
    const EHR: &str = "https://ehr.example.org/fhir";

    pub(crate) struct Fixture {
        pub sr: Value,
        pub task: Value,
        pub consent: Value,
        pub docs: Vec<Value>,
        pub service: Value,
        pub patient: Value,
        pub practitioner: Value,
        pub role: Value,
    }

    pub(crate) fn fixture() -> Fixture {
        let patient_ref = json!({"reference": format!("{EHR}/Patient/pat-1"), "display": "Zoë Ndiaye"});
        let requester = json!({"reference": format!("{EHR}/PractitionerRole/role-1"), "display": "Dr. Ana Lima"});
        let ours = json!({"system": "https://ereferral.dev/fhir/NamingSystem/referral-id", "value": "ER-ABCD-EFGH"});
        Fixture {
            sr: json!({
                "resourceType": "ServiceRequest", "id": "sr-1", "identifier": [ours],
                "extension": [{"url": ROUTING_OPTION_EXT, "valueCode": "closest"}],
                "status": "active", "intent": "order", "priority": "urgent",
                "subject": patient_ref, "requester": requester,
                "performer": [{"reference": "HealthcareService/hs-1", "display": "Knee clinic"}],
                "reasonCode": [{"text": "Knee pain"}],
                "supportingInfo": [{"reference": "Consent/c-1"}, {"reference": "DocumentReference/d-1"}]
            }),
            task: json!({
                "resourceType": "Task", "id": "t-1", "identifier": [ours], "status": "requested", "intent": "order",
                "priority": "urgent", "basedOn": [{"reference": "ServiceRequest/sr-1"}],
                "focus": {"reference": "ServiceRequest/sr-1"}, "for": patient_ref,
                "owner": {"reference": "HealthcareService/hs-1"}
            }),
            consent: json!({"resourceType": "Consent", "id": "c-1", "status": "active", "patient": patient_ref}),
            docs: vec![
                json!({"resourceType": "DocumentReference", "id": "d-1", "status": "current", "subject": patient_ref}),
            ],
            service: json!({"resourceType": "HealthcareService", "id": "hs-1", "name": "Knee clinic"}),
            patient: json!({"resourceType": "Patient", "id": "pat-1", "managingOrganization": {"reference": "Organization/org-1"}}),
            practitioner: json!({"resourceType": "Practitioner", "id": "prac-1"}),
            role: json!({"resourceType": "PractitionerRole", "id": "role-1", "practitioner": {"reference": "Practitioner/prac-1"}}),
        }
    }

    pub(crate) fn input(f: &Fixture) -> NotifyAddInput<'_> {
        NotifyAddInput {
            header: HeaderInput {
                bundle_id: "b-1",
                header_id: "h-1",
                timestamp: "2025-03-02T10:05:00Z",
                event_system: "https://ehealthontario.ca/fhir/CodeSystem/message-event-code",
                event_code: "notify-add-service-request",
                event_display: "Notify add service request",
                destination_name: "General Hospital EHR",
                destination_endpoint: "https://ehr.example.org/fhir/$process-message",
                source: MessageSource {
                    name: "eReferral",
                    software: "ereferral-server",
                    version: "0.1.0",
                    endpoint: "https://ereferral.example.org/fhir/$process-message",
                },
            },
            fhir_base: OURS,
            ehr_base: EHR,
            service_request: &f.sr,
            task: &f.task,
            consent: &f.consent,
            documents: &f.docs,
            questionnaire_response: None,
            healthcare_service: &f.service,
            patient: &f.patient,
            practitioner: Some(&f.practitioner),
            practitioner_role: Some(&f.role),
        }
    }

    #[test]
    fn the_message_has_its_header_first_and_every_resource_once() {
        let f = fixture();
        let b = build_notify_add(&input(&f)).unwrap();
        assert_eq!(b["type"], "message");
        assert_eq!(b["id"], "b-1");
        let types: Vec<&str> =
            b["entry"].as_array().unwrap().iter().map(|e| e["resource"]["resourceType"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "MessageHeader",
                "ServiceRequest",
                "Task",
                "Patient",
                "Practitioner",
                "PractitionerRole",
                "HealthcareService",
                "Consent",
                "DocumentReference"
            ]
        );
        let h = &b["entry"][0]["resource"];
        assert_eq!(h["id"], "h-1");
        assert_eq!(h["eventCoding"]["code"], "notify-add-service-request");
        assert_eq!(h["destination"][0]["endpoint"], "https://ehr.example.org/fhir/$process-message");
        assert_eq!(h["source"]["software"], "ereferral-server");
        assert_eq!(h["focus"][0]["reference"], "ServiceRequest/sr-1");
        assert_eq!(h["author"], f.sr["requester"]);
        assert!(h.get("sender").is_none(), "the requester submitted it");
        assert_eq!(h["extension"][0]["valueCode"], "closest", "routing option copied");
        assert_eq!(h["extension"][1]["valueIdentifier"]["value"], "ER-ABCD-EFGH");
        assert_eq!(b["entry"][3]["fullUrl"], format!("{EHR}/Patient/pat-1"));
        assert_eq!(b["entry"][3]["resource"]["gender"], "unknown", "gender is mandatory");
        assert_eq!(b["entry"][1]["fullUrl"], format!("{OURS}/ServiceRequest/sr-1"));
        assert_eq!(build_notify_add(&input(&f)).unwrap(), b, "the same input builds the same message");
    }

    #[test]
    fn a_submitter_who_is_not_the_requester_is_the_sender() {
        let mut f = fixture();
        let submitter = json!({"reference": format!("{EHR}/PractitionerRole/role-1"), "display": "Nurse Kim"});
        f.sr["requester"] = json!({"identifier": {"system": "https://lic", "value": "L-9"}, "display": "Dr. Other"});
        f.sr["extension"] = json!([{"url": SUBMITTER_EXT, "valueReference": submitter}]);
        let b = build_notify_add(&input(&f)).unwrap();
        assert_eq!(b["entry"][0]["resource"]["sender"], submitter);
        assert_eq!(b["entry"][0]["resource"]["author"]["display"], "Dr. Other");
    }

    #[test]
    fn disagreeing_copies_are_refused() {
        type Spoil = Box<dyn Fn(&mut Fixture)>;
        let cases: Vec<(&str, Spoil)> = vec![
            (
                "task for another patient",
                Box::new(|f| f.task["for"]["reference"] = json!(format!("{EHR}/Patient/pat-2"))),
            ),
            ("consent of another patient", Box::new(|f| f.consent["patient"]["reference"] = json!("Patient/pat-1"))),
            (
                "task based on another request",
                Box::new(|f| f.task["basedOn"][0]["reference"] = json!("ServiceRequest/x")),
            ),
            ("another performer", Box::new(|f| f.task["owner"]["reference"] = json!("HealthcareService/hs-2"))),
            ("another number", Box::new(|f| f.task["identifier"][0]["value"] = json!("ER-ZZZZ-ZZZZ"))),
            ("another priority", Box::new(|f| f.task["priority"] = json!("routine"))),
            ("document not listed", Box::new(|f| f.sr["supportingInfo"] = json!([{"reference": "Consent/c-1"}]))),
            ("reference to nowhere", Box::new(|f| f.sr["basedOn"] = json!([{"reference": "ServiceRequest/missing"}]))),
            (
                "reference to a stranger's server",
                Box::new(|f| f.sr["encounter"] = json!({"reference": "https://evil.example/fhir/Encounter/1"})),
            ),
        ];
        for (what, spoil) in cases {
            let mut f = fixture();
            spoil(&mut f);
            assert!(build_notify_add(&input(&f)).is_err(), "{what} must be refused");
        }
    }

    #[test]
    fn a_questionnaire_response_travels_after_the_consent_and_must_be_listed() {
        let mut f = fixture();
        let qr = json!({"resourceType": "QuestionnaireResponse", "id": "qr-1", "status": "completed",
            "subject": {"reference": format!("{EHR}/Patient/pat-1")}});
        let unlisted = NotifyAddInput { questionnaire_response: Some(&qr), ..input(&f) };
        assert!(matches!(build_notify_add(&unlisted), Err(BundleError::Disagree(_))));
        f.sr["supportingInfo"].as_array_mut().unwrap().push(json!({"reference": "QuestionnaireResponse/qr-1"}));
        let b = build_notify_add(&NotifyAddInput { questionnaire_response: Some(&qr), ..input(&f) }).unwrap();
        assert_eq!(b["entry"][8]["resource"]["resourceType"], "QuestionnaireResponse");
        assert_eq!(b["entry"][8]["fullUrl"], format!("{OURS}/QuestionnaireResponse/qr-1"));
    }

    #[test]
    fn references_to_the_ehr_are_allowed_outside_the_bundle() {
        let mut f = fixture();
        f.sr["encounter"] = json!({"reference": format!("{EHR}/Encounter/enc-1")});
        f.sr["basedOn"] = json!([{"reference": format!("{EHR}/ServiceRequest/draft-9")}]);
        build_notify_add(&input(&f)).unwrap();
    }
}
