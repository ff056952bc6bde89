//! `POST /auth/token`: authorization_code (with PKCE), refresh_token and
//! client_credentials grants (RFC 6749 §4.1.3, §6, §4.4; SMART App Launch 2.2; SMART
//! Backend Services).
//!
//! A refresh token is issued when the granted scopes include `offline_access` or
//! `online_access`; it is rotated on every use. Access tokens are opaque and live 3600 s.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::client_auth::{authenticate, AuthMethod};
use crate::config::ClientRegistration;
use crate::faults::{ContextFault, Faults, TokenFault};
use crate::id_token;
use crate::launch::LaunchMode;
use crate::oauth_error::OAuthError;
use crate::pkce::verify_s256;
use crate::scopes::{has, parse_scope, uncovered, Scope, ScopeContext};
use crate::state::{AppState, SharedState};
use crate::store::{now, random_token, AccessToken, GrantContext, RefreshToken};

pub const ACCESS_TOKEN_TTL_SECS: i64 = 3600;
/// Lifetime of access tokens under [`TokenFault::ShortLived`].
pub const SHORT_TOKEN_TTL_SECS: i64 = 30;

pub async fn token(State(st): State<SharedState>, headers: HeaderMap, body: Bytes) -> Response {
    let delay = st.store().faults.slow_token_millis;
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    match handle(&st, &headers, &body) {
        Ok(v) => {
            let mut resp = (StatusCode::OK, Json(v)).into_response();
            let h = resp.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            resp
        }
        Err(e) => {
            tracing::info!(error = e.code, description = %e.description, "token request refused");
            e.into_response()
        }
    }
}

fn handle(st: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Value, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(OAuthError::invalid_request("the token request must be application/x-www-form-urlencoded"));
    }
    let mut form = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        if form.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(OAuthError::invalid_request(format!("parameter `{k}` is repeated")));
        }
    }
    let (client, method) = authenticate(st, headers, &form)?;
    let param = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    match param("grant_type") {
        Some("authorization_code") => authorization_code(st, client, &form),
        Some("refresh_token") => refresh(st, client, &form),
        Some("client_credentials") => client_credentials(st, client, method, param("scope")),
        Some(other) => Err(OAuthError::unsupported_grant_type(format!("grant_type `{other}` is not supported"))),
        None => Err(OAuthError::invalid_request("grant_type is required")),
    }
}

fn apply_token_fault(faults: &Faults) -> Result<(), OAuthError> {
    match faults.token {
        TokenFault::Ok | TokenFault::NotBearer | TokenFault::EmptyAccessToken | TokenFault::ShortLived => Ok(()),
        TokenFault::ServerError => Err(OAuthError::server_error("sandbox fault: token endpoint failure")),
        TokenFault::InvalidGrant => Err(OAuthError::invalid_grant("sandbox fault: grant refused")),
    }
}

fn authorization_code(
    st: &AppState,
    client: &ClientRegistration,
    form: &HashMap<String, String>,
) -> Result<Value, OAuthError> {
    let param = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let code_value = param("code").ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let now = now();
    let mut store = st.store();
    let global = store.faults;
    let Some(code) = store.codes.get_mut(code_value) else {
        return Err(OAuthError::invalid_grant("unknown authorization code"));
    };
    apply_token_fault(&code.context.faults.merged_over(&global))?;
    if code.client_id != client.client_id {
        return Err(OAuthError::invalid_grant("the code was issued to another client"));
    }
    if code.used {
        store.revoke_from_code(code_value);
        return Err(OAuthError::invalid_grant(
            "the authorization code was already used; tokens issued from it are revoked",
        ));
    }
    code.used = true;
    let code = code.clone();
    if code.expires_at <= now {
        return Err(OAuthError::invalid_grant("the authorization code has expired"));
    }
    if param("redirect_uri") != Some(code.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant("redirect_uri does not match the authorization request"));
    }
    let verifier =
        param("code_verifier").ok_or_else(|| OAuthError::invalid_grant("code_verifier is required (PKCE)"))?;
    if !verify_s256(verifier, &code.code_challenge) {
        return Err(OAuthError::invalid_grant("code_verifier does not match code_challenge"));
    }
    drop(store);
    let faults = code.context.faults.merged_over(&global);
    issue_user_tokens(
        st,
        &client.client_id,
        &code.scope,
        &code.context,
        code.nonce.as_deref(),
        Some(code_value),
        &faults,
    )
}

fn refresh(st: &AppState, client: &ClientRegistration, form: &HashMap<String, String>) -> Result<Value, OAuthError> {
    let param = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let value = param("refresh_token").ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let mut store = st.store();
    let global = store.faults;
    let Some(rt) = store.refresh_tokens.get(value) else {
        return Err(OAuthError::invalid_grant("unknown or revoked refresh token"));
    };
    if rt.client_id != client.client_id {
        return Err(OAuthError::invalid_grant("the refresh token was issued to another client"));
    }
    let faults = rt.context.faults.merged_over(&global);
    apply_token_fault(&faults)?;
    let scope = match param("scope") {
        None => rt.scope.clone(),
        Some(requested) => {
            let original: Vec<String> = rt.scope.split_ascii_whitespace().map(str::to_string).collect();
            let extra = uncovered(&original, requested);
            if !extra.is_empty() {
                return Err(OAuthError::invalid_scope(format!(
                    "scopes beyond the original grant: {}",
                    extra.join(" ")
                )));
            }
            requested.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
        }
    };
    let Some(rt) = store.refresh_tokens.remove(value) else {
        return Err(OAuthError::invalid_grant("unknown or revoked refresh token"));
    };
    store.refreshes += 1;
    drop(store);
    let mut context = rt.context.clone();
    if faults.launch_context == ContextFault::OtherPatientOnRefresh {
        context.patient = st
            .seed
            .all_of("Patient")
            .filter_map(|p| p.get("id").and_then(Value::as_str))
            .find(|id| Some(*id) != rt.context.patient.as_deref())
            .map(str::to_string);
    }
    issue_user_tokens(st, &client.client_id, &scope, &context, rt.nonce.as_deref(), rt.from_code.as_deref(), &faults)
}

fn client_credentials(
    st: &AppState,
    client: &ClientRegistration,
    method: AuthMethod,
    scope: Option<&str>,
) -> Result<Value, OAuthError> {
    if method != AuthMethod::PrivateKeyJwt {
        return Err(OAuthError::unauthorized_client(
            "client_credentials requires private_key_jwt client authentication",
        ));
    }
    let global = st.store().faults;
    apply_token_fault(&global)?;
    let scope = scope.ok_or_else(|| OAuthError::invalid_scope("scope is required"))?;
    let all_system = scope
        .split_ascii_whitespace()
        .all(|s| matches!(parse_scope(s), Ok(Scope::Resource(r)) if r.context == ScopeContext::System));
    if !all_system {
        return Err(OAuthError::invalid_scope("client_credentials grants only system/ scopes"));
    }
    let refused = uncovered(&client.scopes, scope);
    if !refused.is_empty() {
        return Err(OAuthError::invalid_scope(format!("scopes not allowed for this client: {}", refused.join(" "))));
    }
    let scope = scope.split_ascii_whitespace().collect::<Vec<_>>().join(" ");
    let access = random_token(32);
    st.store().access_tokens.insert(
        access.clone(),
        AccessToken {
            client_id: client.client_id.clone(),
            scope: scope.clone(),
            context: None,
            expires_at: now() + ACCESS_TOKEN_TTL_SECS,
            from_code: None,
        },
    );
    Ok(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_TTL_SECS,
        "scope": scope,
    }))
}

/// Access token (+ refresh token, id_token) and the SMART launch context.
fn issue_user_tokens(
    st: &AppState,
    client_id: &str,
    scope: &str,
    ctx: &GrantContext,
    nonce: Option<&str>,
    from_code: Option<&str>,
    faults: &Faults,
) -> Result<Value, OAuthError> {
    let id_token = if has(scope, "openid") {
        Some(id_token::issue(st, client_id, ctx, nonce, faults.id_token).map_err(|e| {
            tracing::error!(error = %e, "cannot sign id_token");
            OAuthError::server_error("cannot sign the id_token")
        })?)
    } else {
        None
    };
    let access = random_token(32);
    let refresh = (has(scope, "offline_access") || has(scope, "online_access")).then(|| random_token(32));
    {
        let mut store = st.store();
        store.access_tokens.insert(
            access.clone(),
            AccessToken {
                client_id: client_id.to_string(),
                scope: scope.to_string(),
                context: Some(ctx.clone()),
                expires_at: now() + ACCESS_TOKEN_TTL_SECS,
                from_code: from_code.map(str::to_string),
            },
        );
        if let Some(r) = &refresh {
            store.refresh_tokens.insert(
                r.clone(),
                RefreshToken {
                    client_id: client_id.to_string(),
                    scope: scope.to_string(),
                    context: ctx.clone(),
                    nonce: nonce.map(str::to_string),
                    from_code: from_code.map(str::to_string),
                },
            );
        }
    }
    let mut out = Map::new();
    let ttl = if faults.token == TokenFault::ShortLived { SHORT_TOKEN_TTL_SECS } else { ACCESS_TOKEN_TTL_SECS };
    if faults.token == TokenFault::ShortLived {
        if let Some(t) = st.store().access_tokens.get_mut(&access) {
            t.expires_at = now() + ttl;
        }
    }
    match faults.token {
        TokenFault::EmptyAccessToken => out.insert("access_token".into(), json!("")),
        _ => out.insert("access_token".into(), json!(access)),
    };
    match faults.token {
        TokenFault::NotBearer => out.insert("token_type".into(), json!("mac")),
        _ => out.insert("token_type".into(), json!("Bearer")),
    };
    out.insert("expires_in".into(), json!(ttl));
    out.insert("scope".into(), json!(scope));
    if let Some(r) = refresh {
        out.insert("refresh_token".into(), json!(r));
    }
    if let Some(t) = id_token {
        out.insert("id_token".into(), json!(t));
    }
    context_fields(st, ctx, faults, &mut out);
    Ok(Value::Object(out))
}

/// SMART launch context parameters of the token response.
fn context_fields(st: &AppState, ctx: &GrantContext, faults: &Faults, out: &mut Map<String, Value>) {
    // The grant keeps its patient (scopes still resolve against it); only the response omits it.
    match (&ctx.patient, faults.launch_context) {
        (_, ContextFault::OmitPatient) | (None, _) => {}
        (Some(_), ContextFault::MalformedPatient) => {
            out.insert("patient".into(), json!("../Patient/x"));
        }
        (Some(p), _) => {
            out.insert("patient".into(), json!(p));
        }
    }
    if let Some(e) = &ctx.encounter {
        out.insert("encounter".into(), json!(e));
    }
    if let Some(sr) = &ctx.draft_service_request {
        out.insert("fhirContext".into(), json!([{"reference": format!("ServiceRequest/{sr}")}]));
    }
    out.insert("need_patient_banner".into(), json!(ctx.need_patient_banner));
    if let Some(intent) = &ctx.intent {
        out.insert("intent".into(), json!(intent));
    }
    out.insert("smart_style_url".into(), json!(st.urls.style));
    if let Some(h) = &ctx.messaging_handle {
        out.insert("smart_web_messaging_handle".into(), json!(h));
        out.insert("smart_web_messaging_origin".into(), json!(st.urls.origin));
    }
    if let (Some(LaunchMode::Link), Some(id)) = (ctx.mode, &ctx.launch_id) {
        let mut url = st.urls.base.clone();
        url.query_pairs_mut().append_pair("returned", id);
        out.insert("ereferral_return_url".into(), json!(url.to_string()));
    }
}
