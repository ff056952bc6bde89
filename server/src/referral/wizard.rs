//! The wizard's server side: load a launch's draft, build what its pages show, and apply what the
//! clinician posts (plain form posts and autosave alike). Handlers and server functions stay thin.

use super::{attachments, prefill};
use crate::{
    directory::{Directory, Query, Service},
    fhir::display::{patient_banner, preferred_name},
    session::authorise::{authorised_session_as, Activity},
    smart::{now_unix, registry},
    state::AppState,
    store::{
        drafts::{self, Draft, DraftOwner, DraftStatus},
        sessions::{LaunchContext, SessionRow, UserRecord},
    },
};
use app::{
    api::LaunchView,
    error::AppError,
    referral::{
        form::ReferralForm,
        steps::{after_post, Nav, Step},
        validation::{submit_blocker, validate_step, FieldError, ValidationContext},
    },
    wizard_api::{AttachmentView, CloseView, DraftStatusView, ResumeOffer, ServiceOption, ServiceSearch, WizardView},
};
use axum::http::HeaderMap;
use serde_json::Value;

/// A launch and its draft, as one request sees them.
pub struct Wizard {
    pub session: SessionRow,
    pub context: LaunchContext,
    pub patient: Value,
    pub user: UserRecord,
    pub source_draft: Option<Value>,
    pub owner: DraftOwner,
    /// `None` when the draft was resumed by a later launch.
    pub draft: Option<Draft>,
}

/// Logs an internal failure (`what`, and the error: never PHI) and gives the clinician the plain
/// "something went wrong on our side".
pub fn internal<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> AppError {
    move |e| {
        tracing::error!(error = %e, "{what}");
        AppError::Internal
    }
}

/// Loads the launch `id` for this browser, creating its draft (pre-filled) on first use.
pub async fn load(state: &AppState, id: &str, headers: &HeaderMap) -> Result<Wizard, AppError> {
    load_as(state, id, headers, Activity::Active).await
}

/// [`load`], saying whether the request is the clinician's doing (see [`Activity`]).
pub async fn load_as(state: &AppState, id: &str, headers: &HeaderMap, activity: Activity) -> Result<Wizard, AppError> {
    let session = authorised_session_as(state, id, headers, activity).await?;
    let context = session.context().map_err(internal("stored launch context unreadable"))?;
    let patient = session.patient().map_err(internal("stored patient unreadable"))?;
    let user = session.user().map_err(internal("stored user unreadable"))?;
    let source_draft: Option<Value> = session
        .draft_json
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(internal("stored source draft unreadable"))?;
    let owner = DraftOwner {
        session_id: session.id.clone(),
        ehr_id: session.ehr_id.clone(),
        patient_id: session.patient_id.clone(),
        user_ref: session.user_ref.clone(),
    };
    let db = &state.db;
    let draft = match drafts::for_session(db, id).await.map_err(internal("draft lookup failed"))? {
        Some(d) => Some(d),
        None if drafts::moved_away(db, id).await.map_err(internal("draft lookup failed"))? => None,
        None => {
            let delegate = prefill::is_delegate(user.role.as_ref(), &state.config.referral.delegate_role_codes);
            let initial = || prefill::initial_form(source_draft.as_ref(), &state.directory, delegate);
            Some(
                drafts::get_or_create(db, &owner, initial, now_unix(), state.config.referral.draft_ttl_secs)
                    .await
                    .map_err(internal("draft creation failed"))?,
            )
        }
    };
    Ok(Wizard { session, context, patient, user, source_draft, owner, draft })
}

impl Wizard {
    pub fn validation(&self, state: &AppState) -> ValidationContext {
        ValidationContext {
            // A consent dated "today" anywhere on Earth is not in the future: allow UTC+14.
            today: date_of(now_unix() + 14 * 3600),
            delegate: prefill::is_delegate(self.user.role.as_ref(), &state.config.referral.delegate_role_codes),
            has_draft_requester: prefill::draft_requester(self.source_draft.as_ref()).is_some(),
        }
    }

    /// The launched user as shown: name, and role when launched as a PractitionerRole.
    pub fn user_display(&self) -> String {
        let mut name = preferred_name(&self.user.practitioner).unwrap_or_else(|| "Unnamed practitioner".into());
        if let Some(role) = self.user.role.as_ref().and_then(|r| {
            r.pointer("/code/0/text").or_else(|| r.pointer("/code/0/coding/0/display")).and_then(Value::as_str)
        }) {
            name = format!("{name} ({role})");
        }
        name
    }

    pub fn header(&self, state: &AppState) -> LaunchView {
        let ehr_name = registry::registration_by_id(&state.config, &self.session.ehr_id)
            .map(|e| e.name.clone())
            .unwrap_or_else(|| self.session.ehr_id.clone());
        LaunchView {
            ehr_name,
            patient: patient_banner(&self.patient),
            show_patient_banner: self.context.need_patient_banner,
            signed_in_as: self.user_display(),
        }
    }

    pub fn close_view(&self, state: &AppState) -> CloseView {
        let ehr = registry::registration_by_id(&state.config, &self.session.ehr_id);
        CloseView {
            ehr_name: ehr.map(|e| e.name.clone()).unwrap_or_default(),
            messaging_handle: self.context.messaging_handle.clone(),
            messaging_origin: self.context.messaging_origin.clone(),
            ehr_origins: ehr.map(|e| e.allowed_origins.clone()).unwrap_or_default(),
            return_url: self.context.return_url.clone(),
        }
    }

    /// The draft, or the reason this launch cannot edit it.
    pub fn editing(&self) -> Option<&Draft> {
        self.draft.as_ref().filter(|d| d.status == DraftStatus::Editing)
    }
}

/// `YYYY-MM-DD` (UTC) of a unix time.
pub fn date_of(unix: i64) -> String {
    let d = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH).date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Errors of `step` including what only the server knows: whether the chosen service exists,
/// accepts referrals, and offers the chosen code.
pub fn step_errors(step: Step, form: &ReferralForm, ctx: &ValidationContext, directory: &Directory) -> Vec<FieldError> {
    let mut errors = validate_step(step, form, ctx);
    if step == Step::Service && errors.is_empty() {
        match directory.get(&form.service_id) {
            None => errors.push(FieldError::new("service_id", "Choose one of the services listed.")),
            Some(s) if !s.accepting => errors.push(FieldError::new(
                "service_id",
                format!("{} is not accepting referrals at the moment. Choose another service.", s.name),
            )),
            Some(_) if directory.offering(&form.service_id, &form.code).is_none() => {
                errors.push(FieldError::new("code", "Choose one of the options this service offers."))
            }
            Some(_) => {}
        }
    }
    errors
}

/// Every step's completeness, in [`Step::ALL`] order (review is complete when all others are).
pub fn completeness(form: &ReferralForm, ctx: &ValidationContext, directory: &Directory) -> Vec<bool> {
    let mut done: Vec<bool> =
        Step::ALL.iter().map(|s| *s == Step::Review || step_errors(*s, form, ctx, directory).is_empty()).collect();
    let all = done.iter().all(|d| *d);
    if let Some(last) = done.last_mut() {
        *last = all;
    }
    done
}

/// What stops the referral from being sent: the first incomplete step's errors, or a refusal of consent.
pub fn blockers(form: &ReferralForm, ctx: &ValidationContext, directory: &Directory) -> Vec<(Step, String)> {
    let mut out: Vec<(Step, String)> = Step::ALL
        .iter()
        .flat_map(|s| step_errors(*s, form, ctx, directory).into_iter().map(move |e| (*s, e.message)))
        .collect();
    if let Some(b) = submit_blocker(form) {
        out.push((Step::Consent, b.to_string()));
    }
    out
}

pub fn service_option(s: &Service) -> ServiceOption {
    ServiceOption {
        id: s.id.clone(),
        name: s.name.clone(),
        provided_by: s.provided_by.clone(),
        category: s.category.as_ref().map(|(_, d)| d.clone()),
        codes: s.codes.iter().map(|c| (c.token(), c.display.clone())).collect(),
        eligibility: s.eligibility.clone(),
        comment: s.comment.clone(),
        accepting: s.accepting,
        typical_wait: s.typical_wait.clone(),
    }
}

fn human_size(bytes: i64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{} KB", (bytes + 1023) / 1024)
    }
}

/// The page for `requested` (a step slug, `done`, `cancel`, or `""` for where the clinician left off).
pub async fn view(
    state: &AppState,
    w: &Wizard,
    requested: &str,
    search: &ServiceSearch,
) -> Result<WizardView, AppError> {
    let directory = &state.directory;
    let ctx = w.validation(state);
    let cfg = &state.config.referral;
    let (status, draft_step, form, errors, revision, draft_id) = match &w.draft {
        None => (DraftStatusView::MovedElsewhere, Step::Service, ReferralForm::default(), vec![], 0, None),
        Some(d) => {
            let status = match d.status {
                DraftStatus::Editing => DraftStatusView::Editing,
                DraftStatus::Cancelled => DraftStatusView::Cancelled,
                DraftStatus::TimedOut => DraftStatusView::TimedOut,
                DraftStatus::Submitted => {
                    let (number, sr) = super::submit::referral_for_draft(&state.db, &d.id)
                        .await
                        .map_err(internal("referral lookup failed"))?
                        .unwrap_or_default();
                    if super::revoke::is_revoked(&state.db, &sr).await.map_err(internal("referral lookup failed"))? {
                        return Ok(revoked_view(w, state, number));
                    }
                    let delivery = super::delivery::delivery_view(state, &sr, requested == "done")
                        .await
                        .map_err(internal("delivery lookup failed"))?;
                    DraftStatusView::Submitted { referral_number: number, service_request_id: sr, delivery }
                }
            };
            (status, d.step, d.form.clone(), d.errors.clone(), d.revision, Some(d.id.clone()))
        }
    };
    let step = Step::from_slug(requested).unwrap_or(draft_step);
    // Errors belong to the step they were found on.
    let errors = if step == draft_step { errors } else { vec![] };
    let services = if step == Step::Service {
        let q = Query {
            text: search.text.clone(),
            category: search.category.clone(),
            accepting_only: search.accepting_only,
        };
        directory.search(&q).into_iter().map(service_option).collect()
    } else {
        vec![]
    };
    let attachment_rows = match &draft_id {
        Some(id) => attachments::list(&state.db, id).await.map_err(internal("attachment list failed"))?,
        None => vec![],
    };
    let resume = match (&w.draft, step) {
        (Some(d), Step::Service) if d.status == DraftStatus::Editing && d.revision == 0 => {
            drafts::resumable(&state.db, &w.owner, now_unix()).await.map_err(internal("resumable lookup failed"))?.map(
                |r| ResumeOffer {
                    service_name: directory.get(&r.form.service_id).map(|s| s.name.clone()),
                    reason_preview: (!r.form.reason.trim().is_empty())
                        .then(|| r.form.reason.trim().chars().take(80).collect()),
                    draft_id: r.id,
                    updated_at: r.updated_at,
                    attachments: r.attachments,
                },
            )
        }
        _ => None,
    };
    Ok(WizardView {
        launch: w.session.id.clone(),
        header: w.header(state),
        status,
        step,
        complete: completeness(&form, &ctx, directory),
        services,
        categories: directory.categories(),
        search: search.clone(),
        chosen: directory.get(&form.service_id).map(service_option),
        attachments: attachment_rows
            .into_iter()
            .map(|a| AttachmentView {
                id: a.id,
                filename: a.filename,
                content_type: a.content_type,
                size: human_size(a.size),
            })
            .collect(),
        max_attachment_mb: cfg.max_attachment_bytes.div_ceil(1024 * 1024),
        max_attachments: cfg.max_attachments,
        self_name: w.user_display(),
        draft_requester: prefill::draft_requester(w.source_draft.as_ref()),
        prefilled_from_ehr: w.source_draft.is_some(),
        resume,
        blockers: if step == Step::Review {
            blockers(&form, &ctx, directory).into_iter().map(|(s, m)| format!("{}: {m}", s.title())).collect()
        } else {
            vec![]
        },
        validation: ctx,
        form,
        errors,
        revision,
        inactivity_warn_secs: cfg.inactivity_warn_secs,
        inactivity_timeout_secs: cfg.inactivity_timeout_secs,
        close: w.close_view(state),
    })
}

/// Applies a posted step: keeps what was typed, validates, and returns where to go next.
pub async fn post_step(
    state: &AppState,
    w: &Wizard,
    step: Step,
    posted: &[(String, String)],
) -> Result<String, AppError> {
    let Some(draft) = w.editing() else {
        return Ok(done_path(&w.session.id));
    };
    let (form, nav) = apply_posted(&draft.form, step, posted);
    let ctx = w.validation(state);
    let errors = step_errors(step, &form, &ctx, &state.directory);
    let next = after_post(step, nav, &errors);
    let kept_errors = if next == step { errors } else { vec![] };
    let saved =
        drafts::save(&state.db, draft, &form, next, &kept_errors, now_unix(), state.config.referral.draft_ttl_secs)
            .await
            .map_err(internal("draft save failed"))?;
    if !saved {
        return Ok(done_path(&w.session.id));
    }
    let anchor = kept_errors.first().map(|e| format!("#field-{}", e.field)).unwrap_or_default();
    Ok(format!("{}{anchor}", step_path(&w.session.id, next)))
}

/// `form` with `step`'s fields from a posted form (other names are ignored), and where the
/// clinician asked to go (`nav`, default forward). Step posts and autosave read posts alike.
pub fn apply_posted(form: &ReferralForm, step: Step, posted: &[(String, String)]) -> (ReferralForm, Nav) {
    let mut nav = Nav::Next;
    let mut form = form.clone();
    let fields = step.fields();
    for (k, v) in posted {
        match k.as_str() {
            "nav" => nav = Nav::parse(v),
            // The service step's radio carries both: `{service_id}::{system}|{code}`.
            "pick" if step == Step::Service => form.set_pick(v),
            k if fields.contains(&k) => {
                form.set(k, v);
            }
            _ => {}
        }
    }
    (form, nav)
}

/// Autosave: the fields of `step` from `posted`, no validation, no move.
pub async fn autosave(state: &AppState, w: &Wizard, step: Step, posted: &[(String, String)]) -> Result<i64, AppError> {
    let Some(draft) = w.editing() else {
        return Err(AppError::LaunchUnavailable);
    };
    let (form, _) = apply_posted(&draft.form, step, posted);
    if form == draft.form {
        return Ok(draft.revision);
    }
    let saved = drafts::save(
        &state.db,
        draft,
        &form,
        draft.step,
        &draft.errors,
        now_unix(),
        state.config.referral.draft_ttl_secs,
    )
    .await
    .map_err(internal("draft autosave failed"))?;
    if !saved {
        return Err(AppError::LaunchUnavailable);
    }
    Ok(draft.revision + 1)
}

pub fn step_path(launch: &str, step: Step) -> String {
    format!("/l/{launch}/{}", step.slug())
}

/// The page of a revoked referral: nothing of its content.
fn revoked_view(w: &Wizard, state: &AppState, referral_number: String) -> WizardView {
    WizardView {
        launch: w.session.id.clone(),
        header: w.header(state),
        status: DraftStatusView::Revoked { referral_number },
        step: Step::Review,
        form: ReferralForm::default(),
        errors: vec![],
        validation: w.validation(state),
        complete: vec![],
        services: vec![],
        categories: vec![],
        search: Default::default(),
        chosen: None,
        attachments: vec![],
        max_attachment_mb: 0,
        max_attachments: 0,
        self_name: w.user_display(),
        draft_requester: None,
        prefilled_from_ehr: false,
        resume: None,
        blockers: vec![],
        revision: 0,
        inactivity_warn_secs: state.config.referral.inactivity_warn_secs,
        inactivity_timeout_secs: state.config.referral.inactivity_timeout_secs,
        close: w.close_view(state),
    }
}

pub fn done_path(launch: &str) -> String {
    format!("/l/{launch}/done")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posts_change_only_their_steps_fields() {
        let before = ReferralForm { reason: "kept".into(), ..Default::default() };
        let posted: Vec<(String, String)> =
            [("pick", "svc-a::http://snomed.info/sct|1"), ("reason", "not on this step"), ("nav", "back")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let (after, nav) = apply_posted(&before, Step::Service, &posted);
        assert_eq!((after.service_id.as_str(), after.code.as_str()), ("svc-a", "http://snomed.info/sct|1"));
        assert_eq!(after.reason, "kept");
        assert_eq!(nav, Nav::Back);
        let (after, nav) = apply_posted(&before, Step::Details, &posted);
        assert_eq!((after.service_id.as_str(), after.reason.as_str()), ("", "not on this step"));
        assert_eq!(nav, Nav::Back);
    }

    #[test]
    fn dates_are_utc_calendar_days() {
        assert_eq!(date_of(0), "1970-01-01");
        assert_eq!(date_of(1_795_305_600), "2026-11-22");
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_size(1), "1 KB");
        assert_eq!(human_size(240 * 1024), "240 KB");
        assert_eq!(human_size(3 * 1024 * 1024 + 512 * 1024), "3.5 MB");
    }
}
