//! `GET /callback?code=…&state=…`: the EHR launch's second leg. Consumes the state once,
//! exchanges the code, verifies the id_token, reads the patient and the user in parallel, and
//! creates the launch-scoped session.

use super::{
    id_token,
    launch_reads::{read_launch, read_user, LaunchReadError, Reader, Wanted},
    now_unix, random_token, registry, token,
    token_response::absolute_fhir_context,
};
use crate::{
    config::EhrRegistration,
    error::LaunchError,
    fhir::{
        client::{is_fhir_id, Expect},
        identity::Mismatch,
        reference::{parse_reference, Reference},
    },
    http::{client_addr, server_timing::Stopwatch},
    session::binding,
    state::AppState,
    store::{launches as pending, sessions as store},
};
use axum::{
    extract::{Query, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

#[derive(Debug, Deserialize)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Whether this browser is the one that called `/launch` for `pending`: its state cookie, or, when
/// it sends none, its fingerprint.
fn same_browser(pending: &pending::PendingLaunch, headers: &HeaderMap) -> bool {
    let presented = binding::presented(headers, &binding::state_cookie_name(&pending.state));
    let fingerprint = binding::fingerprint(client_addr::of(headers), headers);
    matches!(
        binding::check(&pending.binding_hash, false, presented.as_deref(), &pending.fingerprint, &fingerprint),
        binding::BindingCheck::FirstBound | binding::BindingCheck::Cookieless
    )
}

pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<CallbackParams>,
) -> Result<Response, LaunchError> {
    let state_param = p.state.clone().filter(|s| !s.is_empty() && s.len() <= 128);
    let mut response = landing(&state, &headers, p, state_param.as_deref()).await?;
    // The state cookie has done its job (it would expire with the pending launch anyway).
    if let Some(cookie) =
        state_param.as_deref().and_then(|s| HeaderValue::from_str(&binding::clear_state_cookie(s)).ok())
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The callback's work; a successful launch lands on its session.
async fn landing(
    state: &AppState,
    headers: &HeaderMap,
    p: CallbackParams,
    state_param: Option<&str>,
) -> Result<Response, LaunchError> {
    let mut stopwatch = Stopwatch::new();
    let now = now_unix();
    let pending = match state_param {
        Some(s) => pending::find(&state.db, s, now)
            .await
            .map_err(|e| LaunchError::Internal(format!("find pending launch: {e}")))?,
        None => None,
    };
    // A callback opened in another browser neither uses nor burns the real browser's launch.
    if let Some(found) = &pending {
        if !same_browser(found, headers) {
            tracing::warn!(ehr = %found.ehr_id, "callback refused: not the browser that started the launch");
            return Err(LaunchError::WrongBrowser);
        }
    }
    let pending = match pending {
        Some(found) => {
            let taken = pending::take(&state.db, &found.state)
                .await
                .map_err(|e| LaunchError::Internal(format!("take pending launch: {e}")))?;
            taken.then_some(found)
        }
        None => None,
    };
    if let Some(error) = p.error {
        // The state (if it was ours) is burnt either way: a denied launch cannot be resumed.
        return Err(LaunchError::AuthorizationDenied {
            code: token::safe_error_code(&error),
            description: p.error_description.map(|d| d.chars().take(200).collect()),
        });
    }
    let pending = pending.ok_or(LaunchError::StateInvalid)?;
    let code = p.code.filter(|c| !c.is_empty() && c.len() <= 4096).ok_or(LaunchError::MissingParameter("code"))?;
    let ehr = registry::registration_by_id(&state.config, &pending.ehr_id)
        .ok_or_else(|| LaunchError::Internal(format!("EHR {} no longer registered", pending.ehr_id)))?;
    let smart =
        stopwatch.ehr(state.smart.discovery.get(&state.smart.http, ehr)).await.map_err(LaunchError::from_discovery)?;

    let (tokens, context) = stopwatch
        .ehr(token::exchange_code(
            &state.smart.http,
            ehr,
            state.smart.signers.get(&ehr.id),
            &smart.token,
            &state.config.redirect_uri(),
            &code,
            &pending.pkce_verifier,
        ))
        .await
        .map_err(|e| {
            state.smart.discovery.forget(ehr);
            LaunchError::TokenExchange(e.to_string())
        })?;

    let raw_id_token =
        context.id_token.as_deref().ok_or_else(|| LaunchError::IdToken("no id_token in the token response".into()))?;
    let identity = stopwatch
        .ehr(id_token::verify(
            &state.smart.http,
            &state.smart.jwks,
            &smart.jwks,
            &smart.oidc_issuer,
            &ehr.client_id,
            &pending.nonce,
            raw_id_token,
        ))
        .await
        .map_err(|e| LaunchError::IdToken(e.to_string()))?;

    let user_ref = identity
        .fhir_user
        .as_deref()
        .and_then(|u| parse_reference(u, &ehr.issuer))
        .filter(|r| matches!(r.resource_type.as_str(), "Practitioner" | "PractitionerRole"))
        .ok_or(LaunchError::MissingUser)?;
    let reader = Reader {
        http: &state.smart.http,
        base: &ehr.issuer,
        access: &tokens.access_token,
        expect: Expect::fhir_read(state.config.fhir_read_max_bytes),
    };
    if pending.launch.is_empty() {
        return standalone_sign_in(state, ehr, &reader, &user_ref, stopwatch).await;
    }
    let patient_id = context.patient.clone().ok_or(LaunchError::MissingPatient)?;
    let draft_id = context.fhir_context.iter().find_map(|c| {
        let r = parse_reference(c.get("reference")?.as_str()?, &ehr.issuer)?;
        (r.resource_type == "ServiceRequest").then_some(r.id)
    });
    let wanted = Wanted {
        patient_id: &patient_id,
        user: &user_ref,
        draft_id: draft_id.as_deref(),
        encounter_id: context.encounter.as_deref(),
    };
    let data = stopwatch.ehr(read_launch(&reader, &wanted)).await.map_err(|e| launch_read_failed(ehr, e))?;

    let session_id = random_token(32);
    let binding_secret = random_token(32);
    let token_expires_at = tokens.expires_at(now);
    let expires_at = now + state.config.session_ttl_secs as i64;
    let new = store::NewSession {
        id: session_id.clone(),
        binding_hash: binding::hash_secret(&binding_secret),
        fingerprint: binding::fingerprint(client_addr::of(headers), headers),
        ehr_id: ehr.id.clone(),
        patient_id,
        user_ref: format!("{}/{}", user_ref.resource_type, user_ref.id),
        context: store::LaunchContext {
            encounter: data.encounter,
            fhir_context: absolute_fhir_context(&context.fhir_context, &ehr.issuer),
            need_patient_banner: context.need_patient_banner.unwrap_or(true),
            smart_style_url: context.smart_style_url.clone(),
            intent: context.intent.clone(),
            tenant: context.tenant.clone(),
            messaging_handle: context.smart_web_messaging_handle.clone(),
            messaging_origin: context
                .smart_web_messaging_origin
                .clone()
                .filter(|o| ehr.allowed_origins.iter().any(|a| a == o.trim_end_matches('/'))),
            return_url: context.ereferral_return_url.clone().filter(|u| return_url_allowed(u, ehr)),
            id_token_subject: identity.subject,
        },
        patient: data.patient,
        user: data.user,
        draft: data.draft,
        tokens,
        token_expires_at,
        created_at: now,
        expires_at,
    };
    store::insert(&state.db, &state.cipher, &new)
        .await
        .map_err(|e| LaunchError::Internal(format!("store session: {e}")))?;
    tracing::info!(ehr = %ehr.id, session = %&session_id[..8], "launch completed");

    // A launch whose intent is to see referrals opens the patient's status list; any other the wizard.
    let landing = if context.intent.as_deref() == Some("referral-status") {
        format!("/l/{session_id}/referrals")
    } else {
        format!("/l/{session_id}")
    };
    let mut response = Redirect::to(&landing).into_response();
    response.headers_mut().extend([stopwatch.header()]);
    let cookie = binding::set_cookie_value(&session_id, &binding_secret, state.config.session_ttl_secs);
    response.headers_mut().append(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("cookie is ASCII"));
    Ok(response)
}

/// A failed or mismatched read during the launch, as the clinician's error; a mismatch is logged
/// as a safety event (ids only).
fn launch_read_failed(ehr: &EhrRegistration, e: LaunchReadError) -> LaunchError {
    match e {
        LaunchReadError::Read { resource, reason } => LaunchError::FhirRead { resource, reason },
        LaunchReadError::WrongPatient(m) => {
            tracing::error!(target: "safety", ehr = %ehr.id, mismatch = %m, "the EHR returned another patient than the launch named; nothing was stored");
            LaunchError::WrongPatient { resource: mismatch_resource(&m) }
        }
        LaunchReadError::WrongUser(m) => {
            tracing::error!(target: "safety", ehr = %ehr.id, mismatch = %m, "the EHR returned another user than fhirUser names; nothing was stored");
            LaunchError::WrongUser { resource: mismatch_resource(&m) }
        }
    }
}

fn mismatch_resource(m: &Mismatch) -> &'static str {
    match m {
        Mismatch::OtherResource { resource_type, .. } | Mismatch::OtherSubject { resource_type, .. } => resource_type,
    }
}

/// A standalone launch: the EHR signed a practitioner in (no patient). Their own session shows
/// "my referrals" across patients.
async fn standalone_sign_in(
    state: &AppState,
    ehr: &EhrRegistration,
    reader: &Reader<'_>,
    user_ref: &Reference,
    mut stopwatch: Stopwatch,
) -> Result<Response, LaunchError> {
    let user = stopwatch.ehr(read_user(reader, user_ref)).await.map_err(|e| launch_read_failed(ehr, e))?;
    let practitioner_id = user
        .practitioner
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| is_fhir_id(id))
        .ok_or(LaunchError::MissingUser)?;
    let display = crate::fhir::display::preferred_name(&user.practitioner).unwrap_or_else(|| "Practitioner".into());
    let (id, cookie) =
        crate::my_referrals::session::create(state, &ehr.id, &format!("Practitioner/{practitioner_id}"), &display)
            .await
            .map_err(|e| LaunchError::Internal(format!("store practitioner session: {e}")))?;
    tracing::info!(ehr = %ehr.id, session = %&id[..8], "standalone sign-in completed");
    let mut response = Redirect::to(&format!("/me/{id}")).into_response();
    response.headers_mut().extend([stopwatch.header()]);
    response.headers_mut().append(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("cookie is ASCII"));
    Ok(response)
}

/// Link-mode return URLs must point at one of the EHR's registered origins.
fn return_url_allowed(url: &str, ehr: &EhrRegistration) -> bool {
    Url::parse(url).is_ok_and(|u| ehr.allowed_origins.iter().any(|o| *o == u.origin().ascii_serialization()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_sanitised() {
        assert_eq!(token::safe_error_code("access_denied"), "access_denied");
        assert_eq!(token::safe_error_code("<script>"), "invalid_error_code");
    }

    #[test]
    fn return_urls_only_to_registered_origins() {
        let ehr = crate::config::tests_support::registration("http://127.0.0.1:3100/fhir");
        assert!(return_url_allowed("http://127.0.0.1:3100/?returned=1", &ehr));
        assert!(!return_url_allowed("http://evil.example/?x", &ehr));
        assert!(!return_url_allowed("javascript:alert(1)", &ehr));
    }
}
