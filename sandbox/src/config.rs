//! Sandbox configuration: who may use the authorization server and where the app lives.

use url::Url;

/// Client id registered by [`SandboxConfig::default_for_app`].
pub const DEFAULT_CLIENT_ID: &str = "ereferral";
/// Secret of the default client (client_secret_basic). Development only.
pub const DEFAULT_CLIENT_SECRET: &str = "sandbox-secret-change-me";

/// Scopes granted to the default `ereferral` client. v1 spellings (`.read`) of these are
/// accepted too, because scope matching compares permissions, not strings.
pub const DEFAULT_SCOPES: &[&str] = &[
    "launch",
    "launch/patient",
    "launch/encounter",
    "openid",
    "fhirUser",
    "profile",
    "offline_access",
    "online_access",
    "patient/Patient.rs",
    "patient/Encounter.rs",
    "patient/ServiceRequest.cruds",
    "user/Patient.rs",
    "user/Encounter.rs",
    "user/Practitioner.rs",
    "user/PractitionerRole.rs",
    "user/ServiceRequest.cruds",
];

/// Everything the sandbox needs to start.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Public base URL, e.g. `http://127.0.0.1:3100`; `None` means `http://{bound address}`.
    pub public_base_url: Option<Url>,
    /// The app's SMART launch URL, e.g. `http://localhost:3000/launch`.
    pub app_launch_url: Url,
    /// Registered OAuth clients.
    pub clients: Vec<ClientRegistration>,
    /// Fixed bearers `$process-message` accepts besides live access tokens (development and
    /// tests): [`crate::STATIC_DEV_TOKEN`] by default.
    pub static_bearers: Vec<String>,
}

/// One registered OAuth client.
#[derive(Debug, Clone)]
pub struct ClientRegistration {
    pub client_id: String,
    /// Compared by exact string match.
    pub redirect_uris: Vec<String>,
    pub auth: ClientAuth,
    /// Scopes this client may be granted (requested scopes must be covered by these).
    pub scopes: Vec<String>,
}

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// Public client: sends `client_id` in the form, no secret.
    Public,
    /// `client_secret_basic` (RFC 6749 §2.3.1).
    ClientSecretBasic { secret: String },
    /// `private_key_jwt` (RFC 7523), verified against this JWK Set (`{"keys": [...]}`).
    PrivateKeyJwt { jwks: serde_json::Value },
}

impl ClientAuth {
    pub fn is_public(&self) -> bool {
        matches!(self, ClientAuth::Public)
    }
}

impl SandboxConfig {
    /// Configuration for an eReferral app served at `app_base` (e.g. `http://localhost:3000`):
    /// client `ereferral` (client_secret_basic, secret [`DEFAULT_CLIENT_SECRET`]), redirect URI
    /// `{app_base}/callback`, launch URL `{app_base}/launch`, scopes [`DEFAULT_SCOPES`].
    pub fn default_for_app(app_base: &Url) -> Self {
        let base = app_base.as_str().trim_end_matches('/');
        let launch = format!("{base}/launch");
        let app_launch_url = Url::parse(&launch).unwrap_or_else(|_| app_base.clone());
        SandboxConfig {
            public_base_url: None,
            app_launch_url,
            clients: vec![ClientRegistration {
                client_id: DEFAULT_CLIENT_ID.to_string(),
                redirect_uris: vec![format!("{base}/callback")],
                auth: ClientAuth::ClientSecretBasic { secret: DEFAULT_CLIENT_SECRET.to_string() },
                scopes: DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            }],
            static_bearers: vec![crate::STATIC_DEV_TOKEN.to_string()],
        }
    }

    pub(crate) fn client(&self, client_id: &str) -> Option<&ClientRegistration> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_for_app_builds_urls_without_double_slash() {
        let cfg = SandboxConfig::default_for_app(&Url::parse("http://localhost:3000/").unwrap());
        assert_eq!(cfg.app_launch_url.as_str(), "http://localhost:3000/launch");
        assert_eq!(cfg.clients[0].redirect_uris, vec!["http://localhost:3000/callback"]);
    }
}
