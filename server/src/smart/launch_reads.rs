//! What a launch reads from the EHR before a session exists: the Patient, the user (Practitioner,
//! or PractitionerRole and its Practitioner), the `fhirContext` draft ServiceRequest and the
//! Encounter, read in parallel and each checked against what was asked for (`fhir::identity`).

use crate::{
    fhir::{
        client::{read_resource, Expect, FhirReadError},
        identity::{self, Mismatch},
        reference::{self, parse_reference, Reference},
    },
    store::sessions::UserRecord,
};
use serde_json::Value;
use url::Url;

/// What the launch asks the EHR for.
pub struct Wanted<'a> {
    pub patient_id: &'a str,
    pub user: &'a Reference,
    pub draft_id: Option<&'a str>,
    pub encounter_id: Option<&'a str>,
}

/// What the EHR returned, checked.
pub struct LaunchData {
    pub patient: Value,
    pub user: UserRecord,
    /// `None` when there was none, or it could not be read (the form is filled by hand instead).
    pub draft: Option<Value>,
    /// `{iss}/Encounter/{id}`, when it was read and is the patient's; `None` when there was none
    /// or it could not be read (we do not send a reference we could not check).
    pub encounter: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchReadError {
    #[error("FHIR read of {resource} failed: {reason}")]
    Read { resource: &'static str, reason: FhirReadError },
    /// The EHR returned another patient (or something about another patient): a safety event.
    #[error("patient mismatch: {0}")]
    WrongPatient(Mismatch),
    /// The EHR returned another user than `fhirUser` names.
    #[error("user mismatch: {0}")]
    WrongUser(Mismatch),
}

/// One bearer-authenticated read on the EHR.
pub struct Reader<'a> {
    pub http: &'a reqwest::Client,
    pub base: &'a Url,
    pub access: &'a str,
    pub expect: Expect,
}

impl Reader<'_> {
    async fn read(&self, resource_type: &'static str, id: &str) -> Result<Value, FhirReadError> {
        read_resource(self.http, self.base, resource_type, id, self.access, self.expect).await
    }
}

/// Reads and checks everything the launch names.
pub async fn read_launch(r: &Reader<'_>, wanted: &Wanted<'_>) -> Result<LaunchData, LaunchReadError> {
    let (patient, user, draft, encounter) = tokio::join!(
        r.read("Patient", wanted.patient_id),
        read_user(r, wanted.user),
        async {
            match wanted.draft_id {
                Some(id) => r.read("ServiceRequest", id).await.map(|d| Some((id, d))),
                None => Ok(None),
            }
        },
        async {
            match wanted.encounter_id {
                Some(id) => r.read("Encounter", id).await.map(|e| Some((id, e))),
                None => Ok(None),
            }
        },
    );
    let patient = patient.map_err(|reason| LaunchReadError::Read { resource: "Patient", reason })?;
    identity::is_resource(&patient, "Patient", wanted.patient_id).map_err(LaunchReadError::WrongPatient)?;
    let user = user?;
    let draft = match draft {
        Ok(Some((id, d))) => {
            identity::is_resource(&d, "ServiceRequest", id).map_err(LaunchReadError::WrongPatient)?;
            identity::subject_is(&d, "ServiceRequest", wanted.patient_id, r.base)
                .map_err(LaunchReadError::WrongPatient)?;
            Some(d)
        }
        Ok(None) => None,
        Err(e) => {
            // A missing draft does not stop the referral: the clinician fills the form instead.
            tracing::warn!(error = %e, "draft ServiceRequest from fhirContext could not be read");
            None
        }
    };
    let encounter = match encounter {
        Ok(Some((id, e))) => {
            identity::is_resource(&e, "Encounter", id).map_err(LaunchReadError::WrongPatient)?;
            identity::subject_is(&e, "Encounter", wanted.patient_id, r.base).map_err(LaunchReadError::WrongPatient)?;
            Some(reference::absolute(r.base, "Encounter", id))
        }
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "the launch's Encounter could not be read: the referral will not name it");
            None
        }
    };
    Ok(LaunchData { patient, user, draft, encounter })
}

/// The user's Practitioner, and their PractitionerRole when `fhirUser` names one; each the
/// resource asked for.
pub async fn read_user(r: &Reader<'_>, user: &Reference) -> Result<UserRecord, LaunchReadError> {
    if user.resource_type == "Practitioner" {
        return Ok(UserRecord { practitioner: read_as_asked(r, "Practitioner", &user.id).await?, role: None });
    }
    let role = read_as_asked(r, "PractitionerRole", &user.id).await?;
    let practitioner_ref = role
        .pointer("/practitioner/reference")
        .and_then(Value::as_str)
        .and_then(|p| parse_reference(p, r.base))
        .filter(|p| p.resource_type == "Practitioner")
        .ok_or(LaunchReadError::Read {
            resource: "PractitionerRole",
            reason: FhirReadError::WrongType { expected: "Practitioner reference", found: "none".into() },
        })?;
    let practitioner = read_as_asked(r, "Practitioner", &practitioner_ref.id).await?;
    Ok(UserRecord { practitioner, role: Some(role) })
}

/// Reads `{resource}/{id}` and checks it is that resource (a user read: a mismatch is a wrong user).
async fn read_as_asked(r: &Reader<'_>, resource: &'static str, id: &str) -> Result<Value, LaunchReadError> {
    let v = r.read(resource, id).await.map_err(|reason| LaunchReadError::Read { resource, reason })?;
    identity::is_resource(&v, resource, id).map_err(LaunchReadError::WrongUser)?;
    Ok(v)
}
