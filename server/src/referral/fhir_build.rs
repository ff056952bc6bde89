//! Pure mapping from a validated referral form to the FHIR R4 resources a submitted referral is
//! made of: the ServiceRequest, the target's "process-request" Task, the (BSeR PatientConsent)
//! Consent and one DocumentReference per attachment. No I/O: ids, timestamps and the people
//! involved are all inputs, so the same input always builds the same resources (a retried
//! notification carries exactly what was stored).
//!
//! Every resource is pruned before it is returned: no `null`, no empty string, no empty array or
//! object is ever emitted (FHIR's ele-1: every element has a value or children).

use app::referral::form::{label_of, ReferralForm, PATIENT_LOCATIONS, RELATIONSHIPS, ROUTING_OPTIONS};
use serde_json::{json, Map, Value};

/// ServiceRequest extension: the routing option asked for (a code of [`ROUTING_OPTIONS`]).
/// Kept on the ServiceRequest so the message builder can copy it onto the MessageHeader.
pub const ROUTING_OPTION_EXT: &str = "https://ereferral.dev/fhir/StructureDefinition/routing-option";
/// ServiceRequest extension: where the patient is now (a code of [`PATIENT_LOCATIONS`]).
pub const PATIENT_LOCATION_EXT: &str = "https://ereferral.dev/fhir/StructureDefinition/patient-location";
/// ServiceRequest extension: who submitted the referral when that is not the authorizing
/// clinician (e.g. a discharge planner); becomes `MessageHeader.sender`.
pub const SUBMITTER_EXT: &str = "https://ereferral.dev/fhir/StructureDefinition/submitter";

/// Our Task code system. The eReferral guide names the target's task `process-request` but no
/// published code system we can rely on defines that code (FHIR's `task-code` has `fulfill`,
/// BSeR's Task has no code binding), so we publish it under our own system and keep the guide's
/// code verbatim, which is what a receiver matches on.
pub const TASK_CODE_SYSTEM: &str = "https://ereferral.dev/fhir/CodeSystem/task-code";
pub const TASK_CODE: &str = "process-request";
pub const TASK_CODE_DISPLAY: &str = "Process request";
/// BSeR Task business status code system (2.0 Created, 3.0 Accepted, …).
pub const BUSINESS_STATUS_SYSTEM: &str = "http://hl7.org/fhir/us/bser/CodeSystem/TaskBusinessStatusCS";

const CONSENT_SCOPE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/consentscope";
const V3_ROLE_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";
const V3_ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

/// A person (or role) as a FHIR Reference: a literal reference when we know one, a business
/// identifier when we have one (e.g. a typed licence number), and a display name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Party {
    /// e.g. `PractitionerRole/role-1` or `Practitioner/prac-1`.
    pub reference: Option<String>,
    pub display: String,
    /// `(system, value)`.
    pub identifier: Option<(String, String)>,
}

impl Party {
    /// The FHIR Reference JSON (only the parts that have a value).
    pub fn to_reference(&self) -> Value {
        let mut r = Map::new();
        if let Some(reference) = self.reference.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            r.insert("reference".into(), json!(reference));
        }
        if let Some((system, value)) = &self.identifier {
            r.insert("identifier".into(), json!({"system": system.trim(), "value": value.trim()}));
        }
        r.insert("display".into(), json!(self.display.trim()));
        prune(Value::Object(r))
    }

    /// Whether `self` and `other` are the same person: by reference when both have one,
    /// otherwise by display name.
    pub fn same_as(&self, other: &Party) -> bool {
        let norm = |r: &Option<String>| r.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        match (norm(&self.reference), norm(&other.reference)) {
            (Some(a), Some(b)) => a == b,
            _ => self.display.trim() == other.display.trim(),
        }
    }
}

/// The ids we generate (UUIDs) for the resources of one referral.
#[derive(Debug, Clone, Copy)]
pub struct ReferralIds<'a> {
    pub service_request: &'a str,
    pub task: &'a str,
    pub consent: &'a str,
    /// The RelatedPerson contained in the Consent when someone else consented for the patient.
    pub related_person: &'a str,
}

/// What is asked for: the target HealthcareService and the code under it.
#[derive(Debug, Clone, Copy)]
pub struct RequestedService<'a> {
    /// HealthcareService id.
    pub id: &'a str,
    pub name: &'a str,
    pub system: &'a str,
    pub code: &'a str,
    pub display: &'a str,
}

/// An uploaded file; its bytes are served as `Binary/{id}` and its DocumentReference has the same id.
#[derive(Debug, Clone, Copy)]
pub struct AttachmentMeta<'a> {
    pub id: &'a str,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size: u64,
    /// Base64 of the SHA-1 of the bytes (R4 `Attachment.hash`).
    pub sha1_base64: &'a str,
    /// RFC 3339 instant.
    pub created: &'a str,
}

#[derive(Debug, Clone)]
pub struct ReferralInput<'a> {
    pub ids: ReferralIds<'a>,
    /// Our ServiceRequest/Task identifier system.
    pub identifier_system: &'a str,
    /// Our human-friendly referral number (the identifier value).
    pub referral_number: &'a str,
    /// Already validated.
    pub form: &'a ReferralForm,
    pub service: RequestedService<'a>,
    /// The launched patient as an absolute reference on the EHR (`{ehr_base}/Patient/{id}`).
    /// Every resource points at exactly this reference.
    pub patient: &'a str,
    pub patient_display: &'a str,
    /// `Encounter/{id}` from the launch, if any.
    pub encounter: Option<&'a str>,
    /// The authorizing clinician.
    pub requester: Party,
    /// The launched user (may be the requester).
    pub submitter: Party,
    /// The EHR's draft ServiceRequest (launch `fhirContext`), if any.
    pub source_draft: Option<&'a Value>,
    /// Usually `order`.
    pub intent: &'a str,
    /// RFC 3339 instant.
    pub authored_on: &'a str,
    pub attachments: &'a [AttachmentMeta<'a>],
    /// Our FHIR base (no trailing slash): attachments are served as `{fhir_base}/Binary/{id}`.
    pub fhir_base: &'a str,
    /// The EHR's FHIR base (its `iss`, no trailing slash). References to anything that is not
    /// ours (patient, practitioners, encounter, the EHR's draft) are made absolute on it, so
    /// they mean the same on our server, in a message bundle and at the EHR.
    pub ehr_base: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReferralResources {
    pub service_request: Value,
    pub task: Value,
    pub consent: Value,
    /// One per attachment, in the order given.
    pub documents: Vec<Value>,
}

/// Builds every resource of one referral.
pub fn build_referral(input: &ReferralInput) -> ReferralResources {
    let mut built = ReferralResources {
        service_request: service_request(input),
        task: task(input),
        consent: consent(input),
        documents: input.attachments.iter().map(|a| document_reference(input, a)).collect(),
    };
    let ids = input.ids;
    let mut ours: Vec<String> = vec![
        format!("ServiceRequest/{}", ids.service_request),
        format!("Task/{}", ids.task),
        format!("Consent/{}", ids.consent),
        format!("HealthcareService/{}", input.service.id),
    ];
    ours.extend(input.attachments.iter().map(|a| format!("DocumentReference/{}", a.id)));
    let base = input.ehr_base.trim_end_matches('/');
    for resource in
        [&mut built.service_request, &mut built.task, &mut built.consent].into_iter().chain(built.documents.iter_mut())
    {
        anchor_references(resource, &ours, base);
    }
    built
}

/// Makes every relative `reference` in `v` that is not one of `ours` (`Type/id`) absolute on
/// `ehr_base`. Contained (`#…`), absolute and `urn:` references are left alone.
pub fn anchor_references(v: &mut Value, ours: &[String], ehr_base: &str) {
    match v {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "reference" {
                    if let Value::String(r) = child {
                        let relative = !(r.starts_with('#') || r.contains("://") || r.starts_with("urn:"));
                        if relative && !ours.iter().any(|o| o == r) {
                            *r = format!("{ehr_base}/{r}");
                        }
                    }
                } else {
                    anchor_references(child, ours, ehr_base);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| anchor_references(i, ours, ehr_base)),
        _ => {}
    }
}

/// A Party for the launched user: `PractitionerRole/{role id}` when the user is in a role, else
/// `Practitioner/{id}`; display from the practitioner's first name (its `text`, else its prefixes,
/// given names, family name and suffixes), falling back to the role's `practitioner.display`;
/// identifier = the practitioner's first identifier that has both a system and a value.
pub fn party_from_user(practitioner: &Value, role: Option<&Value>) -> Party {
    fn id_of(v: &Value) -> Option<&str> {
        v.get("id").and_then(non_empty_str)
    }
    let reference = role
        .and_then(id_of)
        .map(|id| format!("PractitionerRole/{id}"))
        .or_else(|| id_of(practitioner).map(|id| format!("Practitioner/{id}")));
    let display = practitioner
        .pointer("/name/0")
        .and_then(readable_name)
        .or_else(|| role.and_then(|r| r.pointer("/practitioner/display")).and_then(non_empty_str).map(str::to_string))
        .unwrap_or_default();
    let identifier = practitioner.get("identifier").and_then(Value::as_array).and_then(|ids| {
        ids.iter().find_map(|i| {
            Some((non_empty_str(i.get("system")?)?.to_string(), non_empty_str(i.get("value")?)?.to_string()))
        })
    });
    Party { reference, display, identifier }
}

/// A Party from a FHIR Reference JSON (e.g. a draft's `requester`). Contained references
/// (`#…`) mean nothing outside the draft and are dropped; `None` when nothing usable remains.
pub fn party_from_reference(r: &Value) -> Option<Party> {
    let reference = r.get("reference").and_then(non_empty_str).filter(|s| !s.starts_with('#')).map(str::to_string);
    let identifier = r.get("identifier").and_then(|i| {
        Some((non_empty_str(i.get("system")?)?.to_string(), non_empty_str(i.get("value")?)?.to_string()))
    });
    let display = r.get("display").and_then(non_empty_str).unwrap_or_default().to_string();
    if reference.is_none() && identifier.is_none() && display.is_empty() {
        return None;
    }
    Some(Party { reference, display, identifier })
}

fn non_empty_str(v: &Value) -> Option<&str> {
    v.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// A HumanName as one line: `text`, else prefix + given + family + suffix.
fn readable_name(name: &Value) -> Option<String> {
    if let Some(text) = name.get("text").and_then(non_empty_str) {
        return Some(text.to_string());
    }
    let list = |key: &str| -> Vec<&str> {
        name.get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(non_empty_str).collect())
            .unwrap_or_default()
    };
    let mut parts = list("prefix");
    parts.extend(list("given"));
    parts.extend(name.get("family").and_then(non_empty_str));
    parts.extend(list("suffix"));
    let joined = parts.join(" ");
    (!joined.is_empty()).then_some(joined)
}

fn patient_ref(input: &ReferralInput) -> Value {
    prune(json!({"reference": input.patient, "display": input.patient_display.trim()}))
}

fn our_identifier(input: &ReferralInput) -> Value {
    json!({"type": {"text": "Referral number"}, "system": input.identifier_system, "value": input.referral_number})
}

fn priority(form: &ReferralForm) -> &str {
    let p = form.priority_or_default().trim();
    if p.is_empty() {
        "routine"
    } else {
        p
    }
}

fn draft_id(draft: &Value) -> Option<&str> {
    draft.get("id").and_then(non_empty_str)
}

fn service_request(input: &ReferralInput) -> Value {
    let form = input.form;
    let ids = input.ids;
    let draft = input.source_draft;

    let mut identifiers = vec![our_identifier(input)];
    if let Some(theirs) = draft.and_then(|d| d.get("identifier")).and_then(Value::as_array) {
        identifiers.extend(theirs.iter().cloned());
    }

    let routing = form.routing.trim();
    let location = form.patient_location.trim();

    let mut notes = Vec::new();
    let typed = form.notes.trim();
    if !typed.is_empty() {
        notes.push(json!({"text": typed}));
    }
    if !routing.is_empty() {
        let label = label_of(ROUTING_OPTIONS, routing).unwrap_or(routing);
        let detail = form.routing_note.trim();
        let text = if detail.is_empty() { format!("Routing: {label}") } else { format!("Routing: {label}: {detail}") };
        notes.push(json!({"text": text}));
    }
    if !location.is_empty() {
        let label = label_of(PATIENT_LOCATIONS, location).unwrap_or(location);
        notes.push(json!({"text": format!("Patient's present location: {label}")}));
    }

    let mut extensions = Vec::new();
    if !routing.is_empty() {
        extensions.push(json!({"url": ROUTING_OPTION_EXT, "valueCode": routing}));
    }
    if !location.is_empty() {
        extensions.push(json!({"url": PATIENT_LOCATION_EXT, "valueCode": location}));
    }
    if !input.submitter.same_as(&input.requester) {
        extensions.push(json!({"url": SUBMITTER_EXT, "valueReference": input.submitter.to_reference()}));
    }

    let mut supporting = vec![json!({"reference": format!("Consent/{}", ids.consent)})];
    supporting.extend(input.attachments.iter().map(|a| json!({"reference": format!("DocumentReference/{}", a.id)})));

    // The EHR's draft: by id when it has one (plus its first identifier), else by identifier.
    let based_on = draft.and_then(|d| {
        let first_identifier = d.pointer("/identifier/0").cloned();
        match draft_id(d) {
            Some(id) => Some(json!({"reference": format!("ServiceRequest/{id}"), "identifier": first_identifier})),
            None => first_identifier.map(|i| json!({"identifier": i})),
        }
    });

    let service = input.service;
    prune(json!({
        "resourceType": "ServiceRequest",
        "id": ids.service_request,
        "extension": extensions,
        "identifier": identifiers,
        "basedOn": based_on.map(|b| vec![b]),
        // A requisition the EHR gave its draft groups this referral with its siblings: keep it.
        "requisition": draft.and_then(|d| d.get("requisition")).cloned(),
        "status": "active",
        "intent": input.intent,
        "priority": priority(form),
        "code": {
            "coding": [{"system": service.system, "code": service.code, "display": service.display}],
            "text": service.display,
        },
        "subject": patient_ref(input),
        "encounter": input.encounter.map(|e| json!({"reference": e})),
        "authoredOn": input.authored_on,
        "requester": input.requester.to_reference(),
        "performer": [{"reference": format!("HealthcareService/{}", service.id), "display": service.name}],
        "reasonCode": [{"text": form.reason.trim()}],
        "supportingInfo": supporting,
        "note": notes,
    }))
}

/// The target's "process-request" Task. Its `code` is `process-request` in
/// [`TASK_CODE_SYSTEM`] (our own system: see there why).
fn task(input: &ReferralInput) -> Value {
    let ids = input.ids;
    let sr = format!("ServiceRequest/{}", ids.service_request);
    prune(json!({
        "resourceType": "Task",
        "id": ids.task,
        "identifier": [our_identifier(input)],
        "basedOn": [{"reference": sr}],
        "status": "requested",
        "businessStatus": {
            "coding": [{"system": BUSINESS_STATUS_SYSTEM, "code": "2.0", "display": "Service Request Created"}],
            "text": "Created",
        },
        "intent": "order",
        "priority": priority(input.form),
        "code": {"coding": [{"system": TASK_CODE_SYSTEM, "code": TASK_CODE, "display": TASK_CODE_DISPLAY}]},
        "focus": {"reference": sr},
        "for": patient_ref(input),
        "encounter": input.encounter.map(|e| json!({"reference": e})),
        "authoredOn": input.authored_on,
        "lastModified": input.authored_on,
        "requester": input.requester.to_reference(),
        "owner": {"reference": format!("HealthcareService/{}", input.service.id), "display": input.service.name},
    }))
}

/// The v3 RoleCode display for the relationships the form offers.
fn role_code_display(code: &str) -> Option<&'static str> {
    Some(match code {
        "GUARD" => "guardian",
        "POWATT" => "power of attorney",
        "SPS" => "spouse",
        "PRN" => "parent",
        "CHILD" => "child",
        "SIB" => "sibling",
        "FAMMEMB" => "family member",
        _ => return None,
    })
}

/// BSeR PatientConsent (R4): privacy scope, LOINC 59284-0 category, the patient, the date consent
/// was given, who gave it (the patient, or a contained RelatedPerson), an opt-in policy rule
/// (ppc-1) and the decision as `provision.type`.
fn consent(input: &ReferralInput) -> Value {
    let form = input.form;
    let ids = input.ids;
    let by_related = form.consent_by.trim() == "related";
    let decision = match form.consent_decision.trim() {
        "permit" => "permit",
        _ => "deny", // never assume consent
    };
    let date = Some(form.consent_date.trim())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| input.authored_on.get(..10).unwrap_or(input.authored_on));

    let (contained, performer) = if by_related {
        let name = form.consent_related_name.trim();
        let code = form.consent_related_relationship.trim();
        let related = json!({
            "resourceType": "RelatedPerson",
            "id": ids.related_person,
            "patient": patient_ref(input),
            "relationship": [{
                "coding": [{"system": V3_ROLE_CODE, "code": code, "display": role_code_display(code)}],
                "text": label_of(RELATIONSHIPS, code),
            }],
            "name": [{"text": name}],
        });
        (Some(vec![related]), json!({"reference": format!("#{}", ids.related_person), "display": name}))
    } else {
        (None, patient_ref(input))
    };

    prune(json!({
        "resourceType": "Consent",
        "id": ids.consent,
        "contained": contained,
        "status": "active",
        "scope": {
            "coding": [{"system": CONSENT_SCOPE_SYSTEM, "code": "patient-privacy", "display": "Privacy Consent"}],
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}]}],
        "patient": patient_ref(input),
        "dateTime": date,
        "performer": [performer],
        "policyRule": {"coding": [{"system": V3_ACT_CODE, "code": "OPTIN", "display": "opt-in"}]},
        "provision": {"type": decision},
    }))
}

fn document_reference(input: &ReferralInput, a: &AttachmentMeta) -> Value {
    prune(json!({
        "resourceType": "DocumentReference",
        "id": a.id,
        "status": "current",
        "type": {"text": "Referral attachment"},
        "subject": patient_ref(input),
        "date": a.created,
        "author": [input.submitter.to_reference()],
        "description": a.filename,
        "content": [{
            "attachment": {
                "contentType": a.content_type,
                "url": format!("{}/Binary/{}", input.fhir_base.trim_end_matches('/'), a.id),
                "size": a.size,
                "hash": a.sha1_base64,
                "title": a.filename,
                "creation": a.created,
            }
        }],
        "context": {
            "encounter": input.encounter.map(|e| vec![json!({"reference": e})]),
            "related": [{"reference": format!("ServiceRequest/{}", input.ids.service_request)}],
        },
    }))
}

/// Drops `null`, empty strings, empty arrays and empty objects, recursively (FHIR ele-1).
fn prune(v: Value) -> Value {
    fn inner(v: Value) -> Option<Value> {
        match v {
            Value::Null => None,
            Value::String(s) if s.trim().is_empty() => None,
            Value::Array(items) => {
                let items: Vec<Value> = items.into_iter().filter_map(inner).collect();
                (!items.is_empty()).then_some(Value::Array(items))
            }
            Value::Object(map) => {
                let map: Map<String, Value> = map.into_iter().filter_map(|(k, v)| Some((k, inner(v)?))).collect();
                (!map.is_empty()).then_some(Value::Object(map))
            }
            other => Some(other),
        }
    }
    inner(v).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATIENT: &str = "http://ehr.example.org/fhir/Patient/pat-1";
    /// The EHR's base: references to its resources are anchored there.
    fn ehr(r: &str) -> String {
        format!("http://ehr.example.org/fhir/{r}")
    }
    const SYSTEM: &str = "https://ereferral.dev/fhir/NamingSystem/referral-id";

    fn form() -> ReferralForm {
        ReferralForm {
            service_id: "hs-1".into(),
            code: "http://snomed.info/sct|1234".into(),
            reason: "  Knee pain for 6 months \n".into(),
            priority: String::new(),
            notes: "  Uses a cane.  ".into(),
            consent_decision: "permit".into(),
            consent_by: "patient".into(),
            consent_date: " 2025-03-01 ".into(),
            ..Default::default()
        }
    }

    fn prac() -> Party {
        Party {
            reference: Some("PractitionerRole/role-1".into()),
            display: "Dr. Ana Lima".into(),
            identifier: Some(("https://example.org/licence".into(), "L-1".into())),
        }
    }

    fn draft() -> Value {
        json!({
            "resourceType": "ServiceRequest",
            "id": "draft-9",
            "status": "draft",
            "identifier": [
                {"system": "urn:oid:2.16.840.1.113883.3.1", "value": "EHR-42", "type": {"text": "Placer"}},
                {"system": "https://ehr.example.org/order", "value": "ORD-7"}
            ],
            "requisition": {"system": "https://ehr.example.org/req", "value": "REQ-1"},
            "requester": {"reference": "Practitioner/p-2", "display": "Dr. Bo Chen"}
        })
    }

    const ATTACHMENTS: &[AttachmentMeta<'static>] = &[
        AttachmentMeta {
            id: "att-1",
            filename: "xray.pdf",
            content_type: "application/pdf",
            size: 1234,
            sha1_base64: "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",
            created: "2025-03-02T10:00:00Z",
        },
        AttachmentMeta {
            id: "att-2",
            filename: "letter.png",
            content_type: "image/png",
            size: 99,
            sha1_base64: "2jmj7l5rSw0yVb/vlWAYkK/YBwk=",
            created: "2025-03-02T10:01:00Z",
        },
    ];

    fn input<'a>(
        form: &'a ReferralForm,
        draft: Option<&'a Value>,
        attachments: &'a [AttachmentMeta<'a>],
    ) -> ReferralInput<'a> {
        ReferralInput {
            ids: ReferralIds { service_request: "sr-1", task: "task-1", consent: "consent-1", related_person: "rp-1" },
            identifier_system: SYSTEM,
            referral_number: "ER-ABCD-EFGH",
            form,
            service: RequestedService {
                id: "hs-1",
                name: "Orthopaedic surgery",
                system: "http://snomed.info/sct",
                code: "1234",
                display: "Knee assessment",
            },
            patient: PATIENT,
            patient_display: "Zoë Ndiaye",
            encounter: Some("Encounter/enc-1"),
            requester: prac(),
            submitter: prac(),
            source_draft: draft,
            intent: "order",
            authored_on: "2025-03-02T10:05:00Z",
            attachments,
            fhir_base: "https://ereferral.example.org/fhir",
            ehr_base: "http://ehr.example.org/fhir/",
        }
    }

    fn all(r: &ReferralResources) -> Vec<&Value> {
        let mut v = vec![&r.service_request, &r.task, &r.consent];
        v.extend(&r.documents);
        v
    }

    /// Every `subject`, `for` and `patient` reference anywhere in `v` (contained resources too).
    fn patient_refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    if matches!(k.as_str(), "subject" | "for" | "patient") {
                        out.push(child.get("reference").and_then(Value::as_str).unwrap_or("<missing>").to_string());
                    }
                    patient_refs(child, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|c| patient_refs(c, out)),
            _ => {}
        }
    }

    fn assert_same_patient(r: &ReferralResources) {
        let mut refs = Vec::new();
        for res in all(r) {
            patient_refs(res, &mut refs);
        }
        // ServiceRequest.subject, Task.for, Consent.patient, one subject per DocumentReference.
        assert!(refs.len() >= 3 + r.documents.len(), "{refs:?}");
        assert!(refs.iter().all(|p| p == PATIENT), "{refs:?}");
    }

    /// No `null`, empty string, empty array or empty object anywhere.
    fn assert_no_empty(v: &Value, path: &str) {
        match v {
            Value::Null => panic!("null at {path}"),
            Value::String(s) => assert!(!s.trim().is_empty(), "empty string at {path}"),
            Value::Array(a) => {
                assert!(!a.is_empty(), "empty array at {path}");
                a.iter().enumerate().for_each(|(i, c)| assert_no_empty(c, &format!("{path}/{i}")));
            }
            Value::Object(m) => {
                assert!(!m.is_empty(), "empty object at {path}");
                m.iter().for_each(|(k, c)| assert_no_empty(c, &format!("{path}/{k}")));
            }
            _ => {}
        }
    }

    fn assert_clean(r: &ReferralResources) {
        for res in all(r) {
            assert_no_empty(res, res["resourceType"].as_str().unwrap_or("?"));
        }
    }

    fn refs(v: &Value) -> Vec<&str> {
        v.as_array().unwrap().iter().map(|r| r["reference"].as_str().unwrap()).collect()
    }

    #[test]
    fn full_build_with_a_source_draft() {
        let f = form();
        let d = draft();
        let r = build_referral(&input(&f, Some(&d), ATTACHMENTS));
        let sr = &r.service_request;
        assert_eq!(sr["resourceType"], "ServiceRequest");
        assert_eq!(sr["id"], "sr-1");
        assert_eq!(sr["status"], "active");
        assert_eq!(sr["intent"], "order");
        let ids = sr["identifier"].as_array().unwrap();
        assert_eq!(ids.len(), 3);
        assert_eq!(ids[0], json!({"type": {"text": "Referral number"}, "system": SYSTEM, "value": "ER-ABCD-EFGH"}));
        assert_eq!(ids[1], d["identifier"][0], "draft identifiers echoed unchanged");
        assert_eq!(ids[2], d["identifier"][1]);
        assert_eq!(
            sr["basedOn"],
            json!([{"reference": ehr("ServiceRequest/draft-9"), "identifier": d["identifier"][0]}])
        );
        assert_eq!(sr["requisition"], d["requisition"]);
        assert_eq!(
            sr["code"],
            json!({"coding": [{"system": "http://snomed.info/sct", "code": "1234", "display": "Knee assessment"}], "text": "Knee assessment"})
        );
        assert_eq!(sr["subject"], json!({"reference": PATIENT, "display": "Zoë Ndiaye"}));
        assert_eq!(sr["encounter"], json!({"reference": ehr("Encounter/enc-1")}));
        assert_eq!(
            sr["requester"],
            json!({"reference": ehr("PractitionerRole/role-1"), "identifier": {"system": "https://example.org/licence", "value": "L-1"}, "display": "Dr. Ana Lima"})
        );
        assert_eq!(sr["performer"], json!([{"reference": "HealthcareService/hs-1", "display": "Orthopaedic surgery"}]));
        assert_eq!(sr["authoredOn"], "2025-03-02T10:05:00Z");

        let task = &r.task;
        assert_eq!(task["resourceType"], "Task");
        assert_eq!(task["id"], "task-1");
        assert_eq!(task["identifier"][0]["system"], SYSTEM);
        assert_eq!(task["identifier"][0]["value"], "ER-ABCD-EFGH");
        assert_eq!(task["basedOn"], json!([{"reference": "ServiceRequest/sr-1"}]));
        assert_eq!(task["focus"], json!({"reference": "ServiceRequest/sr-1"}));
        assert_eq!(task["status"], "requested");
        assert_eq!(task["intent"], "order");
        assert_eq!(task["businessStatus"]["coding"][0]["system"], BUSINESS_STATUS_SYSTEM);
        assert_eq!(task["businessStatus"]["coding"][0]["code"], "2.0");
        assert_eq!(task["businessStatus"]["text"], "Created");
        assert_eq!(
            task["code"]["coding"][0],
            json!({"system": TASK_CODE_SYSTEM, "code": "process-request", "display": "Process request"})
        );
        assert_eq!(task["for"]["reference"], PATIENT);
        assert_eq!(task["authoredOn"], "2025-03-02T10:05:00Z");
        assert_eq!(task["lastModified"], "2025-03-02T10:05:00Z");
        assert_eq!(task["requester"], sr["requester"]);
        assert_eq!(task["owner"], json!({"reference": "HealthcareService/hs-1", "display": "Orthopaedic surgery"}));

        let c = &r.consent;
        assert_eq!(c["resourceType"], "Consent");
        assert_eq!(c["id"], "consent-1");
        assert_eq!(c["status"], "active");
        assert_eq!(c["scope"]["coding"][0]["code"], "patient-privacy");
        assert_eq!(c["scope"]["coding"][0]["system"], CONSENT_SCOPE_SYSTEM);
        assert_eq!(
            c["category"][0]["coding"][0],
            json!({"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"})
        );
        assert_eq!(c["policyRule"]["coding"][0]["code"], "OPTIN");
        assert_eq!(c["provision"], json!({"type": "permit"}));
        assert_eq!(c["dateTime"], "2025-03-01");

        assert_same_patient(&r);
        assert_clean(&r);
    }

    #[test]
    fn without_a_draft_there_is_no_based_on_and_only_our_identifier() {
        let f = form();
        let r = build_referral(&input(&f, None, &[]));
        assert!(r.service_request.get("basedOn").is_none());
        assert!(r.service_request.get("requisition").is_none());
        assert_eq!(r.service_request["identifier"].as_array().unwrap().len(), 1);
        assert!(r.documents.is_empty());
        assert_eq!(refs(&r.service_request["supportingInfo"]), ["Consent/consent-1"]);
        assert_same_patient(&r);
        assert_clean(&r);
    }

    #[test]
    fn a_draft_without_id_is_based_on_by_identifier() {
        let f = form();
        let mut d = draft();
        d.as_object_mut().unwrap().remove("id");
        let r = build_referral(&input(&f, Some(&d), &[]));
        assert_eq!(r.service_request["basedOn"], json!([{"identifier": d["identifier"][0]}]));
        let d = json!({"resourceType": "ServiceRequest"});
        let r = build_referral(&input(&f, Some(&d), &[]));
        assert!(r.service_request.get("basedOn").is_none());
        assert_clean(&r);
    }

    #[test]
    fn related_person_consent_is_contained_and_performs() {
        let mut f = form();
        f.consent_by = "related".into();
        f.consent_related_name = "  Marie Lima ".into();
        f.consent_related_relationship = "GUARD".into();
        let r = build_referral(&input(&f, None, &[]));
        let c = &r.consent;
        assert_eq!(c["performer"], json!([{"reference": "#rp-1", "display": "Marie Lima"}]));
        let contained = c["contained"].as_array().unwrap();
        assert_eq!(contained.len(), 1);
        let rp = &contained[0];
        assert_eq!(rp["resourceType"], "RelatedPerson");
        assert_eq!(rp["id"], "rp-1");
        assert_eq!(rp["patient"]["reference"], PATIENT);
        assert_eq!(rp["name"], json!([{"text": "Marie Lima"}]));
        assert_eq!(
            rp["relationship"][0]["coding"][0],
            json!({"system": V3_ROLE_CODE, "code": "GUARD", "display": "guardian"})
        );
        assert_eq!(rp["relationship"][0]["text"], "Legal guardian");
        assert_eq!(c["patient"]["reference"], PATIENT);
        assert_same_patient(&r);
        assert_clean(&r);
    }

    #[test]
    fn patient_consent_is_performed_by_the_patient() {
        let f = form();
        let r = build_referral(&input(&f, None, &[]));
        assert_eq!(r.consent["performer"], json!([{"reference": PATIENT, "display": "Zoë Ndiaye"}]));
        assert!(r.consent.get("contained").is_none());
    }

    #[test]
    fn denied_consent_is_provision_deny() {
        let mut f = form();
        f.consent_decision = "deny".into();
        let r = build_referral(&input(&f, None, &[]));
        assert_eq!(r.consent["provision"]["type"], "deny");
    }

    #[test]
    fn notes_routing_and_location_become_notes_and_extensions() {
        let mut f = form();
        f.routing = "specific-provider".into();
        f.routing_note = "  Dr. Okafor at Riverside ".into();
        f.patient_location = "hospital-inpatient".into();
        let r = build_referral(&input(&f, None, &[]));
        let sr = &r.service_request;
        let notes: Vec<&str> = sr["note"].as_array().unwrap().iter().map(|n| n["text"].as_str().unwrap()).collect();
        assert_eq!(
            notes,
            [
                "Uses a cane.",
                "Routing: A specific provider or site: Dr. Okafor at Riverside",
                "Patient's present location: In hospital (inpatient)",
            ]
        );
        let ext = sr["extension"].as_array().unwrap();
        assert!(ext.contains(&json!({"url": ROUTING_OPTION_EXT, "valueCode": "specific-provider"})));
        assert!(ext.contains(&json!({"url": PATIENT_LOCATION_EXT, "valueCode": "hospital-inpatient"})));

        f.routing = "first-available".into();
        f.routing_note.clear();
        f.patient_location.clear();
        f.notes = "   ".into();
        let r = build_referral(&input(&f, None, &[]));
        let notes: Vec<&str> =
            r.service_request["note"].as_array().unwrap().iter().map(|n| n["text"].as_str().unwrap()).collect();
        assert_eq!(notes, ["Routing: First available provider"]);
        assert_eq!(
            r.service_request["extension"],
            json!([{"url": ROUTING_OPTION_EXT, "valueCode": "first-available"}])
        );
    }

    #[test]
    fn no_notes_no_routing_means_no_note_and_no_extension() {
        let mut f = form();
        f.notes.clear();
        let r = build_referral(&input(&f, None, &[]));
        assert!(r.service_request.get("note").is_none());
        assert!(r.service_request.get("extension").is_none());
        assert_clean(&r);
    }

    #[test]
    fn priority_defaults_to_routine() {
        let mut f = form();
        let r = build_referral(&input(&f, None, &[]));
        assert_eq!(r.service_request["priority"], "routine");
        assert_eq!(r.task["priority"], "routine");
        f.priority = "stat".into();
        let r = build_referral(&input(&f, None, &[]));
        assert_eq!(r.service_request["priority"], "stat");
    }

    #[test]
    fn submitter_extension_only_when_different() {
        let f = form();
        let same = build_referral(&input(&f, None, &[]));
        assert!(same.service_request.get("extension").is_none());

        let mut i = input(&f, None, &[]);
        i.submitter =
            Party { reference: Some("Practitioner/dp-1".into()), display: "Sam Planner".into(), identifier: None };
        let r = build_referral(&i);
        assert_eq!(
            r.service_request["extension"],
            json!([{"url": SUBMITTER_EXT, "valueReference": {"reference": ehr("Practitioner/dp-1"), "display": "Sam Planner"}}])
        );
        assert_eq!(r.service_request["requester"]["reference"], ehr("PractitionerRole/role-1"));

        // A typed authorizer (no reference) is compared by name.
        let mut i = input(&f, None, &[]);
        i.requester = Party { reference: None, display: "Dr. Other".into(), identifier: None };
        let r = build_referral(&i);
        assert_eq!(r.service_request["extension"][0]["url"], SUBMITTER_EXT);
        assert_eq!(r.service_request["requester"], json!({"display": "Dr. Other"}));
        let mut i = input(&f, None, &[]);
        i.requester = Party { reference: None, display: " Dr. Ana Lima ".into(), identifier: None };
        assert!(build_referral(&i).service_request.get("extension").is_none());
    }

    #[test]
    fn attachments_become_document_references_after_the_consent() {
        let f = form();
        let r = build_referral(&input(&f, None, ATTACHMENTS));
        assert_eq!(
            refs(&r.service_request["supportingInfo"]),
            ["Consent/consent-1", "DocumentReference/att-1", "DocumentReference/att-2"]
        );
        assert_eq!(r.documents.len(), 2);
        let d = &r.documents[0];
        assert_eq!(d["resourceType"], "DocumentReference");
        assert_eq!(d["id"], "att-1");
        assert_eq!(d["status"], "current");
        assert_eq!(d["type"]["text"], "Referral attachment");
        assert_eq!(d["subject"]["reference"], PATIENT);
        assert_eq!(d["date"], "2025-03-02T10:00:00Z");
        let mut author = prac().to_reference();
        author["reference"] = json!(ehr("PractitionerRole/role-1"));
        assert_eq!(d["author"], json!([author]));
        assert_eq!(
            d["content"][0]["attachment"],
            json!({
                "contentType": "application/pdf",
                "url": "https://ereferral.example.org/fhir/Binary/att-1",
                "size": 1234,
                "hash": "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",
                "title": "xray.pdf",
                "creation": "2025-03-02T10:00:00Z",
            })
        );
        assert_eq!(d["context"]["related"], json!([{"reference": "ServiceRequest/sr-1"}]));
        assert_eq!(r.documents[1]["id"], "att-2");
        assert_same_patient(&r);
        assert_clean(&r);
    }

    #[test]
    fn form_strings_are_trimmed() {
        let mut f = form();
        f.priority = " urgent ".into();
        f.routing = " closest-to-patient ".into();
        f.patient_location = " home ".into();
        f.consent_decision = " deny ".into();
        f.consent_by = " related ".into();
        f.consent_related_name = " Kim ".into();
        f.consent_related_relationship = " SPS ".into();
        let r = build_referral(&input(&f, None, &[]));
        let sr = &r.service_request;
        assert_eq!(sr["reasonCode"], json!([{"text": "Knee pain for 6 months"}]));
        assert_eq!(sr["note"][0]["text"], "Uses a cane.");
        assert_eq!(sr["priority"], "urgent");
        assert_eq!(sr["extension"][0]["valueCode"], "closest-to-patient");
        assert_eq!(sr["extension"][1]["valueCode"], "home");
        assert_eq!(r.consent["dateTime"], "2025-03-01");
        assert_eq!(r.consent["provision"]["type"], "deny");
        assert_eq!(r.consent["contained"][0]["name"][0]["text"], "Kim");
        assert_eq!(r.consent["contained"][0]["relationship"][0]["coding"][0]["code"], "SPS");
        let mut all_strings = Vec::new();
        fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
            match v {
                Value::String(s) => out.push(s),
                Value::Array(a) => a.iter().for_each(|c| strings(c, out)),
                Value::Object(m) => m.values().for_each(|c| strings(c, out)),
                _ => {}
            }
        }
        for res in all(&r) {
            strings(res, &mut all_strings);
        }
        assert!(all_strings.iter().all(|s| s.trim() == *s), "{all_strings:?}");
    }

    #[test]
    fn party_from_user_prefers_role_and_reads_the_name() {
        let prac = json!({
            "resourceType": "Practitioner",
            "id": "prac-1",
            "identifier": [{"value": "no-system"}, {"system": "https://example.org/cpso", "value": "12345"}],
            "name": [{"prefix": ["Dr."], "given": ["Ana", "M."], "family": "Lima"}]
        });
        let role = json!({"resourceType": "PractitionerRole", "id": "role-1"});
        let p = party_from_user(&prac, Some(&role));
        assert_eq!(p.reference.as_deref(), Some("PractitionerRole/role-1"));
        assert_eq!(p.display, "Dr. Ana M. Lima");
        assert_eq!(p.identifier, Some(("https://example.org/cpso".into(), "12345".into())));

        let p = party_from_user(&prac, None);
        assert_eq!(p.reference.as_deref(), Some("Practitioner/prac-1"));

        let prac =
            json!({"resourceType": "Practitioner", "id": "p2", "name": [{"text": " Dr Bo Chen ", "family": "Chen"}]});
        let p = party_from_user(&prac, None);
        assert_eq!(p.display, "Dr Bo Chen");
        assert!(p.identifier.is_none());

        let bare = json!({"resourceType": "Practitioner"});
        let role = json!({"resourceType": "PractitionerRole", "id": "r9", "practitioner": {"display": "Dr. X"}});
        let p = party_from_user(&bare, Some(&role));
        assert_eq!(
            p,
            Party { reference: Some("PractitionerRole/r9".into()), display: "Dr. X".into(), identifier: None }
        );
        assert_eq!(party_from_user(&bare, None), Party::default());
        assert_eq!(Party::default().to_reference(), Value::Null);
    }

    #[test]
    fn party_from_reference_reads_a_fhir_reference() {
        let p = party_from_reference(&json!({
            "reference": "Practitioner/p-2",
            "display": "Dr. Bo Chen",
            "identifier": {"system": "https://example.org/cpso", "value": "999"}
        }))
        .unwrap();
        assert_eq!(p.reference.as_deref(), Some("Practitioner/p-2"));
        assert_eq!(p.display, "Dr. Bo Chen");
        assert_eq!(p.identifier, Some(("https://example.org/cpso".into(), "999".into())));

        let p = party_from_reference(&json!({"reference": "#contained", "display": "Dr. Y"})).unwrap();
        assert_eq!(p, Party { reference: None, display: "Dr. Y".into(), identifier: None });
        assert!(party_from_reference(&json!({"reference": "#c"})).is_none());
        assert!(party_from_reference(&json!({})).is_none());
        assert!(party_from_reference(&json!("Practitioner/1")).is_none());

        let d = draft();
        let p = party_from_reference(&d["requester"]).unwrap();
        assert_eq!(p.to_reference(), json!({"reference": "Practitioner/p-2", "display": "Dr. Bo Chen"}));
    }

    #[test]
    fn missing_consent_date_falls_back_to_the_authoring_day() {
        let mut f = form();
        f.consent_date.clear();
        let r = build_referral(&input(&f, None, &[]));
        assert_eq!(r.consent["dateTime"], "2025-03-02");
    }

    #[test]
    fn prune_drops_every_empty_value() {
        let v =
            prune(json!({"a": null, "b": "", "c": [], "d": {}, "e": [null, {"f": " "}], "g": 0, "h": false, "i": "x"}));
        assert_eq!(v, json!({"g": 0, "h": false, "i": "x"}));
    }
}
