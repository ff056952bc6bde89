//! Submitting a referral: one transaction writes the ServiceRequest, its process-request Task, the
//! Consent, a DocumentReference per attachment, and the outbox row saying a
//! `notify-add-service-request` is due. The draft moves to `submitted` in the same transaction, so a
//! double click or a retried request finds the referral already made and never creates a second.

use super::{
    attachments,
    fhir_build::{self, AttachmentMeta, Party, ReferralIds, ReferralInput, RequestedService},
    wizard::{blockers, internal, step_errors, step_path, Wizard},
};
use crate::{
    config::EhrRegistration,
    fhir::{client::FhirReadError, identity},
    messaging::{
        event::Event,
        notify_bundle::{self, HeaderInput, MessageSource, NotifyAddInput},
    },
    smart::{
        access::{self, AccessError, EhrCallError},
        now_unix, registry,
    },
    state::AppState,
    store::{
        self,
        data_keys::seal_with,
        drafts::DraftStatus,
        referrals::NewReferral,
        submissions::{Notification, Recording, Submission},
        Db,
    },
};
use app::{error::AppError, referral::form::ReferralForm};
use serde_json::Value;

/// Our ServiceRequest/Task identifier system (the value is the referral number).
pub const REFERRAL_ID_SYSTEM: &str = "https://ereferral.dev/fhir/NamingSystem/referral-id";
/// System of licence numbers typed for an authorizing clinician who is not in the launch.
pub const LICENCE_SYSTEM: &str = "https://ereferral.dev/fhir/NamingSystem/practitioner-licence";
pub const NOTIFY_ADD_EVENT: &str = "notify-add-service-request";
/// `MessageHeader.source.name` and `software`.
pub const SOURCE_NAME: &str = "eReferral";
pub const SOURCE_SOFTWARE: &str = "ereferral-server";

/// The header fields of a message of `event` to `ehr`, as it wants events spelled;
/// `source_endpoint` is our `$process-message` URL.
pub fn message_header<'a>(
    ehr: &'a EhrRegistration,
    event: Event,
    (bundle_id, header_id): (&'a str, &'a str),
    timestamp: &'a str,
    source_endpoint: &'a str,
) -> HeaderInput<'a> {
    HeaderInput {
        bundle_id,
        header_id,
        timestamp,
        event_system: &ehr.process_message.event_system,
        event_code: event.emitted(ehr.process_message.event_spelling),
        event_display: event.display(),
        destination_name: &ehr.name,
        destination_endpoint: ehr.process_message.endpoint.as_str(),
        source: MessageSource {
            name: SOURCE_NAME,
            software: SOURCE_SOFTWARE,
            version: env!("CARGO_PKG_VERSION"),
            endpoint: source_endpoint,
        },
    }
}

/// Our FHIR base URL (`{public_url}fhir`, no trailing slash).
pub fn fhir_base(state: &AppState) -> String {
    format!("{}/fhir", state.config.public_url.as_str().trim_end_matches('/'))
}

/// Where the clinician goes after asking to submit.
pub enum SubmitOutcome {
    /// Created now, or found already created for this draft: `(referral number, ServiceRequest id)`.
    Sent { referral_number: String, service_request_id: String, created: bool },
    /// Not ready: the page to fix first (its errors are saved on the draft).
    Incomplete(String),
    /// The draft is not being edited any more (cancelled, timed out or moved).
    Closed,
}

/// `(referral number, ServiceRequest id)` of the referral made from draft `draft_id`, if any.
pub async fn referral_for_draft(db: &Db, draft_id: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    store::referrals::for_draft(db, draft_id).await
}

/// The authorizing clinician the form names.
pub fn requester(form: &ReferralForm, w: &Wizard) -> Party {
    match form.authorizer.as_str() {
        "draft" => w
            .source_draft
            .as_ref()
            .and_then(|d| d.get("requester"))
            .and_then(fhir_build::party_from_reference)
            .unwrap_or_else(|| submitter(w)),
        "other" => Party {
            reference: None,
            display: form.authorizer_name.trim().to_string(),
            identifier: Some(form.authorizer_licence.trim())
                .filter(|l| !l.is_empty())
                .map(|l| (LICENCE_SYSTEM.to_string(), l.to_string())),
        },
        _ => submitter(w),
    }
}

fn submitter(w: &Wizard) -> Party {
    fhir_build::party_from_user(&w.user.practitioner, w.user.role.as_ref())
}

pub async fn submit(state: &AppState, w: &Wizard) -> Result<SubmitOutcome, AppError> {
    let Some(draft) = w.draft.as_ref() else { return Ok(SubmitOutcome::Closed) };
    match draft.status {
        DraftStatus::Editing => {}
        DraftStatus::Submitted => return existing(state, &draft.id).await,
        DraftStatus::Cancelled | DraftStatus::TimedOut => return Ok(SubmitOutcome::Closed),
    }
    let form = &draft.form;
    let ctx = w.validation(state);
    if let Some((step, _)) = blockers(form, &ctx, &state.directory).first() {
        let errors = step_errors(*step, form, &ctx, &state.directory);
        crate::store::drafts::save(
            &state.db,
            draft,
            form,
            *step,
            &errors,
            now_unix(),
            state.config.referral.draft_ttl_secs,
        )
        .await
        .map_err(|e| internal("draft save failed")(e))?;
        return Ok(SubmitOutcome::Incomplete(step_path(&w.session.id, *step)));
    }
    let Some((service, code)) = state.directory.offering(&form.service_id, &form.code) else {
        return Ok(SubmitOutcome::Incomplete(step_path(&w.session.id, app::referral::steps::Step::Service)));
    };
    confirm_patient(state, w).await?;

    let now = now_unix();
    let files = attachments::list(&state.db, &draft.id).await.map_err(internal("attachment list failed"))?;
    let Some(ehr) = registry::registration_by_id(&state.config, &w.session.ehr_id) else {
        return Err(internal("submit: the launch's EHR is no longer registered")(w.session.ehr_id.clone()));
    };
    let ids = Ids::new();
    // A fresh number is drawn and held in the submit's own transaction; only when it is taken (at
    // about 40 bits, rare) is one reserved on its own first, and the referral built again with it.
    let mut number = super::number::random();
    for _ in 0..2 {
        let submission = Made::build(state, w, form, (service, code), ehr, &files, &ids, &number, now)?
            .into_submission(w, draft, ehr, &files);
        let recording = store::submissions::record(&state.db, submission)
            .await
            .map_err(internal("submit: recording the referral failed"))?;
        match recording {
            Recording::Done => {
                state.outbox.recorded();
                tracing::info!(referral = %ids.service_request, service = %service.id, attachments = files.len(),
                    "referral submitted");
                return Ok(SubmitOutcome::Sent {
                    referral_number: number,
                    service_request_id: ids.service_request,
                    created: true,
                });
            }
            Recording::AlreadySubmitted => return existing(state, &draft.id).await,
            Recording::NumberTaken => {
                tracing::info!("referral number collision: reserving another");
                // A write like the submit's own: queued at the gate, not in SQLite's busy handler.
                let _gate = state.db.write_gate().await;
                number = super::number::reserve(&state.db, &draft.id, now, super::number::random)
                    .await
                    .map_err(internal("submit: reserving a referral number failed"))?;
            }
        }
    }
    Err(internal("submit: the reserved referral number could not be held")(draft.id.clone()))
}

/// The ids a referral's resources and its message get (the same when it is built again).
struct Ids {
    service_request: String,
    task: String,
    consent: String,
    related_person: String,
    bundle: String,
    header: String,
}

impl Ids {
    fn new() -> Self {
        Ids {
            service_request: uuid(),
            task: uuid(),
            consent: uuid(),
            related_person: uuid(),
            bundle: uuid(),
            header: uuid(),
        }
    }
}

/// A referral's resources and its checked `notify-add-service-request`, as recorded.
struct Made<'a> {
    ids: &'a Ids,
    number: &'a str,
    service_id: &'a str,
    built: fhir_build::ReferralResources,
    message: String,
    now: i64,
}

impl<'a> Made<'a> {
    #[allow(clippy::too_many_arguments)]
    fn build(
        state: &AppState,
        w: &Wizard,
        form: &ReferralForm,
        (service, code): (&'a crate::directory::Service, &crate::directory::ServiceCode),
        ehr: &EhrRegistration,
        files: &[store::drafts::AttachmentRow],
        ids: &'a Ids,
        number: &'a str,
        now: i64,
    ) -> Result<Self, AppError> {
        let authored_on = rfc3339(now);
        let created: Vec<String> = files.iter().map(|a| rfc3339(a.created_at)).collect();
        let metas: Vec<AttachmentMeta> = files
            .iter()
            .zip(&created)
            .map(|(a, created)| AttachmentMeta {
                id: &a.id,
                filename: &a.filename,
                content_type: &a.content_type,
                size: a.size as u64,
                sha1_base64: &a.sha1,
                created,
            })
            .collect();
        let ehr_base = ehr.issuer.as_str().trim_end_matches('/').to_string();
        let our_base = fhir_base(state);
        let patient_ref = format!("{ehr_base}/Patient/{}", w.session.patient_id);
        let header = w.header(state);
        let input = ReferralInput {
            ids: ReferralIds {
                service_request: &ids.service_request,
                task: &ids.task,
                consent: &ids.consent,
                related_person: &ids.related_person,
            },
            identifier_system: REFERRAL_ID_SYSTEM,
            referral_number: number,
            form,
            service: RequestedService {
                id: &service.id,
                name: &service.name,
                system: &code.system,
                code: &code.code,
                display: &code.display,
            },
            patient: &patient_ref,
            patient_display: &header.patient.name,
            encounter: w.context.encounter.as_deref(),
            requester: requester(form, w),
            submitter: submitter(w),
            source_draft: w.source_draft.as_ref(),
            intent: w
                .context
                .intent
                .as_deref()
                .filter(|i| *i == "order" || *i == "plan" || *i == "proposal")
                .unwrap_or("order"),
            authored_on: &authored_on,
            attachments: &metas,
            fhir_base: &our_base,
            ehr_base: &ehr_base,
        };
        let built = fhir_build::build_referral(&input);

        // The message is built and checked now, so what is recorded is exactly what every
        // delivery attempt sends, and a bundle whose copies disagree never becomes a referral.
        let event = Event::NotifyAddServiceRequest;
        let source_endpoint = format!("{our_base}/$process-message");
        let message = notify_bundle::build_notify_add(&NotifyAddInput {
            header: message_header(ehr, event, (&ids.bundle, &ids.header), &authored_on, &source_endpoint),
            fhir_base: &our_base,
            ehr_base: &ehr_base,
            service_request: &built.service_request,
            task: &built.task,
            consent: &built.consent,
            documents: &built.documents,
            questionnaire_response: None,
            healthcare_service: &service.resource,
            patient: &w.patient,
            practitioner: Some(&w.user.practitioner).filter(|p| p.get("id").is_some()),
            practitioner_role: w.user.role.as_ref().filter(|r| r.get("id").is_some()),
        })
        .map_err(|e| internal("submit: the notify-add-service-request message failed its checks")(e))?
        .to_string();
        Ok(Made { ids, number, service_id: &service.id, built, message, now })
    }
}

impl Made<'_> {
    /// What the store records: everything owned, the PHI sealed under the draft's data key (which
    /// a revoke destroys), so nothing is left to do at the write gate but the writes.
    fn into_submission(
        self,
        w: &Wizard,
        draft: &store::drafts::Draft,
        ehr: &EhrRegistration,
        files: &[store::drafts::AttachmentRow],
    ) -> Submission {
        let key = draft.key.as_ref();
        let seal = |v: &Value| seal_with(key, &v.to_string());
        let built = &self.built;
        let text = |pointer: &str, default: &str| {
            built.task.pointer(pointer).and_then(Value::as_str).unwrap_or(default).to_string()
        };
        let referral = NewReferral {
            key_id: key.map(|k| k.id.clone()),
            id: self.ids.service_request.clone(),
            referral_number: self.number.to_string(),
            draft_id: draft.id.clone(),
            session_id: w.session.id.clone(),
            ehr_id: w.session.ehr_id.clone(),
            patient_id: w.session.patient_id.clone(),
            service_id: self.service_id.to_string(),
            task_id: self.ids.task.clone(),
            task_status: text("/status", "requested"),
            business_status: text("/businessStatus/coding/0/code", "2.0"),
            service_request_json: seal(&built.service_request),
            task_json: seal(&built.task),
            consent_json: seal(&built.consent),
            patient_json: seal_with(key, &w.session.patient_json),
            user_json: w.session.user_json.clone(),
            created_at: self.now,
            practitioner_ref: w
                .user
                .practitioner
                .get("id")
                .and_then(Value::as_str)
                .map(|id| format!("Practitioner/{id}")),
            requester_ref: built
                .service_request
                .pointer("/requester/reference")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        Submission {
            documents: files.iter().zip(&built.documents).map(|(f, doc)| (f.id.clone(), seal(doc))).collect(),
            notification: Notification {
                bundle_id: self.ids.bundle.clone(),
                message_header_id: self.ids.header.clone(),
                event: NOTIFY_ADD_EVENT,
                endpoint: ehr.process_message.endpoint.as_str().to_string(),
                body: seal_with(key, &self.message),
            },
            referral,
        }
    }
}

/// Reads the launched patient again from the EHR just before the referral is recorded, through the
/// session's access path: a merged or replaced record, or an EHR now answering with another
/// patient, stops the referral (nothing is sent; the draft stays). When the EHR cannot be reached
/// the referral goes ahead on the launch's own check.
async fn confirm_patient(state: &AppState, w: &Wizard) -> Result<(), AppError> {
    let patient_id = &w.session.patient_id;
    match access::read(state, &w.session, "Patient", patient_id).await {
        Ok(patient) => identity::is_resource(&patient, "Patient", patient_id).map_err(|m| {
            tracing::error!(target: "safety", ehr = %w.session.ehr_id, session = %&w.session.id[..8], mismatch = %m,
                "at submit the EHR returned another patient than the launch named; nothing was sent");
            AppError::WrongPatient
        }),
        Err(EhrCallError::Access(AccessError::WrongPatient)) => Err(AppError::WrongPatient),
        Err(EhrCallError::Access(AccessError::Ended(why))) => {
            tracing::info!(session = %&w.session.id[..8], why, "submit stopped: the launch's EHR access has ended");
            Err(AppError::EhrSignInEnded)
        }
        Err(EhrCallError::Read { reason: FhirReadError::NotFound, .. }) => {
            tracing::warn!(target: "safety", ehr = %w.session.ehr_id, session = %&w.session.id[..8],
                "at submit the EHR no longer has the launched patient; nothing was sent");
            Err(AppError::PatientGone)
        }
        Err(EhrCallError::Read { reason: FhirReadError::WrongType { found, .. }, .. }) => {
            tracing::error!(target: "safety", ehr = %w.session.ehr_id, found = %found,
                "at submit the EHR returned something else than the Patient; nothing was sent");
            Err(AppError::WrongPatient)
        }
        Err(e) => {
            tracing::warn!(session = %&w.session.id[..8], error = %e,
                "the patient could not be read again before submit; sending on the launch's check");
            Ok(())
        }
    }
}

async fn existing(state: &AppState, draft_id: &str) -> Result<SubmitOutcome, AppError> {
    match referral_for_draft(&state.db, draft_id).await.map_err(|e| internal("referral lookup failed")(e))? {
        Some((referral_number, service_request_id)) => {
            Ok(SubmitOutcome::Sent { referral_number, service_request_id, created: false })
        }
        None => Ok(SubmitOutcome::Closed),
    }
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
