//! `GET|POST /auth/authorize` (RFC 6749 §4.1.1, PKCE RFC 7636, SMART App Launch 2.2).
//!
//! Errors about the client or its redirect URI are shown as an error page (never redirected,
//! RFC 6749 §4.1.2.1); every other error is sent back to the redirect URI with `error`,
//! `error_description` and `state`.
//!
//! **EHR launch** (a `launch` parameter): the launch id must be known, unused and unexpired;
//! the user and context come from the launch.
//! **Standalone launch** (no `launch` parameter): there is no login screen; the user is signed
//! in automatically as the first Practitioner of the seed data, and if `launch/patient` is
//! requested the first Patient is selected (and, with `launch/encounter`, that patient's first
//! encounter). `need_patient_banner` is then `true`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use url::Url;

use crate::html::escape;
use crate::pkce::is_valid_verifier;
use crate::scopes::{has, parse_scopes, uncovered};
use crate::state::{same_url, SharedState};
use crate::store::{now, random_token, AuthCode, GrantContext};

/// Authorization codes live this long.
pub const CODE_TTL_SECS: i64 = 60;

pub async fn authorize_get(State(st): State<SharedState>, RawQuery(q): RawQuery) -> Response {
    authorize(&st, q.unwrap_or_default().as_bytes())
}

pub async fn authorize_post(State(st): State<SharedState>, body: Bytes) -> Response {
    authorize(&st, &body)
}

/// Parsed request parameters: first value of each, and the names that were repeated.
struct Params {
    values: HashMap<String, String>,
    repeated: Vec<String>,
}

impl Params {
    fn parse(raw: &[u8]) -> Self {
        let mut values = HashMap::new();
        let mut repeated = Vec::new();
        for (k, v) in url::form_urlencoded::parse(raw) {
            if values.contains_key(k.as_ref()) {
                repeated.push(k.into_owned());
            } else {
                values.insert(k.into_owned(), v.into_owned());
            }
        }
        Params { values, repeated }
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.values.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }
}

fn authorize(st: &SharedState, raw: &[u8]) -> Response {
    let p = Params::parse(raw);
    if p.repeated.iter().any(|k| k == "client_id" || k == "redirect_uri") {
        return error_page("client_id and redirect_uri must not be repeated.");
    }
    let Some(client_id) = p.get("client_id") else {
        return error_page("The request has no client_id.");
    };
    let Some(client) = st.config.client(client_id) else {
        return error_page(&format!("Unknown client_id \u{201c}{client_id}\u{201d}."));
    };
    let Some(redirect_uri) = p.get("redirect_uri") else {
        return error_page("The request has no redirect_uri.");
    };
    if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
        return error_page(&format!(
            "The redirect_uri \u{201c}{redirect_uri}\u{201d} is not registered for client \u{201c}{client_id}\u{201d}."
        ));
    }
    let Ok(redirect) = Url::parse(redirect_uri) else {
        return error_page("The registered redirect_uri is not a valid URL.");
    };
    let state = p.get("state");
    let fail = |error: &str, description: &str| redirect_error(&redirect, error, description, state);

    if let Some(k) = p.repeated.first() {
        return fail("invalid_request", &format!("parameter `{k}` is repeated"));
    }
    match p.get("response_type") {
        None => return fail("invalid_request", "response_type is required"),
        Some("code") => {}
        Some(_) => return fail("unsupported_response_type", "only response_type=code is supported"),
    }
    if state.is_none() {
        return fail("invalid_request", "state is required");
    }
    match p.get("aud") {
        None => return fail("invalid_request", "aud is required (the FHIR base URL)"),
        Some(aud) if !same_url(aud, &st.urls.fhir_base) => {
            return fail("invalid_request", &format!("aud must be this server's FHIR base URL {}", st.urls.fhir_base))
        }
        Some(_) => {}
    }
    match p.get("code_challenge_method") {
        Some("S256") => {}
        None => return fail("invalid_request", "PKCE is required: code_challenge_method=S256"),
        Some(_) => return fail("invalid_request", "only code_challenge_method=S256 is supported"),
    }
    let Some(code_challenge) = p.get("code_challenge") else {
        return fail("invalid_request", "PKCE is required: code_challenge is missing");
    };
    if !is_valid_verifier(code_challenge) {
        return fail("invalid_request", "code_challenge is malformed");
    }
    let Some(scope) = p.get("scope") else {
        return fail("invalid_scope", "scope is required");
    };
    if let Err(e) = parse_scopes(scope) {
        return fail("invalid_scope", &e.to_string());
    }
    let refused = uncovered(&client.scopes, scope);
    if !refused.is_empty() {
        return fail("invalid_scope", &format!("scopes not allowed for this client: {}", refused.join(" ")));
    }
    let scope = scope.split_ascii_whitespace().collect::<Vec<_>>().join(" ");
    let nonce = p.get("nonce").map(str::to_string);
    let now = now();

    let mut store = st.store();
    store.prune(now);
    let context = match p.get("launch") {
        Some(launch_id) => {
            let Some(launch) = store.launches.get_mut(launch_id) else {
                return fail("invalid_request", "unknown launch id");
            };
            if launch.used {
                return fail("invalid_request", "this launch id was already used");
            }
            if launch.expires_at <= now {
                return fail("invalid_request", "this launch id has expired");
            }
            launch.used = true;
            let r = &launch.request;
            GrantContext {
                launch_id: Some(launch.id.clone()),
                user: r.user.clone(),
                patient: Some(r.patient_id.clone()),
                encounter: r.encounter_id.clone(),
                draft_service_request: r.draft_service_request_id.clone(),
                need_patient_banner: r.need_patient_banner,
                fhir_user_absolute: r.fhir_user_absolute,
                intent: r.intent.clone(),
                messaging_handle: launch.messaging_handle.clone(),
                mode: Some(r.mode),
                faults: r.faults,
            }
        }
        None => {
            if has(&scope, "launch") {
                return fail("invalid_request", "scope `launch` requires the `launch` parameter (EHR launch)");
            }
            let user = st.seed.first_id("Practitioner").map(|id| format!("Practitioner/{id}")).unwrap_or_default();
            let patient = if has(&scope, "launch/patient") { st.seed.first_id("Patient") } else { None };
            let encounter = match (&patient, has(&scope, "launch/encounter")) {
                (Some(pid), true) => st.seed.encounter_for(pid),
                _ => None,
            };
            GrantContext {
                launch_id: None,
                user,
                patient,
                encounter,
                draft_service_request: None,
                need_patient_banner: true,
                fhir_user_absolute: false,
                intent: None,
                messaging_handle: None,
                mode: None,
                faults: Default::default(),
            }
        }
    };
    let code = random_token(32);
    store.codes.insert(
        code.clone(),
        AuthCode {
            client_id: client_id.to_string(),
            redirect_uri: redirect_uri.to_string(),
            code_challenge: code_challenge.to_string(),
            scope,
            nonce,
            context,
            expires_at: now + CODE_TTL_SECS,
            used: false,
        },
    );
    drop(store);
    let mut to = redirect;
    {
        let mut q = to.query_pairs_mut();
        q.append_pair("code", &code);
        if let Some(s) = state {
            q.append_pair("state", s);
        }
    }
    found(&to)
}

fn redirect_error(redirect: &Url, error: &str, description: &str, state: Option<&str>) -> Response {
    let mut to = redirect.clone();
    {
        let mut q = to.query_pairs_mut();
        q.append_pair("error", error);
        q.append_pair("error_description", description);
        if let Some(s) = state {
            q.append_pair("state", s);
        }
    }
    found(&to)
}

fn found(to: &Url) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_string()), (header::CACHE_CONTROL, "no-store".to_string())])
        .into_response()
}

fn error_page(message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Authorization error \u{2013} Sandbox EHR</title></head>\
         <body><h1>Authorization request rejected</h1><p data-testid=\"authorize-error\">{}</p>\
         <p>The app was not redirected because its identity or redirect URI could not be trusted.</p></body></html>",
        escape(message)
    );
    (StatusCode::BAD_REQUEST, [(header::CACHE_CONTROL, "no-store")], Html(body)).into_response()
}
