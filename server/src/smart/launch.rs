//! `GET /launch?iss=…&launch=…`: the EHR launch's first leg.

use super::{now_unix, random_token, registry};
use crate::{
    error::LaunchError,
    http::{client_addr, server_timing::Stopwatch},
    session::binding,
    state::AppState,
    store::launches as pending,
};
use axum::{
    extract::{Query, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Redirect, Response},
};
use oauth2::PkceCodeChallenge;
use serde::Deserialize;
use url::Url;

#[derive(Debug, Deserialize)]
pub struct LaunchParams {
    iss: Option<String>,
    launch: Option<String>,
}

/// Longest `launch` value we accept: EHRs use opaque ids or JWTs, never megabytes.
const MAX_LAUNCH_LEN: usize = 4096;

pub async fn launch(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<LaunchParams>,
) -> Result<Response, LaunchError> {
    let mut stopwatch = Stopwatch::new();
    let iss = params.iss.filter(|s| !s.trim().is_empty()).ok_or(LaunchError::MissingParameter("iss"))?;
    // No `launch`: a standalone launch, the EHR only signing the practitioner in ("my referrals").
    let launch = params.launch.filter(|s| !s.trim().is_empty()).unwrap_or_default();
    if launch.len() > MAX_LAUNCH_LEN || launch.chars().any(char::is_control) {
        return Err(LaunchError::MalformedParameter("launch"));
    }
    registry::normalize_issuer(&iss).ok_or(LaunchError::MalformedParameter("iss"))?;
    // Checked before any outbound request: an unregistered iss never makes us fetch anything.
    let ehr = registry::find_registration(&state.config, &iss).ok_or_else(|| {
        tracing::warn!(iss_len = iss.len(), "launch from an unregistered issuer refused");
        LaunchError::UnknownIssuer
    })?;

    // The endpoints are checked (https, and pinned to the issuer's or a registered origin)
    // before the browser is sent anywhere.
    let smart = stopwatch.ehr(state.smart.discovery.get(&state.smart.http, ehr)).await.map_err(|e| {
        tracing::error!(ehr = %ehr.id, error = %e, "SMART discovery failed");
        LaunchError::from_discovery(e)
    })?;

    // The verifier stays in our database; only its S256 challenge goes to the browser.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256_len(64);
    let now = now_unix();
    let binding_secret = random_token(32);
    let pending = pending::PendingLaunch {
        state: random_token(32),
        ehr_id: ehr.id.clone(),
        launch: launch.clone(),
        pkce_verifier: verifier.secret().clone(),
        nonce: random_token(32),
        binding_hash: binding::hash_secret(&binding_secret),
        fingerprint: binding::fingerprint(client_addr::of(&headers), &headers),
        created_at: now,
        expires_at: now + state.config.launch_ttl_secs as i64,
    };
    pending::insert(&state.db, &pending)
        .await
        .map_err(|e| LaunchError::Internal(format!("store pending launch: {e}")))?;

    let url = authorize_url(
        &smart.authorization,
        &ehr.client_id,
        &state.config.redirect_uri(),
        &if launch.is_empty() { standalone_scopes(&ehr.scopes) } else { ehr.scopes.clone() },
        &pending.state,
        &ehr.issuer,
        &launch,
        &challenge,
        &pending.nonce,
    );
    tracing::info!(ehr = %ehr.id, "launch started, redirecting to authorize");
    let mut response = Redirect::to(url.as_str()).into_response();
    response.headers_mut().extend([stopwatch.header()]);
    let cookie = binding::set_state_cookie(&pending.state, &binding_secret, state.config.launch_ttl_secs);
    response.headers_mut().append(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("cookie is ASCII"));
    Ok(response)
}

/// The scopes of a standalone sign-in: the registration's, without launch context or patient data.
pub fn standalone_scopes(scopes: &str) -> String {
    scopes
        .split_whitespace()
        .filter(|s| *s != "launch" && !s.starts_with("launch/") && !s.starts_with("patient/"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The authorization request (SMART App Launch 2.2 §"Obtain authorization code").
#[allow(clippy::too_many_arguments)]
pub fn authorize_url(
    endpoint: &Url,
    client_id: &str,
    redirect_uri: &Url,
    scopes: &str,
    state: &str,
    aud: &Url,
    launch: &str,
    challenge: &PkceCodeChallenge,
    nonce: &str,
) -> Url {
    let mut url = endpoint.clone();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri.as_str())
        .append_pair("scope", scopes)
        .append_pair("state", state)
        .append_pair("aud", aud.as_str().trim_end_matches('/'))
        .extend_pairs((!launch.is_empty()).then_some(("launch", launch)))
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256")
        .append_pair("nonce", nonce);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorize_url_carries_every_parameter() {
        let (challenge, _v) = PkceCodeChallenge::new_random_sha256();
        let url = authorize_url(
            &Url::parse("https://ehr.example.org/auth/authorize?tenant=1").unwrap(),
            "app",
            &Url::parse("http://localhost:3000/callback").unwrap(),
            "launch openid",
            "st",
            &Url::parse("https://ehr.example.org/fhir/").unwrap(),
            "L1",
            &challenge,
            "n1",
        );
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["tenant"], "1");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["aud"], "https://ehr.example.org/fhir");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"], challenge.as_str());
        assert_eq!(q["scope"], "launch openid");
        assert_eq!(q["launch"], "L1");
        assert_eq!(q["nonce"], "n1");
    }

    #[test]
    fn a_standalone_sign_in_asks_for_no_launch_context() {
        assert_eq!(
            standalone_scopes("launch launch/patient openid fhirUser patient/Patient.rs user/Practitioner.rs"),
            "openid fhirUser user/Practitioner.rs"
        );
        let (challenge, _v) = PkceCodeChallenge::new_random_sha256();
        let url = authorize_url(
            &Url::parse("https://ehr.example.org/auth/authorize").unwrap(),
            "app",
            &Url::parse("http://localhost:3000/callback").unwrap(),
            "openid fhirUser",
            "st",
            &Url::parse("https://ehr.example.org/fhir").unwrap(),
            "",
            &challenge,
            "n1",
        );
        assert!(!url.query_pairs().any(|(k, _)| k == "launch"));
    }
}
