//! Token requests (authorization_code, refresh_token) with the registration's client auth, via the
//! `oauth2` crate; the SMART launch context comes back as extra token-response fields.

use super::{
    client_assertion::{AssertionSigner, ASSERTION_TYPE},
    token_response,
};
use crate::{
    config::{ClientAuthConfig, EhrRegistration},
    fhir::client::{read_limited, Expect, FhirReadError},
};
use oauth2::{
    basic::{BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType},
    AuthType, AuthorizationCode, ClientId, ClientSecret, EndpointNotSet, EndpointSet, ExtraTokenFields,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, StandardRevocableToken, StandardTokenResponse,
    TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

/// The SMART launch context and id_token carried beside the access token.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SmartContext {
    #[serde(default)]
    pub id_token: Option<String>,
    #[serde(default)]
    pub patient: Option<String>,
    #[serde(default)]
    pub encounter: Option<String>,
    #[serde(default, rename = "fhirContext")]
    pub fhir_context: Vec<Value>,
    #[serde(default)]
    pub need_patient_banner: Option<bool>,
    #[serde(default)]
    pub smart_style_url: Option<String>,
    #[serde(default)]
    pub intent: Option<String>,
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub smart_web_messaging_handle: Option<String>,
    #[serde(default)]
    pub smart_web_messaging_origin: Option<String>,
    /// Link-mode launches: where to send the user when done (checked against registered origins).
    #[serde(default)]
    pub ereferral_return_url: Option<String>,
}
impl ExtraTokenFields for SmartContext {}

pub type SmartTokenResponse = StandardTokenResponse<SmartContext, BasicTokenType>;
type SmartOAuthClient = oauth2::Client<
    BasicErrorResponse,
    SmartTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Tokens as we keep them (encrypted at rest).
#[derive(Clone, Serialize, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub expires_in: Option<u64>,
}

impl Tokens {
    /// When the access token expires, given the time it was issued (5 minutes when unstated).
    pub fn expires_at(&self, issued_at: i64) -> i64 {
        issued_at + self.expires_in.unwrap_or(300) as i64
    }
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens { .. }")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// `error` is the OAuth error code, sanitised; the EHR's `error_description` is kept out of
    /// the message (and so out of logs).
    #[error("the EHR answered {error}")]
    Refused { error: String, description: Option<String> },
    #[error("token request failed: {0}")]
    Transport(String),
    #[error("token response unreadable: {0}")]
    Parse(String),
    #[error("token response invalid: {0}")]
    Invalid(#[from] super::token_response::TokenResponseError),
    #[error("client authentication is misconfigured: {0}")]
    ClientAuth(String),
}

/// OAuth error codes are short ASCII words (RFC 6749 §5.2); anything else is not repeated.
pub fn safe_error_code(code: &str) -> String {
    if !code.is_empty() && code.len() <= 64 && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        code.to_string()
    } else {
        "invalid_error_code".to_string()
    }
}

/// The oauth2 crate's HTTP client: our outbound client (no redirects), the answer read within
/// [`Expect::TOKEN`]. A named type rather than a closure: a closure returning a future would make
/// the token requests' futures fail to be `Send` for every lifetime.
struct Bounded<'a>(&'a reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for Bounded<'_> {
    type Error = FhirReadError;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, FhirReadError>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send(self.0, request))
    }
}

async fn send(http: &reqwest::Client, request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, FhirReadError> {
    let request = reqwest::Request::try_from(request).map_err(|e| FhirReadError::Transport(e.to_string()))?;
    let response = http.execute(request).await.map_err(|e| FhirReadError::Transport(e.without_url().to_string()))?;
    if response.status().is_redirection() {
        return Err(FhirReadError::Redirect);
    }
    let mut builder = axum::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = read_limited(response, Expect::TOKEN.max_bytes).await?;
    builder.body(body).map_err(|e| FhirReadError::Transport(e.to_string()))
}

fn client(ehr: &EhrRegistration, token_url: &Url, redirect_uri: &Url) -> Result<SmartOAuthClient, TokenError> {
    let mut c = oauth2::Client::new(ClientId::new(ehr.client_id.clone()))
        .set_token_uri(TokenUrl::from_url(token_url.clone()))
        .set_redirect_uri(RedirectUrl::from_url(redirect_uri.clone()));
    match &ehr.client_auth {
        ClientAuthConfig::ClientSecretBasic { secret, secret_env } => {
            let secret = match (secret, secret_env) {
                (_, Some(name)) => std::env::var(name)
                    .map_err(|_| TokenError::ClientAuth(format!("environment variable {name} is not set")))?,
                (Some(s), None) => s.clone(),
                (None, None) => return Err(TokenError::ClientAuth("no client secret".into())),
            };
            c = c.set_client_secret(ClientSecret::new(secret)).set_auth_type(AuthType::BasicAuth);
        }
        ClientAuthConfig::Public | ClientAuthConfig::PrivateKeyJwt { .. } => {
            c = c.set_auth_type(AuthType::RequestBody);
        }
    }
    Ok(c)
}

fn assertion(
    signer: Option<&AssertionSigner>,
    ehr: &EhrRegistration,
    token_url: &Url,
) -> Result<Option<String>, TokenError> {
    match (&ehr.client_auth, signer) {
        (ClientAuthConfig::PrivateKeyJwt { .. }, Some(s)) => s
            .sign(&ehr.client_id, token_url.as_str(), super::now_unix())
            .map(Some)
            .map_err(|e| TokenError::ClientAuth(e.to_string())),
        (ClientAuthConfig::PrivateKeyJwt { .. }, None) => Err(TokenError::ClientAuth("private key not loaded".into())),
        _ => Ok(None),
    }
}

fn map_error<RE: std::error::Error + 'static>(e: RequestTokenError<RE, BasicErrorResponse>) -> TokenError {
    match e {
        RequestTokenError::ServerResponse(r) => TokenError::Refused {
            error: safe_error_code(r.error().as_ref()),
            description: r.error_description().map(|d| d.chars().take(300).collect()),
        },
        RequestTokenError::Request(e) => TokenError::Transport(e.to_string()),
        RequestTokenError::Parse(e, _) => TokenError::Parse(e.to_string()),
        RequestTokenError::Other(e) => TokenError::Parse(e),
    }
}

/// The tokens of a checked answer (RFC 6749 §5.1; see [`token_response::check_tokens`]).
fn tokens_of(response: &SmartTokenResponse) -> Result<Tokens, TokenError> {
    let tokens = Tokens {
        access_token: response.access_token().secret().clone(),
        refresh_token: response.refresh_token().map(|t| t.secret().clone()),
        scope: response.scopes().map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
        expires_in: response.expires_in().map(|d| d.as_secs()),
    };
    token_response::check_tokens(&token_response::TokenFields {
        access_token: &tokens.access_token,
        token_type: response.token_type().as_ref(),
        expires_in: tokens.expires_in,
        refresh_token: tokens.refresh_token.as_deref(),
    })?;
    Ok(tokens)
}

/// Exchanges an authorization code (with its PKCE verifier) for tokens and launch context.
pub async fn exchange_code(
    http: &reqwest::Client,
    ehr: &EhrRegistration,
    signer: Option<&AssertionSigner>,
    token_url: &Url,
    redirect_uri: &Url,
    code: &str,
    pkce_verifier: &str,
) -> Result<(Tokens, SmartContext), TokenError> {
    let c = client(ehr, token_url, redirect_uri)?;
    let mut request = c
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()));
    if let Some(a) = assertion(signer, ehr, token_url)? {
        request =
            request.add_extra_param("client_assertion_type", ASSERTION_TYPE).add_extra_param("client_assertion", a);
    }
    let response = request.request_async(&Bounded(http)).await.map_err(map_error)?;
    let tokens = tokens_of(&response)?;
    token_response::check_context(response.extra_fields(), &ehr.issuer)?;
    Ok((tokens, response.extra_fields().clone()))
}

/// Uses a refresh token (same client auth as the code exchange). Keeps the old refresh token when
/// the server does not rotate it. The answer's launch context comes back too: a refresh that names
/// another patient must not be used (the caller checks).
pub async fn refresh(
    http: &reqwest::Client,
    ehr: &EhrRegistration,
    signer: Option<&AssertionSigner>,
    token_url: &Url,
    redirect_uri: &Url,
    refresh_token: &str,
) -> Result<(Tokens, SmartContext), TokenError> {
    let c = client(ehr, token_url, redirect_uri)?;
    let rt = RefreshToken::new(refresh_token.to_string());
    let mut request = c.exchange_refresh_token(&rt);
    if let Some(a) = assertion(signer, ehr, token_url)? {
        request =
            request.add_extra_param("client_assertion_type", ASSERTION_TYPE).add_extra_param("client_assertion", a);
    }
    let response = request.request_async(&Bounded(http)).await.map_err(map_error)?;
    let mut tokens = tokens_of(&response)?;
    token_response::check_context(response.extra_fields(), &ehr.issuer)?;
    if tokens.refresh_token.is_none() {
        tokens.refresh_token = Some(refresh_token.to_string());
    }
    Ok((tokens, response.extra_fields().clone()))
}

/// SMART Backend Services: a `client_credentials` grant authenticated with the registration's
/// `private_key_jwt` assertion.
pub async fn client_credentials(
    http: &reqwest::Client,
    ehr: &EhrRegistration,
    signer: Option<&AssertionSigner>,
    token_url: &Url,
    scopes: &str,
) -> Result<Tokens, TokenError> {
    let redirect = Url::parse("urn:ietf:wg:oauth:2.0:oob").expect("valid URL");
    let c = client(ehr, token_url, &redirect)?;
    let mut request = c.exchange_client_credentials();
    for scope in scopes.split_whitespace() {
        request = request.add_scope(oauth2::Scope::new(scope.to_string()));
    }
    let a =
        assertion(signer, ehr, token_url)?.ok_or_else(|| TokenError::ClientAuth("private_key_jwt needed".into()))?;
    request = request.add_extra_param("client_assertion_type", ASSERTION_TYPE).add_extra_param("client_assertion", a);
    let response = request.request_async(&Bounded(http)).await.map_err(map_error)?;
    tokens_of(&response)
}
