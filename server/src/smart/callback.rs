//! `GET /callback?code=…&state=…`: the EHR launch's second leg. Consumes the state once,
//! exchanges the code, verifies the id_token, reads the patient and the user in parallel, and
//! creates the launch-scoped session.

use super::{discovery::SmartConfiguration, id_token, now_unix, pending, random_token, registry, token};
use crate::{
    config::EhrRegistration,
    error::LaunchError,
    fhir::{
        client::{get_json, is_fhir_id, read_resource, FhirReadError},
        reference::parse_reference,
    },
    http::server_timing::Stopwatch,
    session::{binding, store},
    state::AppState,
};
use axum::{
    extract::{Query, State},
    http::{header, HeaderValue},
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

/// OAuth error codes are short ASCII words; anything else is not echoed anywhere.
fn safe_error_code(code: &str) -> String {
    if code.len() <= 64 && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        code.to_string()
    } else {
        "invalid_error_code".to_string()
    }
}

pub async fn callback(State(state): State<AppState>, Query(p): Query<CallbackParams>) -> Result<Response, LaunchError> {
    let mut stopwatch = Stopwatch::new();
    let now = now_unix();
    let state_param = p.state.filter(|s| !s.is_empty() && s.len() <= 128);
    let pending = match &state_param {
        Some(s) => pending::take(&state.db, s, now)
            .await
            .map_err(|e| LaunchError::Internal(format!("take pending launch: {e}")))?,
        None => None,
    };
    if let Some(error) = p.error {
        // The state (if it was ours) is burnt either way: a denied launch cannot be resumed.
        return Err(LaunchError::AuthorizationDenied {
            code: safe_error_code(&error),
            description: p.error_description.map(|d| d.chars().take(200).collect()),
        });
    }
    let pending = pending.ok_or(LaunchError::StateInvalid)?;
    let code = p.code.filter(|c| !c.is_empty() && c.len() <= 4096).ok_or(LaunchError::MissingParameter("code"))?;
    let ehr = registry::registration_by_id(&state.config, &pending.ehr_id)
        .ok_or_else(|| LaunchError::Internal(format!("EHR {} no longer registered", pending.ehr_id)))?;
    let smart = stopwatch
        .ehr(state.smart.discovery.get(&state.smart.http, &ehr.issuer))
        .await
        .map_err(|e| LaunchError::Discovery(e.to_string()))?;

    let (tokens, context) = stopwatch
        .ehr(token::exchange_code(
            &state.smart.http,
            ehr,
            state.smart.signers.get(&ehr.id),
            &smart.token_endpoint,
            &state.config.redirect_uri(),
            &code,
            &pending.pkce_verifier,
        ))
        .await
        .map_err(|e| {
            state.smart.discovery.forget(&ehr.issuer);
            LaunchError::TokenExchange(e.to_string())
        })?;

    let raw_id_token =
        context.id_token.as_deref().ok_or_else(|| LaunchError::IdToken("no id_token in the token response".into()))?;
    let (issuer, jwks_uri) = stopwatch.ehr(oidc_endpoints(&state, ehr, &smart)).await?;
    let identity = id_token::verify(
        &state.smart.http,
        &state.smart.jwks,
        &jwks_uri,
        &issuer,
        &ehr.client_id,
        &pending.nonce,
        raw_id_token,
    )
    .await
    .map_err(|e| LaunchError::IdToken(e.to_string()))?;

    if pending.launch.is_empty() {
        return standalone_sign_in(&state, ehr, identity.fhir_user.as_deref(), &tokens.access_token, stopwatch).await;
    }
    let patient_id = context.patient.clone().filter(|p| is_fhir_id(p)).ok_or(LaunchError::MissingPatient)?;
    let user_ref = identity
        .fhir_user
        .as_deref()
        .and_then(|u| parse_reference(u, &ehr.issuer))
        .filter(|r| matches!(r.resource_type.as_str(), "Practitioner" | "PractitionerRole"))
        .ok_or(LaunchError::MissingUser)?;
    let draft_id = context.fhir_context.iter().find_map(|c| {
        let r = parse_reference(c.get("reference")?.as_str()?, &ehr.issuer)?;
        (r.resource_type == "ServiceRequest").then_some(r.id)
    });

    let http = &state.smart.http;
    let base = &ehr.issuer;
    let access = tokens.access_token.as_str();
    let (patient, user, draft) = stopwatch
        .ehr(async {
            tokio::join!(
                read_resource(http, base, "Patient", &patient_id, access),
                read_user(http, base, &user_ref.resource_type, &user_ref.id, access),
                async {
                    match &draft_id {
                        Some(id) => read_resource(http, base, "ServiceRequest", id, access).await.map(Some),
                        None => Ok(None),
                    }
                }
            )
        })
        .await;
    let patient = patient.map_err(|reason| LaunchError::FhirRead { resource: "Patient", reason })?;
    let user = user.map_err(|(resource, reason)| LaunchError::FhirRead { resource, reason })?;
    let draft = match draft {
        Ok(d) => d.filter(|d| draft_is_for(d, &patient_id)),
        Err(e) => {
            // A missing draft does not stop the referral: the clinician fills the form instead.
            tracing::warn!(ehr = %ehr.id, error = %e, "draft ServiceRequest from fhirContext could not be read");
            None
        }
    };

    let session_id = random_token(32);
    let binding_secret = random_token(32);
    let token_expires_at = tokens.expires_at(now);
    let expires_at = now + state.config.session_ttl_secs as i64;
    let new = store::NewSession {
        id: session_id.clone(),
        binding_hash: binding::hash_secret(&binding_secret),
        ehr_id: ehr.id.clone(),
        patient_id,
        user_ref: format!("{}/{}", user_ref.resource_type, user_ref.id),
        context: store::LaunchContext {
            encounter: context.encounter.clone(),
            fhir_context: context.fhir_context.clone(),
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
        patient,
        user,
        draft,
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

/// A standalone launch: the EHR signed a practitioner in (no patient). Their own session shows
/// "my referrals" across patients.
async fn standalone_sign_in(
    state: &AppState,
    ehr: &EhrRegistration,
    fhir_user: Option<&str>,
    access: &str,
    mut stopwatch: Stopwatch,
) -> Result<Response, LaunchError> {
    let user_ref = fhir_user
        .and_then(|u| parse_reference(u, &ehr.issuer))
        .filter(|r| matches!(r.resource_type.as_str(), "Practitioner" | "PractitionerRole"))
        .ok_or(LaunchError::MissingUser)?;
    let user = stopwatch
        .ehr(read_user(&state.smart.http, &ehr.issuer, &user_ref.resource_type, &user_ref.id, access))
        .await
        .map_err(|(resource, reason)| LaunchError::FhirRead { resource, reason })?;
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

/// The OIDC issuer and JWKS: from the SMART configuration, else from OpenID discovery.
async fn oidc_endpoints(
    state: &AppState,
    ehr: &EhrRegistration,
    smart: &SmartConfiguration,
) -> Result<(String, Url), LaunchError> {
    let issuer = smart.issuer.clone().unwrap_or_else(|| ehr.issuer.clone());
    let issuer_str = issuer.as_str().trim_end_matches('/').to_string();
    if let Some(jwks) = &smart.jwks_uri {
        return Ok((issuer_str, jwks.clone()));
    }
    let url = Url::parse(&format!("{issuer_str}/.well-known/openid-configuration"))
        .map_err(|e| LaunchError::Discovery(e.to_string()))?;
    let doc = get_json(&state.smart.http, &url, "application/json")
        .await
        .map_err(|e| LaunchError::Discovery(e.to_string()))?;
    let jwks = doc
        .get("jwks_uri")
        .and_then(Value::as_str)
        .and_then(|u| Url::parse(u).ok())
        .filter(super::discovery::endpoint_allowed)
        .ok_or_else(|| LaunchError::Discovery("openid-configuration has no usable jwks_uri".into()))?;
    Ok((issuer_str, jwks))
}

/// The user's Practitioner, and their PractitionerRole when `fhirUser` names one.
async fn read_user(
    http: &reqwest::Client,
    base: &Url,
    resource_type: &str,
    id: &str,
    access: &str,
) -> Result<store::UserRecord, (&'static str, FhirReadError)> {
    if resource_type == "Practitioner" {
        let practitioner =
            read_resource(http, base, "Practitioner", id, access).await.map_err(|e| ("Practitioner", e))?;
        return Ok(store::UserRecord { practitioner, role: None });
    }
    let role = read_resource(http, base, "PractitionerRole", id, access).await.map_err(|e| ("PractitionerRole", e))?;
    let practitioner_ref = role
        .pointer("/practitioner/reference")
        .and_then(Value::as_str)
        .and_then(|r| parse_reference(r, base))
        .filter(|r| r.resource_type == "Practitioner")
        .ok_or((
            "PractitionerRole",
            FhirReadError::WrongType { expected: "Practitioner reference", found: "none".into() },
        ))?;
    let practitioner = read_resource(http, base, "Practitioner", &practitioner_ref.id, access)
        .await
        .map_err(|e| ("Practitioner", e))?;
    Ok(store::UserRecord { practitioner, role: Some(role) })
}

/// A draft is only used to pre-fill when it is about the launched patient.
fn draft_is_for(draft: &Value, patient_id: &str) -> bool {
    let subject = draft.pointer("/subject/reference").and_then(Value::as_str).unwrap_or_default();
    let ok = subject == format!("Patient/{patient_id}") || subject.ends_with(&format!("/Patient/{patient_id}"));
    if !ok {
        tracing::warn!("draft ServiceRequest from fhirContext is for another patient: ignored");
    }
    ok
}

/// Link-mode return URLs must point at one of the EHR's registered origins.
fn return_url_allowed(url: &str, ehr: &EhrRegistration) -> bool {
    Url::parse(url).is_ok_and(|u| ehr.allowed_origins.iter().any(|o| *o == u.origin().ascii_serialization()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_codes_are_sanitised() {
        assert_eq!(safe_error_code("access_denied"), "access_denied");
        assert_eq!(safe_error_code("<script>"), "invalid_error_code");
    }

    #[test]
    fn drafts_for_other_patients_are_ignored() {
        assert!(draft_is_for(&json!({"subject": {"reference": "Patient/p1"}}), "p1"));
        assert!(draft_is_for(&json!({"subject": {"reference": "https://e/fhir/Patient/p1"}}), "p1"));
        assert!(!draft_is_for(&json!({"subject": {"reference": "Patient/p2"}}), "p1"));
        assert!(!draft_is_for(&json!({}), "p1"));
    }

    #[test]
    fn return_urls_only_to_registered_origins() {
        let ehr = crate::config::sandbox_registration(&Url::parse("http://127.0.0.1:3100").unwrap());
        assert!(return_url_allowed("http://127.0.0.1:3100/?returned=1", &ehr));
        assert!(!return_url_allowed("http://evil.example/?x", &ehr));
        assert!(!return_url_allowed("javascript:alert(1)", &ehr));
    }
}
