//! Checks a token endpoint's answer field by field (RFC 6749 §5.1, SMART App Launch 2.2 §"Launch
//! context arrives with your access_token"): what the rest of the app then relies on is there, of
//! the right type and size. Pure.

use super::token::SmartContext;
use crate::fhir::{client::is_fhir_id, reference::parse_reference};
use serde_json::Value;
use url::Url;

/// Longest access or refresh token we keep (JWT access tokens are a few KB).
pub const MAX_TOKEN_LEN: usize = 8192;
/// Longest id_token we verify.
pub const MAX_ID_TOKEN_LEN: usize = 16 * 1024;
/// Longest `expires_in` we believe (a year); anything longer is a broken server.
pub const MAX_EXPIRES_IN_SECS: u64 = 365 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenResponseError {
    #[error("token_type is {0:?}, not Bearer")]
    NotBearer(String),
    #[error("{0} is missing or empty")]
    Missing(&'static str),
    #[error("{0} is too long")]
    TooLong(&'static str),
    #[error("{0} has characters a token cannot have")]
    BadCharacters(&'static str),
    #[error("expires_in {0} is out of range")]
    ExpiresIn(u64),
    #[error("{0} is not valid: {1}")]
    Invalid(&'static str, &'static str),
}

/// The token fields of one answer, as the oauth2 crate parsed them.
pub struct TokenFields<'a> {
    pub access_token: &'a str,
    /// As sent (the crate compares case-insensitively; so do we).
    pub token_type: &'a str,
    pub expires_in: Option<u64>,
    pub refresh_token: Option<&'a str>,
}

/// A token as it may travel in an `Authorization: Bearer` header (RFC 6750 `b64token`, and the
/// visible ASCII that JWTs and opaque tokens use).
fn token_ok(name: &'static str, token: &str) -> Result<(), TokenResponseError> {
    if token.is_empty() {
        return Err(TokenResponseError::Missing(name));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenResponseError::TooLong(name));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(TokenResponseError::BadCharacters(name));
    }
    Ok(())
}

/// RFC 6749 §5.1: `access_token`, `token_type` (we only speak Bearer), `expires_in`, `refresh_token`.
pub fn check_tokens(t: &TokenFields) -> Result<(), TokenResponseError> {
    token_ok("access_token", t.access_token)?;
    if !t.token_type.eq_ignore_ascii_case("bearer") {
        return Err(TokenResponseError::NotBearer(t.token_type.chars().take(32).collect()));
    }
    if let Some(secs) = t.expires_in {
        if secs == 0 || secs > MAX_EXPIRES_IN_SECS {
            return Err(TokenResponseError::ExpiresIn(secs));
        }
    }
    if let Some(rt) = t.refresh_token {
        token_ok("refresh_token", rt)?;
    }
    Ok(())
}

fn short(name: &'static str, value: Option<&str>, max: usize) -> Result<(), TokenResponseError> {
    match value {
        Some(v) if v.is_empty() => Err(TokenResponseError::Missing(name)),
        Some(v) if v.len() > max => Err(TokenResponseError::TooLong(name)),
        Some(v) if v.chars().any(char::is_control) => Err(TokenResponseError::BadCharacters(name)),
        _ => Ok(()),
    }
}

fn absolute_url(name: &'static str, value: Option<&str>) -> Result<(), TokenResponseError> {
    short(name, value, 2048)?;
    match value {
        Some(v) if !Url::parse(v).is_ok_and(|u| matches!(u.scheme(), "https" | "http")) => {
            Err(TokenResponseError::Invalid(name, "not an absolute http(s) URL"))
        }
        _ => Ok(()),
    }
}

/// SMART 2.2 launch context: `patient` and `encounter` are FHIR ids, `fhirContext` a short list of
/// objects each with a `reference` (to a resource on this EHR), a `canonical` or an `identifier`,
/// the URLs are absolute, and the strings short.
pub fn check_context(c: &SmartContext, iss: &Url) -> Result<(), TokenResponseError> {
    if let Some(id_token) = &c.id_token {
        if id_token.is_empty() {
            return Err(TokenResponseError::Missing("id_token"));
        }
        if id_token.len() > MAX_ID_TOKEN_LEN {
            return Err(TokenResponseError::TooLong("id_token"));
        }
    }
    if c.patient.as_deref().is_some_and(|p| !is_fhir_id(p)) {
        return Err(TokenResponseError::Invalid("patient", "not a FHIR id"));
    }
    if c.encounter.as_deref().is_some_and(|e| !is_fhir_id(e)) {
        return Err(TokenResponseError::Invalid("encounter", "not a FHIR id"));
    }
    if c.fhir_context.len() > 64 {
        return Err(TokenResponseError::TooLong("fhirContext"));
    }
    for item in &c.fhir_context {
        let Some(obj) = item.as_object() else {
            return Err(TokenResponseError::Invalid("fhirContext", "an entry is not an object"));
        };
        let reference = obj.get("reference");
        let canonical = obj.get("canonical");
        let identifier = obj.get("identifier");
        if reference.is_none() && canonical.is_none() && identifier.is_none() {
            return Err(TokenResponseError::Invalid(
                "fhirContext",
                "an entry has no reference, canonical or identifier",
            ));
        }
        if let Some(r) = reference {
            let ok = r.as_str().is_some_and(|r| r.len() <= 2048 && parse_reference(r, iss).is_some());
            if !ok {
                return Err(TokenResponseError::Invalid("fhirContext", "a reference is not Type/id on this EHR"));
            }
        }
        if canonical.is_some_and(|c| !c.is_string()) || identifier.is_some_and(|i| !i.is_object()) {
            return Err(TokenResponseError::Invalid("fhirContext", "a canonical or identifier has the wrong type"));
        }
        if obj.get("type").is_some_and(|t| !t.as_str().is_some_and(|t| t.bytes().all(|b| b.is_ascii_alphabetic()))) {
            return Err(TokenResponseError::Invalid("fhirContext", "a type is not a resource type"));
        }
    }
    short("intent", c.intent.as_deref(), 256)?;
    short("tenant", c.tenant.as_deref(), 256)?;
    short("smart_web_messaging_handle", c.smart_web_messaging_handle.as_deref(), 512)?;
    absolute_url("smart_style_url", c.smart_style_url.as_deref())?;
    absolute_url("smart_web_messaging_origin", c.smart_web_messaging_origin.as_deref())?;
    absolute_url("ereferral_return_url", c.ereferral_return_url.as_deref())?;
    Ok(())
}

/// `fhirContext` with every `reference` made absolute on the EHR's base (`{iss}/{Type}/{id}`).
pub fn absolute_fhir_context(items: &[Value], iss: &Url) -> Vec<Value> {
    items
        .iter()
        .map(|item| {
            let mut item = item.clone();
            let absolute = item
                .get("reference")
                .and_then(Value::as_str)
                .and_then(|r| parse_reference(r, iss))
                .map(|r| crate::fhir::reference::absolute(iss, &r.resource_type, &r.id));
            if let (Some(abs), Some(obj)) = (absolute, item.as_object_mut()) {
                obj.insert("reference".into(), Value::String(abs));
            }
            item
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn iss() -> Url {
        Url::parse("https://ehr.example.org/fhir").unwrap()
    }

    fn fields<'a>(access: &'a str, tt: &'a str) -> TokenFields<'a> {
        TokenFields { access_token: access, token_type: tt, expires_in: Some(3600), refresh_token: None }
    }

    #[test]
    fn tokens_must_be_bearer_non_empty_and_sane() {
        assert!(check_tokens(&fields("abc.def-ghi", "Bearer")).is_ok());
        assert!(check_tokens(&fields("abc", "bearer")).is_ok());
        assert_eq!(check_tokens(&fields("abc", "mac")), Err(TokenResponseError::NotBearer("mac".into())));
        assert_eq!(check_tokens(&fields("", "Bearer")), Err(TokenResponseError::Missing("access_token")));
        assert_eq!(check_tokens(&fields("a b", "Bearer")), Err(TokenResponseError::BadCharacters("access_token")));
        assert_eq!(
            check_tokens(&fields("a\r\nX: y", "Bearer")),
            Err(TokenResponseError::BadCharacters("access_token"))
        );
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(check_tokens(&fields(&long, "Bearer")), Err(TokenResponseError::TooLong("access_token")));
        for bad in [0, MAX_EXPIRES_IN_SECS + 1] {
            let t = TokenFields { expires_in: Some(bad), ..fields("a", "Bearer") };
            assert_eq!(check_tokens(&t), Err(TokenResponseError::ExpiresIn(bad)));
        }
        let t = TokenFields { expires_in: None, refresh_token: Some(""), ..fields("a", "Bearer") };
        assert_eq!(check_tokens(&t), Err(TokenResponseError::Missing("refresh_token")));
    }

    #[test]
    fn launch_context_is_checked() {
        let ok = SmartContext {
            patient: Some("pat-1".into()),
            encounter: Some("enc-1".into()),
            fhir_context: vec![
                json!({"reference": "ServiceRequest/sr-1"}),
                json!({"reference": "https://ehr.example.org/fhir/Encounter/e2", "type": "Encounter"}),
                json!({"canonical": "https://forms.example/Questionnaire/q|1"}),
                json!({"identifier": {"system": "s", "value": "v"}}),
            ],
            smart_style_url: Some("https://ehr.example.org/style.json".into()),
            ..SmartContext::default()
        };
        assert!(check_context(&ok, &iss()).is_ok());
        let cases: Vec<(SmartContext, &str)> = vec![
            (SmartContext { patient: Some("../Patient/x".into()), ..ok.clone() }, "patient"),
            (SmartContext { encounter: Some("Encounter/e1".into()), ..ok.clone() }, "encounter"),
            (SmartContext { fhir_context: vec![json!("ServiceRequest/1")], ..ok.clone() }, "fhirContext"),
            (SmartContext { fhir_context: vec![json!({"type": "Encounter"})], ..ok.clone() }, "fhirContext"),
            (
                SmartContext {
                    fhir_context: vec![json!({"reference": "https://evil.example/fhir/ServiceRequest/1"})],
                    ..ok.clone()
                },
                "fhirContext",
            ),
            (SmartContext { smart_style_url: Some("/style.json".into()), ..ok.clone() }, "smart_style_url"),
            (SmartContext { intent: Some("x\n".into()), ..ok.clone() }, "intent"),
            (SmartContext { id_token: Some(String::new()), ..ok.clone() }, "id_token"),
        ];
        for (c, field) in cases {
            let err = check_context(&c, &iss()).unwrap_err();
            assert!(err.to_string().contains(field), "{field}: {err}");
        }
    }

    #[test]
    fn fhir_context_references_become_absolute() {
        let items = vec![json!({"reference": "ServiceRequest/sr-1"}), json!({"canonical": "x"})];
        let out = absolute_fhir_context(&items, &iss());
        assert_eq!(out[0]["reference"], "https://ehr.example.org/fhir/ServiceRequest/sr-1");
        assert_eq!(out[1], json!({"canonical": "x"}));
    }
}
