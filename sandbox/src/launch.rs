//! EHR launches: what the EHR page (or a test) asks for when it opens the app.

use serde::{Deserialize, Serialize};

use crate::faults::Faults;

/// How the EHR shows the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LaunchMode {
    /// `<dialog>` with an iframe.
    Modal,
    /// iframe in the page body.
    Inline,
    /// Same-window navigation; the app comes back to `ereferral_return_url`.
    Link,
    /// `window.open` (keeps `opener`).
    Tab,
}

/// A request to launch the app in the context of a patient.
#[derive(Debug, Clone)]
pub struct LaunchRequest {
    pub patient_id: String,
    /// `Practitioner/x` or `PractitionerRole/y`.
    pub user: String,
    pub encounter_id: Option<String>,
    pub draft_service_request_id: Option<String>,
    pub mode: LaunchMode,
    pub web_messaging: bool,
    pub need_patient_banner: bool,
    /// Per-launch faults, merged over the global ones.
    pub faults: Faults,
    /// `fhirUser` as an absolute URL instead of a relative reference.
    pub fhir_user_absolute: bool,
    /// SMART `intent` in the token response (e.g. `referral-status`).
    pub intent: Option<String>,
}

/// A launch the EHR created.
#[derive(Debug, Clone)]
pub struct Launch {
    pub id: String,
    pub request: LaunchRequest,
    /// SMART Web Messaging handle, when `web_messaging`.
    pub messaging_handle: Option<String>,
    pub expires_at: i64,
    /// Set once an authorization code was issued for it: a launch id is single use.
    pub used: bool,
}

/// How long an unused launch id stays valid.
pub const LAUNCH_TTL_SECS: i64 = 600;

use url::Url;

use crate::state::AppState;
use crate::store::{now, random_token};

/// Record a new launch and return its id (what the EHR does before opening the app).
pub fn create(st: &AppState, request: LaunchRequest) -> String {
    let id = random_token(18);
    let messaging_handle = request.web_messaging.then(|| random_token(24));
    let launch = Launch { id: id.clone(), request, messaging_handle, expires_at: now() + LAUNCH_TTL_SECS, used: false };
    st.store().launches.insert(id.clone(), launch);
    id
}

/// `{app_launch_url}?iss={fhir_base}&launch={id}`.
pub fn launch_url(st: &AppState, launch_id: &str) -> Url {
    let mut url = st.config.app_launch_url.clone();
    url.query_pairs_mut().append_pair("iss", &st.urls.fhir_base).append_pair("launch", launch_id);
    url
}
