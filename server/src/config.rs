//! Configuration: one TOML file (optional) plus `EREFERRAL_*` environment overrides.
//!
//! Loading is pure ([`Config::from_sources`]) so it is unit-tested without touching the process
//! environment. With no file and no environment at all the built-in sandbox EHR is the one
//! registered EHR.

use serde::Deserialize;
use std::{net::SocketAddr, path::PathBuf};
use url::Url;

pub const DEFAULT_SCOPES: &str = "launch openid fhirUser online_access patient/Patient.rs user/Practitioner.rs \
     user/PractitionerRole.rs patient/Encounter.rs patient/ServiceRequest.rs";
/// Secret the embedded sandbox registers for us. Only ever used against the sandbox.
pub const SANDBOX_CLIENT_SECRET: &str = crate::sandbox_credentials::CLIENT_SECRET;
pub const SANDBOX_STATIC_BEARER: &str = crate::sandbox_credentials::STATIC_BEARER;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("environment variable {name} is invalid: {reason}")]
    Env { name: &'static str, reason: String },
    #[error("config is invalid: {0}")]
    Invalid(String),
}

/// The whole configuration, after defaults and overrides.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub public_url: Url,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// Base64 of 32 bytes; `None` means "generate one in the data dir on first start".
    pub token_key: Option<String>,
    /// The master key being retired (base64 of 32 bytes): at start, what the store holds under it
    /// is re-wrapped under `token_key`. Remove it once every instance runs on the new key.
    pub token_key_previous: Option<String>,
    pub log: LogConfig,
    pub sandbox: SandboxConfig,
    pub ehrs: Vec<EhrRegistration>,
    pub launch_ttl_secs: u64,
    pub session_ttl_secs: u64,
    pub outbound_timeout_secs: u64,
    /// Lifetime of the access tokens our token endpoint issues to EHRs.
    pub api_token_ttl_secs: u64,
    /// The UTC offset appointment times typed in the intake console are in (`+00:00`, `-05:00`).
    pub console_utc_offset: String,
    pub referral: ReferralConfig,
    pub outbox: OutboxConfig,
    /// Largest FHIR resource we read from an EHR (Patient, Practitioner, …).
    pub fhir_read_max_bytes: usize,
    /// Idle time after which an intake console sign-in ends.
    pub console_idle_timeout_secs: u64,
    pub http: HttpConfig,
}

/// How the server treats incoming requests.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpConfig {
    /// A header your reverse proxy sets to the client's address (e.g. `x-forwarded-for`; its last
    /// value is used). `None`: the TCP peer's address.
    pub client_ip_header: Option<String>,
    /// Longest time one request may take (slow clients and slow handlers are cut off with 408).
    pub request_timeout_secs: u64,
    /// Requests served at once; more are answered 503 at once instead of queueing.
    pub max_concurrent_requests: usize,
    /// Largest request body, except attachment uploads (`referral.max_attachment_bytes`).
    pub max_body_bytes: usize,
}

/// Referral entry: the service directory, drafts, attachments and inactivity.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferralConfig {
    /// FHIR JSON of HealthcareService resources; `None` means the built-in catalogue.
    pub services_file: Option<PathBuf>,
    /// How long an unsubmitted draft is kept (and offered for resuming) after its last change.
    pub draft_ttl_secs: u64,
    /// Idle time in the wizard before the clinician is warned.
    pub inactivity_warn_secs: u64,
    /// Idle time after which the referral is abandoned (the draft stays resumable).
    pub inactivity_timeout_secs: u64,
    pub max_attachment_bytes: u64,
    pub max_attachments: u32,
    /// PractitionerRole codes (any system) of delegates, e.g. discharge planners, who send
    /// referrals on a clinician's behalf and must name the authorizing clinician.
    pub delegate_role_codes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    pub filter: String,
}

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub enabled: bool,
    pub listen: SocketAddr,
    pub public_url: Url,
}

/// One EHR (RMS Source) allowed to launch us.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EhrRegistration {
    /// Short stable name used in logs and the database.
    pub id: String,
    /// Shown to clinicians ("Signed in as … · St. Elsewhere EHR").
    pub name: String,
    /// The FHIR base URL the EHR sends as `iss`.
    pub issuer: Url,
    pub client_id: String,
    pub client_auth: ClientAuthConfig,
    /// Origins allowed to frame us and to receive our postMessages.
    pub allowed_origins: Vec<String>,
    #[serde(default = "default_scopes")]
    pub scopes: String,
    pub process_message: ProcessMessageConfig,
    /// Origins besides the issuer's where the EHR's authorization server lives (its
    /// `authorization_endpoint`, `token_endpoint` and `jwks_uri` from discovery). Endpoints on any
    /// other origin are refused before the app redirects or sends anything there.
    #[serde(default)]
    pub auth_origins: Vec<String>,
    /// This EHR as a client of our FHIR API (reads, and later messages to us): SMART Backend
    /// Services with `private_key_jwt` against this JWKS. `None`: the EHR cannot call us.
    #[serde(default)]
    pub api_client: Option<ApiClientConfig>,
    /// Set only on the built-in sandbox's own registration (never from a file): the one
    /// registration allowed the sandbox's public credentials.
    #[serde(skip)]
    pub builtin_sandbox: bool,
}

/// A registered source's client of our FHIR API.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApiClientConfig {
    /// The `iss`/`sub` of its client assertions; unique across EHRs.
    pub client_id: String,
    /// Its public keys: a JWK Set file, or…
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// …the JWK Set inline.
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    /// What it may be granted.
    #[serde(default = "default_api_scopes")]
    pub scopes: String,
}

pub const DEFAULT_API_SCOPES: &str =
    "system/ServiceRequest.rs system/Task.rs system/DocumentReference.rs system/Binary.rs system/Bundle.c";

fn default_api_scopes() -> String {
    DEFAULT_API_SCOPES.to_string()
}

/// The built-in sandbox EHR's public key as our API client (dev only; see sandbox/keys/README.md).
pub const SANDBOX_API_CLIENT_ID: &str = crate::sandbox_credentials::API_CLIENT_ID;

fn default_scopes() -> String {
    DEFAULT_SCOPES.to_string()
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientAuthConfig {
    Public,
    ClientSecretBasic {
        /// The secret itself, or…
        #[serde(default)]
        secret: Option<String>,
        /// …the name of an environment variable holding it (preferred).
        #[serde(default)]
        secret_env: Option<String>,
    },
    PrivateKeyJwt {
        /// PEM file with the private key (PKCS#8 RSA for RS384, EC P-384 for ES384).
        key_file: PathBuf,
        alg: JwtAlg,
        kid: String,
    },
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum JwtAlg {
    RS384,
    ES384,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProcessMessageConfig {
    /// The EHR's `$process-message` URL.
    pub endpoint: Url,
    pub auth: ProcessMessageAuth,
    /// The code system of `MessageHeader.eventCoding` in messages we send this EHR.
    #[serde(default = "default_event_system")]
    pub event_system: String,
    /// How event codes are spelled in messages we send (`hyphenated`: `notify-add-service-request`;
    /// `legacy`: the older guides' `notify-add-servicerequest`). Both are accepted on input.
    #[serde(default)]
    pub event_spelling: EventSpelling,
}

/// The eReferral guide's event code system, as seen in production payloads.
pub const DEFAULT_EVENT_SYSTEM: &str = "https://ehealthontario.ca/fhir/CodeSystem/message-event-code";

fn default_event_system() -> String {
    DEFAULT_EVENT_SYSTEM.to_string()
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EventSpelling {
    #[default]
    Hyphenated,
    Legacy,
}

/// Delivery of messages to EHRs (the outbox worker).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxConfig {
    /// First retry delay; doubles on each failed attempt (with jitter) up to `retry_max_secs`.
    pub retry_base_secs: u64,
    pub retry_max_secs: u64,
    /// How long one delivery attempt holds its message. A process that dies mid-delivery leaves
    /// the message to be retried (same Bundle id) once this has passed.
    pub lease_secs: u64,
    /// How often the worker looks for messages that are due (it is also woken at once on submit).
    pub poll_millis: u64,
    /// How long the confirmation page waits for the first delivery attempt before showing
    /// "waiting to deliver".
    pub confirm_wait_millis: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProcessMessageAuth {
    /// SMART Backend Services: `client_credentials` with this registration's `private_key_jwt`.
    BackendServices {
        #[serde(default = "default_system_scopes")]
        scopes: String,
    },
    /// A fixed bearer token (development only).
    StaticBearer {
        #[serde(default)]
        token: Option<String>,
        #[serde(default)]
        token_env: Option<String>,
    },
}

fn default_system_scopes() -> String {
    "system/MessageHeader.c system/Bundle.c".to_string()
}

/// The TOML file's shape. Every field optional: defaults fill the rest.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    public_url: Option<Url>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    token_key: Option<String>,
    token_key_previous: Option<String>,
    launch_ttl_secs: Option<u64>,
    session_ttl_secs: Option<u64>,
    outbound_timeout_secs: Option<u64>,
    api_token_ttl_secs: Option<u64>,
    console_utc_offset: Option<String>,
    #[serde(default)]
    log: FileLog,
    #[serde(default)]
    sandbox: FileSandbox,
    #[serde(default)]
    ehr: Vec<EhrRegistration>,
    #[serde(default)]
    referral: FileReferral,
    #[serde(default)]
    outbox: FileOutbox,
    fhir_read_max_bytes: Option<usize>,
    console_idle_timeout_secs: Option<u64>,
    #[serde(default)]
    http: FileHttp,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHttp {
    client_ip_header: Option<String>,
    request_timeout_secs: Option<u64>,
    max_concurrent_requests: Option<usize>,
    max_body_bytes: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOutbox {
    retry_base_secs: Option<u64>,
    retry_max_secs: Option<u64>,
    lease_secs: Option<u64>,
    poll_millis: Option<u64>,
    confirm_wait_millis: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileReferral {
    services_file: Option<PathBuf>,
    draft_ttl_secs: Option<u64>,
    inactivity_warn_secs: Option<u64>,
    inactivity_timeout_secs: Option<u64>,
    max_attachment_bytes: Option<u64>,
    max_attachments: Option<u32>,
    delegate_role_codes: Option<Vec<String>>,
}

/// PractitionerRole codes that refer on a clinician's behalf by default: SNOMED CT 309397000
/// (discharge planning nurse). Hospitals list their own delegate roles in `referral.delegate_role_codes`.
pub const DEFAULT_DELEGATE_ROLE_CODES: &[&str] = &["309397000"];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLog {
    format: Option<String>,
    filter: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSandbox {
    enabled: Option<bool>,
    listen: Option<SocketAddr>,
    public_url: Option<Url>,
}

fn parse_env<T: std::str::FromStr>(
    env: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<T>, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match env(name) {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => v.trim().parse::<T>().map(Some).map_err(|e| ConfigError::Env { name, reason: e.to_string() }),
    }
}

fn parse_bool(env: &dyn Fn(&str) -> Option<String>, name: &'static str) -> Result<Option<bool>, ConfigError> {
    match env(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => match v.as_str() {
            "1" | "true" | "on" | "yes" => Ok(Some(true)),
            "0" | "false" | "off" | "no" => Ok(Some(false)),
            _ => Err(ConfigError::Env { name, reason: format!("expected on/off, got {v:?}") }),
        },
    }
}

impl Config {
    /// Builds the configuration from an optional TOML text and an environment lookup.
    pub fn from_sources(file: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let file: FileConfig = match file {
            Some(text) => toml::from_str(text)?,
            None => FileConfig::default(),
        };
        // cargo-leptos tells the binary where to listen through LEPTOS_SITE_ADDR.
        let listen = parse_env(env, "EREFERRAL_LISTEN")?
            .or(file.listen)
            .or(parse_env(env, "LEPTOS_SITE_ADDR")?)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3000)));
        let public_url = parse_env::<Url>(env, "EREFERRAL_PUBLIC_URL")?
            .or(file.public_url)
            .unwrap_or_else(|| default_public_url(listen));
        let data_dir =
            parse_env::<PathBuf>(env, "EREFERRAL_DATA_DIR")?.or(file.data_dir).unwrap_or_else(|| PathBuf::from("data"));
        let database_url = env("EREFERRAL_DATABASE_URL")
            .filter(|v| !v.trim().is_empty())
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("ereferral.db").display()));
        let token_key = env("EREFERRAL_TOKEN_KEY").filter(|v| !v.trim().is_empty()).or(file.token_key);
        let token_key_previous =
            env("EREFERRAL_TOKEN_KEY_PREVIOUS").filter(|v| !v.trim().is_empty()).or(file.token_key_previous);

        let format = env("EREFERRAL_LOG_FORMAT").or(file.log.format).unwrap_or_else(|| "human".into());
        let format = match format.trim() {
            "human" | "" => LogFormat::Human,
            "json" => LogFormat::Json,
            other => {
                return Err(ConfigError::Invalid(format!("log format must be \"human\" or \"json\", got {other:?}")))
            }
        };
        let filter = env("EREFERRAL_LOG")
            .or_else(|| env("RUST_LOG"))
            .or(file.log.filter)
            .unwrap_or_else(|| "info,server=info,sandbox=info".into());

        let ehrs = file.ehr;
        let sandbox_listen = parse_env(env, "EREFERRAL_SANDBOX_LISTEN")?
            .or(file.sandbox.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3100)));
        let sandbox = SandboxConfig {
            // The sandbox is the default EHR of builds that have it (the `sandbox` feature): on
            // unless EHRs are configured or it is switched off.
            enabled: parse_bool(env, "EREFERRAL_SANDBOX")?
                .or(file.sandbox.enabled)
                .unwrap_or(ehrs.is_empty() && cfg!(feature = "sandbox")),
            listen: sandbox_listen,
            public_url: parse_env::<Url>(env, "EREFERRAL_SANDBOX_PUBLIC_URL")?
                .or(file.sandbox.public_url)
                .unwrap_or_else(|| {
                    Url::parse(&format!("http://{sandbox_listen}")).expect("socket address is a valid URL host")
                }),
        };

        let mut config = Config {
            listen,
            public_url,
            data_dir,
            database_url,
            token_key,
            token_key_previous,
            log: LogConfig { format, filter },
            sandbox,
            ehrs,
            launch_ttl_secs: parse_env(env, "EREFERRAL_LAUNCH_TTL_SECS")?.or(file.launch_ttl_secs).unwrap_or(600),
            session_ttl_secs: parse_env(env, "EREFERRAL_SESSION_TTL_SECS")?
                .or(file.session_ttl_secs)
                .unwrap_or(8 * 3600),
            outbound_timeout_secs: parse_env(env, "EREFERRAL_OUTBOUND_TIMEOUT_SECS")?
                .or(file.outbound_timeout_secs)
                .unwrap_or(10),
            api_token_ttl_secs: parse_env(env, "EREFERRAL_API_TOKEN_TTL_SECS")?
                .or(file.api_token_ttl_secs)
                .unwrap_or(300),
            console_utc_offset: env("EREFERRAL_CONSOLE_UTC_OFFSET")
                .filter(|v| !v.trim().is_empty())
                .or(file.console_utc_offset)
                .unwrap_or_else(|| "+00:00".into())
                .trim()
                .to_string(),
            referral: ReferralConfig {
                services_file: env("EREFERRAL_SERVICES_FILE")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
                    .or(file.referral.services_file),
                draft_ttl_secs: parse_env(env, "EREFERRAL_DRAFT_TTL_SECS")?
                    .or(file.referral.draft_ttl_secs)
                    .unwrap_or(7 * 24 * 3600),
                inactivity_warn_secs: parse_env(env, "EREFERRAL_INACTIVITY_WARN_SECS")?
                    .or(file.referral.inactivity_warn_secs)
                    .unwrap_or(15 * 60),
                inactivity_timeout_secs: parse_env(env, "EREFERRAL_INACTIVITY_TIMEOUT_SECS")?
                    .or(file.referral.inactivity_timeout_secs)
                    .unwrap_or(17 * 60),
                max_attachment_bytes: parse_env(env, "EREFERRAL_MAX_ATTACHMENT_BYTES")?
                    .or(file.referral.max_attachment_bytes)
                    .unwrap_or(10 * 1024 * 1024),
                max_attachments: parse_env(env, "EREFERRAL_MAX_ATTACHMENTS")?
                    .or(file.referral.max_attachments)
                    .unwrap_or(5),
                delegate_role_codes: file
                    .referral
                    .delegate_role_codes
                    .unwrap_or_else(|| DEFAULT_DELEGATE_ROLE_CODES.iter().map(|c| c.to_string()).collect()),
            },
            outbox: OutboxConfig {
                retry_base_secs: parse_env(env, "EREFERRAL_OUTBOX_RETRY_BASE_SECS")?
                    .or(file.outbox.retry_base_secs)
                    .unwrap_or(2),
                retry_max_secs: parse_env(env, "EREFERRAL_OUTBOX_RETRY_MAX_SECS")?
                    .or(file.outbox.retry_max_secs)
                    .unwrap_or(600),
                lease_secs: parse_env(env, "EREFERRAL_OUTBOX_LEASE_SECS")?.or(file.outbox.lease_secs).unwrap_or(60),
                poll_millis: parse_env(env, "EREFERRAL_OUTBOX_POLL_MILLIS")?
                    .or(file.outbox.poll_millis)
                    .unwrap_or(1000),
                confirm_wait_millis: parse_env(env, "EREFERRAL_OUTBOX_CONFIRM_WAIT_MILLIS")?
                    .or(file.outbox.confirm_wait_millis)
                    .unwrap_or(3000),
            },
            fhir_read_max_bytes: parse_env(env, "EREFERRAL_FHIR_READ_MAX_BYTES")?
                .or(file.fhir_read_max_bytes)
                .unwrap_or(crate::fhir::client::Expect::DEFAULT_FHIR_READ_BYTES),
            console_idle_timeout_secs: parse_env(env, "EREFERRAL_CONSOLE_IDLE_TIMEOUT_SECS")?
                .or(file.console_idle_timeout_secs)
                .unwrap_or(30 * 60),
            http: HttpConfig {
                client_ip_header: env("EREFERRAL_CLIENT_IP_HEADER")
                    .or(file.http.client_ip_header)
                    .map(|h| h.trim().to_ascii_lowercase())
                    .filter(|h| !h.is_empty()),
                request_timeout_secs: parse_env(env, "EREFERRAL_REQUEST_TIMEOUT_SECS")?
                    .or(file.http.request_timeout_secs)
                    .unwrap_or(60),
                max_concurrent_requests: parse_env(env, "EREFERRAL_MAX_CONCURRENT_REQUESTS")?
                    .or(file.http.max_concurrent_requests)
                    .unwrap_or(512),
                max_body_bytes: parse_env(env, "EREFERRAL_MAX_BODY_BYTES")?
                    .or(file.http.max_body_bytes)
                    .unwrap_or(2 * 1024 * 1024),
            },
        };
        // Only the sandbox's own registration may use its public credentials.
        check_no_sandbox_credentials(&config.ehrs, env)?;
        if config.sandbox.enabled {
            #[cfg(not(feature = "sandbox"))]
            return Err(ConfigError::Invalid(
                "this build has no sandbox EHR (build with the `sandbox` feature); register your EHR with [[ehr]]"
                    .into(),
            ));
            #[cfg(feature = "sandbox")]
            {
                if !(config.listen.ip().is_loopback() && config.sandbox.listen.ip().is_loopback()) {
                    return Err(ConfigError::Invalid(format!(
                        "the sandbox EHR (development only, public keys) runs only when it and the app listen on loopback; \
                         the app listens on {} and the sandbox on {}: set EREFERRAL_SANDBOX=off, or listen on 127.0.0.1",
                        config.listen, config.sandbox.listen
                    )));
                }
                config.ehrs.push(sandbox_registration(&config.sandbox.public_url));
            }
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.ehrs.is_empty() {
            return Err(ConfigError::Invalid(
                "no EHR is registered: add an [[ehr]] section or enable the sandbox (EREFERRAL_SANDBOX=on)".into(),
            ));
        }
        let mut ids = std::collections::HashSet::new();
        let mut api_ids = std::collections::HashSet::new();
        for ehr in &self.ehrs {
            if !ids.insert(ehr.id.as_str()) {
                return Err(ConfigError::Invalid(format!("EHR id {:?} is registered twice", ehr.id)));
            }
            if ehr.allowed_origins.is_empty() {
                return Err(ConfigError::Invalid(format!("EHR {:?} needs at least one allowed origin", ehr.id)));
            }
            for origin in &ehr.allowed_origins {
                let parsed = Url::parse(origin).map_err(|e| {
                    ConfigError::Invalid(format!("EHR {:?}: origin {origin:?} is not a URL: {e}", ehr.id))
                })?;
                if parsed.origin().ascii_serialization() != *origin {
                    return Err(ConfigError::Invalid(format!(
                        "EHR {:?}: {origin:?} is not a bare origin (scheme://host[:port], no path or slash)",
                        ehr.id
                    )));
                }
            }
            for origin in &ehr.auth_origins {
                let bare = Url::parse(origin).is_ok_and(|u| u.origin().ascii_serialization() == *origin);
                if !bare {
                    return Err(ConfigError::Invalid(format!(
                        "EHR {:?}: auth_origins entry {origin:?} is not a bare origin (scheme://host[:port], no path or slash)",
                        ehr.id
                    )));
                }
            }
            if let Some(api) = &ehr.api_client {
                if u8::from(api.jwks_file.is_some()) + u8::from(api.jwks.is_some()) != 1 {
                    return Err(ConfigError::Invalid(format!(
                        "EHR {:?}: api_client needs exactly one of jwks_file and jwks",
                        ehr.id
                    )));
                }
                if !api_ids.insert(api.client_id.as_str()) {
                    return Err(ConfigError::Invalid(format!("API client id {:?} is registered twice", api.client_id)));
                }
            }
            if let ClientAuthConfig::ClientSecretBasic { secret: None, secret_env: None } = &ehr.client_auth {
                return Err(ConfigError::Invalid(format!(
                    "EHR {:?}: client_secret_basic needs secret or secret_env",
                    ehr.id
                )));
            }
        }
        if self.session_ttl_secs == 0
            || self.launch_ttl_secs == 0
            || self.outbound_timeout_secs == 0
            || self.api_token_ttl_secs == 0
        {
            return Err(ConfigError::Invalid("TTLs and timeouts must be greater than zero".into()));
        }
        let probe = format!("2026-01-01T00:00:00{}", self.console_utc_offset);
        if time::OffsetDateTime::parse(&probe, &time::format_description::well_known::Rfc3339).is_err() {
            return Err(ConfigError::Invalid(format!(
                "console_utc_offset {:?} is not an offset like +00:00 or -05:00",
                self.console_utc_offset
            )));
        }
        let o = &self.outbox;
        if o.retry_base_secs == 0 || o.retry_max_secs < o.retry_base_secs || o.poll_millis == 0 {
            return Err(ConfigError::Invalid(
                "outbox.retry_base_secs and poll_millis must be above zero, retry_max_secs at least retry_base_secs"
                    .into(),
            ));
        }
        // An attempt is cut off at 3/4 of its lease; one call must fit in that.
        if o.lease_secs * 3 <= self.outbound_timeout_secs * 4 {
            return Err(ConfigError::Invalid(format!(
                "outbox.lease_secs ({}) must be more than 4/3 of outbound_timeout_secs ({}): a delivery attempt is cut off at 3/4 of its lease, and one call to the EHR must fit in that",
                o.lease_secs, self.outbound_timeout_secs
            )));
        }
        let h = &self.http;
        if h.request_timeout_secs == 0 || h.max_concurrent_requests == 0 || h.max_body_bytes == 0 {
            return Err(ConfigError::Invalid(
                "http.request_timeout_secs, max_concurrent_requests and max_body_bytes must be greater than zero"
                    .into(),
            ));
        }
        if let Some(name) = &h.client_ip_header {
            if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(ConfigError::Invalid(format!("http.client_ip_header {name:?} is not a header name")));
            }
        }
        if self.fhir_read_max_bytes < 16 * 1024 || self.console_idle_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "fhir_read_max_bytes must be at least 16384 and console_idle_timeout_secs above zero".into(),
            ));
        }
        let r = &self.referral;
        if r.draft_ttl_secs == 0 || r.max_attachment_bytes == 0 {
            return Err(ConfigError::Invalid(
                "referral.draft_ttl_secs and max_attachment_bytes must be greater than zero".into(),
            ));
        }
        if r.inactivity_warn_secs == 0 || r.inactivity_timeout_secs <= r.inactivity_warn_secs {
            return Err(ConfigError::Invalid(
                "referral.inactivity_timeout_secs must be greater than inactivity_warn_secs, and both above zero"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The origins allowed to frame the app (CSP `frame-ancestors`).
    pub fn frame_ancestors(&self) -> Vec<String> {
        let mut origins: Vec<String> = self.ehrs.iter().flat_map(|e| e.allowed_origins.iter().cloned()).collect();
        origins.sort();
        origins.dedup();
        origins
    }

    /// Our OAuth redirect URI.
    pub fn redirect_uri(&self) -> Url {
        self.public_url.join("callback").expect("public URL is a base URL")
    }
}

fn default_public_url(listen: SocketAddr) -> Url {
    // Serve the app as `localhost` while the sandbox is `127.0.0.1`: two different sites, as in
    // production where the EHR frames us cross-site.
    let host = if listen.ip().is_loopback() { "localhost".to_string() } else { listen.ip().to_string() };
    Url::parse(&format!("http://{host}:{}/", listen.port())).expect("valid URL")
}

/// Refuses any configured registration that uses the sandbox's public credentials: its client
/// secret, its static bearer (also through `token_env`/`secret_env`), its API client id, or its
/// keys (inline JWKS; key files are checked when they are loaded).
fn check_no_sandbox_credentials(
    ehrs: &[EhrRegistration],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    use crate::sandbox_credentials as dev;
    let resolved = |value: &Option<String>, var: &Option<String>| {
        var.as_deref().and_then(|v| env(v)).or_else(|| value.clone()).unwrap_or_default()
    };
    for ehr in ehrs {
        let refuse = |what: &str| {
            Err(ConfigError::Invalid(format!(
                "EHR {:?} uses the sandbox EHR's public {what}: it is development-only and known to everyone",
                ehr.id
            )))
        };
        if let ClientAuthConfig::ClientSecretBasic { secret, secret_env } = &ehr.client_auth {
            if resolved(secret, secret_env) == dev::CLIENT_SECRET {
                return refuse("client secret");
            }
        }
        if let ProcessMessageAuth::StaticBearer { token, token_env } = &ehr.process_message.auth {
            if resolved(token, token_env) == dev::STATIC_BEARER {
                return refuse("static bearer token");
            }
        }
        if let Some(api) = &ehr.api_client {
            if api.client_id == dev::API_CLIENT_ID {
                return refuse("API client id");
            }
            if api.jwks.as_ref().is_some_and(dev::jwks_has_sandbox_key) {
                return refuse("API client key");
            }
        }
    }
    Ok(())
}

/// The built-in sandbox EHR's registration.
#[cfg(feature = "sandbox")]
pub fn sandbox_registration(sandbox_url: &Url) -> EhrRegistration {
    let origin = sandbox_url.origin().ascii_serialization();
    EhrRegistration {
        id: "sandbox".into(),
        name: "Sandbox EHR".into(),
        issuer: sandbox_url.join("fhir").expect("valid URL"),
        client_id: "ereferral".into(),
        client_auth: ClientAuthConfig::ClientSecretBasic {
            secret: Some(SANDBOX_CLIENT_SECRET.into()),
            secret_env: None,
        },
        allowed_origins: vec![origin],
        auth_origins: Vec::new(),
        scopes: DEFAULT_SCOPES.into(),
        process_message: ProcessMessageConfig {
            endpoint: sandbox_url.join("fhir/$process-message").expect("valid URL"),
            auth: ProcessMessageAuth::StaticBearer { token: Some(SANDBOX_STATIC_BEARER.into()), token_env: None },
            event_system: DEFAULT_EVENT_SYSTEM.into(),
            event_spelling: EventSpelling::Hyphenated,
        },
        api_client: Some(ApiClientConfig {
            client_id: SANDBOX_API_CLIENT_ID.into(),
            jwks_file: None,
            jwks: Some(
                serde_json::from_str(crate::sandbox_credentials::PUBLIC_JWKS[0])
                    .expect("the sandbox's API client JWKS is JSON"),
            ),
            scopes: DEFAULT_API_SCOPES.into(),
        }),
        builtin_sandbox: true,
    }
}

/// Registrations for unit tests elsewhere in the crate.
#[cfg(test)]
pub mod tests_support {
    use super::*;

    /// A public client registered for `issuer`, its origin allowed.
    pub fn registration(issuer: &str) -> EhrRegistration {
        let issuer = Url::parse(issuer).expect("issuer URL");
        EhrRegistration {
            id: "test".into(),
            name: "Test EHR".into(),
            allowed_origins: vec![issuer.origin().ascii_serialization()],
            auth_origins: Vec::new(),
            client_id: "app".into(),
            client_auth: ClientAuthConfig::Public,
            scopes: DEFAULT_SCOPES.into(),
            process_message: ProcessMessageConfig {
                endpoint: issuer.join("fhir/$process-message").expect("valid URL"),
                auth: ProcessMessageAuth::StaticBearer { token: Some("t".into()), token_env: None },
                event_system: DEFAULT_EVENT_SYSTEM.into(),
                event_spelling: EventSpelling::Hyphenated,
            },
            api_client: None,
            builtin_sandbox: false,
            issuer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    #[cfg(feature = "sandbox")]
    fn zero_config_registers_the_sandbox_on_another_site() {
        let c = Config::from_sources(None, &env_of(&[])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.public_url.as_str(), "http://localhost:3000/");
        assert!(c.sandbox.enabled);
        assert_eq!(c.ehrs.len(), 1);
        assert_eq!(c.ehrs[0].issuer.as_str(), "http://127.0.0.1:3100/fhir");
        assert_eq!(c.frame_ancestors(), vec!["http://127.0.0.1:3100".to_string()]);
        assert_eq!(c.redirect_uri().as_str(), "http://localhost:3000/callback");
        assert_eq!(c.database_url, "sqlite://data/ereferral.db");
    }

    #[test]
    #[cfg(feature = "sandbox")]
    fn env_overrides_file() {
        let file = "listen = \"127.0.0.1:4000\"\n[log]\nformat = \"human\"\n";
        let c = Config::from_sources(
            Some(file),
            &env_of(&[("EREFERRAL_LISTEN", "127.0.0.1:5000"), ("EREFERRAL_LOG_FORMAT", "json")]),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 5000);
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.public_url.as_str(), "http://localhost:5000/");
    }

    #[test]
    fn configured_ehrs_turn_the_sandbox_off_by_default() {
        let file = r#"
[[ehr]]
id = "hospital"
name = "General Hospital"
issuer = "https://ehr.example.org/fhir"
client_id = "ereferral-app"
allowed_origins = ["https://ehr.example.org"]
client_auth = { method = "private_key_jwt", key_file = "keys/app.pem", alg = "ES384", kid = "k1" }
process_message = { endpoint = "https://ehr.example.org/fhir/$process-message", auth = { method = "backend_services" } }
"#;
        let c = Config::from_sources(Some(file), &env_of(&[])).unwrap();
        assert!(!c.sandbox.enabled);
        assert_eq!(c.ehrs.len(), 1);
        assert_eq!(c.ehrs[0].scopes, DEFAULT_SCOPES);
        #[cfg(feature = "sandbox")]
        {
            let with_sandbox = Config::from_sources(Some(file), &env_of(&[("EREFERRAL_SANDBOX", "on")])).unwrap();
            assert_eq!(with_sandbox.ehrs.len(), 2);
        }
    }

    #[test]
    #[cfg(feature = "sandbox")]
    fn bad_values_are_clear_errors() {
        let err = Config::from_sources(None, &env_of(&[("EREFERRAL_LISTEN", "nope")])).unwrap_err();
        assert!(err.to_string().contains("EREFERRAL_LISTEN"), "{err}");
        let err = Config::from_sources(Some("listen = 3"), &env_of(&[])).unwrap_err();
        assert!(matches!(err, ConfigError::Toml(_)));
        let err = Config::from_sources(Some("unknown_key = 1"), &env_of(&[])).unwrap_err();
        assert!(err.to_string().contains("unknown"), "{err}");
        let err = Config::from_sources(None, &env_of(&[("EREFERRAL_SANDBOX", "off")])).unwrap_err();
        assert!(err.to_string().contains("no EHR"), "{err}");
        let err = Config::from_sources(None, &env_of(&[("EREFERRAL_LOG_FORMAT", "xml")])).unwrap_err();
        assert!(err.to_string().contains("log format"), "{err}");
    }

    #[test]
    fn origins_must_be_bare() {
        let file = r#"
[[ehr]]
id = "h"
name = "H"
issuer = "https://ehr.example.org/fhir"
client_id = "c"
allowed_origins = ["https://ehr.example.org/"]
client_auth = { method = "public" }
process_message = { endpoint = "https://ehr.example.org/fhir/$process-message", auth = { method = "static_bearer", token = "t" } }
"#;
        let err = Config::from_sources(Some(file), &env_of(&[])).unwrap_err();
        assert!(err.to_string().contains("bare origin"), "{err}");
    }

    #[test]
    #[cfg(feature = "sandbox")]
    fn api_clients_need_one_jwks_and_unique_ids() {
        let c = Config::from_sources(None, &env_of(&[])).unwrap();
        let api = c.ehrs[0].api_client.as_ref().expect("the sandbox can call our API");
        assert_eq!(api.client_id, SANDBOX_API_CLIENT_ID);
        assert!(api.jwks.as_ref().unwrap()["keys"][0]["kid"].is_string());
        let ehr = |id: &str, api: &str| {
            format!(
                r#"
[[ehr]]
id = "{id}"
name = "H"
issuer = "https://{id}.example.org/fhir"
client_id = "c"
allowed_origins = ["https://{id}.example.org"]
client_auth = {{ method = "public" }}
process_message = {{ endpoint = "https://{id}.example.org/fhir/$process-message", auth = {{ method = "static_bearer", token = "t" }} }}
api_client = {api}
"#
            )
        };
        let both = ehr("a", r#"{ client_id = "x", jwks_file = "k.json", jwks = { keys = [] } }"#);
        let err = Config::from_sources(Some(&both), &env_of(&[])).unwrap_err();
        assert!(err.to_string().contains("exactly one of jwks_file and jwks"), "{err}");
        let twice = format!(
            "{}{}",
            ehr("a", r#"{ client_id = "x", jwks_file = "k.json" }"#),
            ehr("b", r#"{ client_id = "x", jwks_file = "k.json" }"#)
        );
        let err = Config::from_sources(Some(&twice), &env_of(&[])).unwrap_err();
        assert!(err.to_string().contains("registered twice"), "{err}");
        let ok = ehr("a", r#"{ client_id = "x", jwks_file = "k.json" }"#);
        let c = Config::from_sources(Some(&ok), &env_of(&[])).unwrap();
        assert_eq!(c.ehrs[0].api_client.as_ref().unwrap().scopes, DEFAULT_API_SCOPES);
    }

    #[test]
    #[cfg(feature = "sandbox")]
    fn outbox_settings_are_checked() {
        let err = Config::from_sources(
            None,
            &env_of(&[("EREFERRAL_OUTBOX_LEASE_SECS", "5"), ("EREFERRAL_OUTBOUND_TIMEOUT_SECS", "10")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("lease_secs"), "{err}");
        let c =
            Config::from_sources(Some("[outbox]\nretry_base_secs = 1\nretry_max_secs = 30\n"), &env_of(&[])).unwrap();
        assert_eq!((c.outbox.retry_base_secs, c.outbox.retry_max_secs, c.outbox.lease_secs), (1, 30, 60));
        let c = Config::from_sources(None, &env_of(&[])).unwrap();
        assert_eq!(c.ehrs[0].process_message.event_spelling, EventSpelling::Hyphenated);
        assert_eq!(c.ehrs[0].process_message.event_system, DEFAULT_EVENT_SYSTEM);
    }

    fn one_ehr(process_message_auth: &str, client_auth: &str, api: &str) -> String {
        format!(
            r#"
[[ehr]]
id = "h"
name = "H"
issuer = "https://ehr.example.org/fhir"
client_id = "c"
allowed_origins = ["https://ehr.example.org"]
client_auth = {client_auth}
process_message = {{ endpoint = "https://ehr.example.org/fhir/$process-message", auth = {process_message_auth} }}
{api}
"#
        )
    }

    #[test]
    fn the_sandboxs_public_credentials_secure_nothing_else() {
        let public = r#"{ method = "public" }"#;
        let bearer = r#"{ method = "static_bearer", token = "t" }"#;
        let cases = [
            one_ehr(r#"{ method = "static_bearer", token = "sandbox-static-token" }"#, public, ""),
            one_ehr(r#"{ method = "static_bearer", token_env = "HOSPITAL_BEARER" }"#, public, ""),
            one_ehr(bearer, r#"{ method = "client_secret_basic", secret = "sandbox-secret-change-me" }"#, ""),
            one_ehr(bearer, public, r#"api_client = { client_id = "sandbox-ehr", jwks = { keys = [] } }"#),
            one_ehr(
                bearer,
                public,
                &format!("api_client = {{ client_id = \"h-api\", jwks = {} }}", {
                    let v: serde_json::Value =
                        serde_json::from_str(crate::sandbox_credentials::PUBLIC_JWKS[0]).unwrap();
                    let k = &v["keys"][0];
                    format!(
                        "{{ keys = [{{ kty = \"EC\", crv = \"P-384\", kid = \"renamed\", x = {}, y = {} }}] }}",
                        k["x"], k["y"]
                    )
                }),
            ),
        ];
        let env = env_of(&[("HOSPITAL_BEARER", "sandbox-static-token")]);
        for toml in &cases {
            let err = Config::from_sources(Some(toml), &env).unwrap_err();
            assert!(err.to_string().contains("sandbox EHR's public"), "{toml}: {err}");
        }
        assert!(Config::from_sources(Some(&one_ehr(bearer, public, "")), &env).is_ok());
    }

    #[test]
    #[cfg(feature = "sandbox")]
    fn the_sandbox_runs_only_on_loopback() {
        for (app, sandbox) in [
            ("0.0.0.0:3000", "127.0.0.1:3100"),
            ("127.0.0.1:3000", "0.0.0.0:3100"),
            ("10.1.2.3:3000", "127.0.0.1:3100"),
        ] {
            let err = Config::from_sources(
                None,
                &env_of(&[("EREFERRAL_LISTEN", app), ("EREFERRAL_SANDBOX_LISTEN", sandbox)]),
            )
            .unwrap_err();
            assert!(err.to_string().contains("only when it and the app listen on loopback"), "{app} {sandbox}: {err}");
        }
        let ok = Config::from_sources(
            None,
            &env_of(&[("EREFERRAL_LISTEN", "[::1]:3000"), ("EREFERRAL_SANDBOX_LISTEN", "127.0.0.1:3100")]),
        );
        assert!(ok.is_ok());
        // On any address, with the sandbox off, a registered EHR is served.
        let file = one_ehr(r#"{ method = "static_bearer", token = "t" }"#, r#"{ method = "public" }"#, "");
        assert!(Config::from_sources(Some(&file), &env_of(&[("EREFERRAL_LISTEN", "0.0.0.0:3000")])).is_ok());
    }

    #[test]
    #[cfg(not(feature = "sandbox"))]
    fn a_build_without_the_sandbox_never_starts_one() {
        let err = Config::from_sources(None, &env_of(&[])).unwrap_err();
        assert!(err.to_string().contains("no EHR is registered"), "{err}");
        let err = Config::from_sources(None, &env_of(&[("EREFERRAL_SANDBOX", "on")])).unwrap_err();
        assert!(err.to_string().contains("this build has no sandbox"), "{err}");
    }

    #[test]
    fn auth_origins_must_be_bare_and_leases_must_hold_an_attempt() {
        let file = one_ehr(
            r#"{ method = "static_bearer", token = "t" }"#,
            r#"{ method = "public" }"#,
            "auth_origins = [\"https://auth.example.org/\"]",
        );
        let err = Config::from_sources(Some(&file), &env_of(&[])).unwrap_err();
        assert!(err.to_string().contains("auth_origins"), "{err}");
        let file = one_ehr(r#"{ method = "static_bearer", token = "t" }"#, r#"{ method = "public" }"#, "");
        let err = Config::from_sources(
            Some(&file),
            &env_of(&[("EREFERRAL_OUTBOX_LEASE_SECS", "12"), ("EREFERRAL_OUTBOUND_TIMEOUT_SECS", "10")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("3/4 of its lease"), "{err}");
        assert!(Config::from_sources(
            Some(&file),
            &env_of(&[("EREFERRAL_OUTBOX_LEASE_SECS", "14"), ("EREFERRAL_OUTBOUND_TIMEOUT_SECS", "10")]),
        )
        .is_ok());
    }
}
