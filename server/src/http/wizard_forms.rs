//! The wizard's plain HTML form posts (`/l/{launch}/do/...`): every step works without scripts.
//! Each handler checks the browser may use the launch and that the post came from our own pages,
//! applies the change, and answers `303 See Other` to the page to show next.

use crate::{
    error::PageError,
    http::origin_check,
    referral::{
        attachments::{self, AttachmentError, Limits},
        submit::{self, SubmitOutcome},
        wizard::{self, done_path, step_path, Wizard},
    },
    session::authorise::Activity,
    smart::now_unix,
    state::AppState,
    store::drafts::{self, DraftStatus},
};
use app::{
    error::AppError,
    referral::{steps::Step, validation::FieldError},
};
use axum::{
    body::Bytes,
    extract::{Multipart, Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::post,
    Json, Router,
};

pub fn router() -> Router<AppState> {
    // Body limits (uploads get the attachment size plus framing) are applied for the whole app in
    // `http::body_limit`.
    Router::new()
        .route("/l/{launch}/do/step/{step}", post(post_step))
        .route("/l/{launch}/do/autosave/{step}", post(autosave))
        .route("/l/{launch}/do/attach", post(attach))
        .route("/l/{launch}/do/detach/{attachment}", post(detach))
        .route("/l/{launch}/do/submit", post(submit_referral))
        .route("/l/{launch}/do/cancel", post(cancel))
        .route("/l/{launch}/do/resume/{draft}", post(resume))
        .route("/l/{launch}/do/fresh", post(fresh))
        .route("/l/{launch}/do/delivery", axum::routing::get(delivery_status))
}

/// A urlencoded form body as name/value pairs. Read leniently (a missing or odd content type is an
/// empty form): which fields count is decided by the step, and the origin check comes first.
fn pairs(body: &Bytes) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// Refuses posts that do not come from our own pages (CSRF; see [`origin_check`]).
pub(crate) fn same_origin(state: &AppState, headers: &HeaderMap) -> Result<(), PageError> {
    origin_check::check(headers, &state.config.public_url.origin().ascii_serialization()).map_err(|why| {
        tracing::warn!(?why, "form post refused: not from the app's own pages");
        PageError(AppError::CrossSite)
    })
}

async fn load(state: &AppState, launch: &str, headers: &HeaderMap) -> Result<Wizard, PageError> {
    same_origin(state, headers)?;
    Ok(wizard::load(state, launch, headers).await?)
}

fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}

/// The launch and the step a step post names.
async fn load_step(
    state: &AppState,
    launch: &str,
    step: &str,
    headers: &HeaderMap,
) -> Result<(Wizard, Step), PageError> {
    let w = load(state, launch, headers).await?;
    Ok((w, Step::from_slug(step).ok_or(PageError(AppError::BadRequest))?))
}

async fn post_step(
    State(state): State<AppState>,
    Path((launch, step)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let (w, step) = load_step(&state, &launch, &step, &headers).await?;
    Ok(see_other(&wizard::post_step(&state, &w, step, &pairs(&body)).await?))
}

/// Autosave from the browser glue: the step's form as posted, no validation, no move.
async fn autosave(
    State(state): State<AppState>,
    Path((launch, step)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let (w, step) = load_step(&state, &launch, &step, &headers).await?;
    match wizard::autosave(&state, &w, step, &pairs(&body)).await {
        Ok(revision) => Ok(Json(serde_json::json!({ "revision": revision })).into_response()),
        Err(AppError::LaunchUnavailable) => {
            Ok((StatusCode::CONFLICT, Json(serde_json::json!({ "closed": true }))).into_response())
        }
        Err(e) => Err(PageError(e)),
    }
}

async fn attach(
    State(state): State<AppState>,
    Path(launch): Path<String>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Result<Response, PageError> {
    let w = load(&state, &launch, &headers).await?;
    let Some(draft) = w.editing() else { return Ok(see_other(&done_path(&launch))) };
    let cfg = &state.config.referral;
    let limits = Limits { max_bytes: cfg.max_attachment_bytes, max_count: cfg.max_attachments };
    let mut upload: Option<(String, Vec<u8>)> = None;
    let mut problem: Option<AttachmentError> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => {
                let name = field.file_name().unwrap_or("").to_string();
                match field.bytes().await {
                    Ok(bytes) => upload = Some((name, bytes.to_vec())),
                    Err(e) => {
                        tracing::warn!(error = %e, "attachment upload could not be read");
                        problem = Some(AttachmentError::TooLarge {
                            name: attachments::clean_filename(&name),
                            max_mb: limits.max_bytes.div_ceil(1024 * 1024),
                        });
                        break;
                    }
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "attachment upload refused");
                problem = Some(AttachmentError::TooLarge {
                    name: "The file".into(),
                    max_mb: limits.max_bytes.div_ceil(1024 * 1024),
                });
                break;
            }
        }
    }
    let existing = attachments::count(&state.db, &draft.id).await.map_err(page_error("attachment count failed"))?;
    let outcome = match (problem, upload) {
        (Some(p), _) => Err(p),
        (None, None) => Err(AttachmentError::NoFile),
        (None, Some((name, bytes))) => attachments::check(&name, &bytes, limits, existing).map(|(n, t)| (n, t, bytes)),
    };
    let errors = match outcome {
        Ok((name, content_type, bytes)) => {
            let added = attachments::add(
                &state.db,
                &draft.id,
                (name.as_str(), content_type),
                &bytes,
                limits.max_count,
                now_unix(),
            )
            .await
            .map_err(page_error("attachment insert failed"))?;
            match added {
                attachments::Added::Yes(_) => vec![],
                attachments::Added::Full => {
                    vec![FieldError::new("file", AttachmentError::TooMany(limits.max_count).to_string())]
                }
                attachments::Added::Closed => return Ok(see_other(&done_path(&launch))),
            }
        }
        Err(e) => vec![FieldError::new("file", e.to_string())],
    };
    let anchor = if errors.is_empty() { "" } else { "#field-file" };
    drafts::save(&state.db, draft, &draft.form, Step::Attachments, &errors, now_unix(), cfg.draft_ttl_secs)
        .await
        .map_err(page_error("draft save failed"))?;
    Ok(see_other(&format!("{}{anchor}", step_path(&launch, Step::Attachments))))
}

async fn detach(
    State(state): State<AppState>,
    Path((launch, attachment)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let w = load(&state, &launch, &headers).await?;
    let Some(draft) = w.editing() else { return Ok(see_other(&done_path(&launch))) };
    attachments::remove(&state.db, &draft.id, &attachment).await.map_err(page_error("attachment delete failed"))?;
    drafts::save(
        &state.db,
        draft,
        &draft.form,
        Step::Attachments,
        &[],
        now_unix(),
        state.config.referral.draft_ttl_secs,
    )
    .await
    .map_err(page_error("draft save failed"))?;
    Ok(see_other(&step_path(&launch, Step::Attachments)))
}

async fn submit_referral(
    State(state): State<AppState>,
    Path(launch): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let w = load(&state, &launch, &headers).await?;
    Ok(match submit::submit(&state, &w).await? {
        SubmitOutcome::Sent { .. } | SubmitOutcome::Closed => see_other(&done_path(&launch)),
        SubmitOutcome::Incomplete(path) => see_other(&path),
    })
}

async fn cancel(
    State(state): State<AppState>,
    Path(launch): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let w = load(&state, &launch, &headers).await?;
    if let Some(draft) = w.editing() {
        let timed_out = pairs(&body).iter().any(|(k, v)| k == "reason" && v == "timeout");
        let to = if timed_out { DraftStatus::TimedOut } else { DraftStatus::Cancelled };
        drafts::finish_editing(&state.db, &draft.id, to, now_unix())
            .await
            .map_err(page_error("draft cancel failed"))?;
        tracing::info!(draft = %draft.id, outcome = to.as_str(), "referral abandoned; nothing sent");
    }
    Ok(see_other(&done_path(&launch)))
}

/// `{"state": "delivered"|"retrying"|"rejected", "text": …}` for the confirmation page's
/// glue, which refreshes the delivery line while it is not final. Only for this launch's browser.
async fn delivery_status(
    State(state): State<AppState>,
    Path(launch): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    // The page polls this on its own: it does not keep an idle launch alive.
    let w = wizard::load_as(&state, &launch, &headers, Activity::Passive).await?;
    let Some(draft) = w.draft.as_ref() else { return Err(PageError(AppError::BadRequest)) };
    let Some((_, sr)) =
        submit::referral_for_draft(&state.db, &draft.id).await.map_err(page_error("referral lookup failed"))?
    else {
        return Err(PageError(AppError::BadRequest));
    };
    let ehr = w.close_view(&state).ehr_name;
    let ehr = if ehr.is_empty() { "your EHR".to_string() } else { ehr };
    let revoked =
        crate::referral::revoke::is_revoked(&state.db, &sr).await.map_err(page_error("referral lookup failed"))?;
    let body = if revoked {
        serde_json::json!({ "state": "revoked", "text": "This referral was revoked: the patient withdrew consent." })
    } else {
        let view = crate::referral::delivery::delivery_view(&state, &sr, false)
            .await
            .map_err(page_error("delivery lookup failed"))?;
        serde_json::json!({ "state": view.slug(), "text": view.sentence(&ehr) })
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

async fn resume(
    State(state): State<AppState>,
    Path((launch, draft)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let w = load(&state, &launch, &headers).await?;
    let cfg = &state.config.referral;
    let moved = drafts::resume(&state.db, &w.owner, &draft, now_unix(), cfg.draft_ttl_secs)
        .await
        .map_err(page_error("draft resume failed"))?;
    if !moved {
        tracing::info!("draft resume refused: no longer resumable by this launch");
    }
    let w = wizard::load(&state, &launch, &headers).await?;
    let step = w.draft.as_ref().map(|d| d.step).unwrap_or(Step::Service);
    Ok(see_other(&step_path(&launch, step)))
}

/// "Start a new referral": keep this launch's own draft and stop offering the old one.
async fn fresh(
    State(state): State<AppState>,
    Path(launch): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let w = load(&state, &launch, &headers).await?;
    if let Some(d) = w.editing() {
        drafts::save(&state.db, d, &d.form, d.step, &[], now_unix(), state.config.referral.draft_ttl_secs)
            .await
            .map_err(page_error("draft save failed"))?;
    }
    Ok(see_other(&step_path(&launch, Step::Service)))
}

fn page_error<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> PageError {
    move |e| PageError(wizard::internal(what)(e))
}
