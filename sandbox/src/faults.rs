//! Fault knobs: make the sandbox misbehave on purpose, globally or per launch.

use serde::{Deserialize, Serialize};

/// What `POST /fhir/$process-message` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessMessageFault {
    #[default]
    Ok,
    /// 500 OperationOutcome.
    ServerError,
    /// Sleep 30 s, then 504.
    Timeout,
    /// 422 OperationOutcome, `business-rule`.
    Reject,
    /// Record the message, then sleep 30 s and answer 504: the EHR processed it but the sender
    /// never learns so (it must send it again, with the same ids, and the EHR de-duplicates).
    AcceptThenTimeout,
    /// 200 OK whose OperationOutcome has an `error` issue: the EHR did not take the message,
    /// whatever the status says. Not recorded.
    OkWithError,
}

/// What `POST /auth/token` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenFault {
    #[default]
    Ok,
    /// 500 `{"error":"server_error"}`.
    ServerError,
    /// 400 `invalid_grant`.
    InvalidGrant,
    /// 200 with `token_type` `mac` (not Bearer).
    NotBearer,
    /// 200 with an empty `access_token`.
    EmptyAccessToken,
    /// Access tokens that live 30 s (clients must refresh before they expire).
    ShortLived,
}

/// The one defect to put in the id_token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdTokenFault {
    #[default]
    Ok,
    /// `exp` in the past.
    Expired,
    /// Signed by a key that is not in the JWKS (same `kid`).
    BadSignature,
    /// `aud` is not the client id.
    WrongAudience,
    /// `nonce` differs from the one sent to the authorize endpoint.
    WrongNonce,
    /// Unsigned token with `alg: none`.
    AlgNone,
    /// Signed by a key that is not published, under a `kid` the JWKS does not have.
    UnknownKid,
}

/// What a FHIR read of a Patient (or, for `user_read`, a Practitioner) does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadFault {
    #[default]
    Ok,
    NotFound,
    ServerError,
    /// 200 with another resource of the same type (another patient, another practitioner): an EHR
    /// bug that would put the wrong person on a referral.
    OtherResource,
}

/// What the discovery documents say about where the authorization server is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscoveryFault {
    #[default]
    Ok,
    /// `authorization_endpoint` and `token_endpoint` on another origin (`localhost` instead of the
    /// sandbox's host, same port: the same server, so a client that follows them would "work").
    OtherHost,
    /// Only `jwks_uri` on that other origin.
    JwksOtherHost,
}

/// What the token response says about the launch context.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextFault {
    #[default]
    Ok,
    /// No `patient` in the token response (an EHR launch from outside a patient's chart).
    OmitPatient,
    /// `patient` is not a FHIR id (`../Patient/x`).
    MalformedPatient,
    /// A refresh answers with another `patient` than the launch's.
    OtherPatientOnRefresh,
}

/// All fault knobs. The default is "behave".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    pub process_message: ProcessMessageFault,
    pub token: TokenFault,
    pub id_token: IdTokenFault,
    pub patient_read: ReadFault,
    /// Reads of Practitioner.
    pub user_read: ReadFault,
    pub launch_context: ContextFault,
    pub discovery: DiscoveryFault,
    /// The token endpoint takes this long to answer (milliseconds; 0: at once).
    pub slow_token_millis: u64,
    /// `$process-message` takes this long over a `notify-add-service-request` before it records
    /// and answers it (a big message an EHR is slow to take in).
    pub slow_notify_add_millis: u64,
}

impl Faults {
    /// Per-launch faults over global ones: every knob the launch sets (non-`Ok`) wins.
    pub fn merged_over(&self, global: &Faults) -> Faults {
        Faults {
            process_message: pick(self.process_message, global.process_message),
            token: pick(self.token, global.token),
            id_token: pick(self.id_token, global.id_token),
            patient_read: pick(self.patient_read, global.patient_read),
            user_read: pick(self.user_read, global.user_read),
            launch_context: pick(self.launch_context, global.launch_context),
            discovery: pick(self.discovery, global.discovery),
            slow_token_millis: pick(self.slow_token_millis, global.slow_token_millis),
            slow_notify_add_millis: pick(self.slow_notify_add_millis, global.slow_notify_add_millis),
        }
    }
}

fn pick<T: Default + PartialEq + Copy>(local: T, global: T) -> T {
    if local == T::default() {
        global
    } else {
        local
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_faults_win_over_global() {
        let global = Faults { token: TokenFault::ServerError, id_token: IdTokenFault::Expired, ..Faults::default() };
        let local =
            Faults { id_token: IdTokenFault::AlgNone, launch_context: ContextFault::OmitPatient, ..Faults::default() };
        let m = local.merged_over(&global);
        assert_eq!(m.token, TokenFault::ServerError);
        assert_eq!(m.id_token, IdTokenFault::AlgNone);
        assert_eq!(m.launch_context, ContextFault::OmitPatient);
    }

    #[test]
    fn faults_parse_from_snake_case_json() {
        let f: Faults = serde_json::from_str(r#"{"process_message":"timeout"}"#).unwrap();
        assert_eq!(f.process_message, ProcessMessageFault::Timeout);
        assert_eq!(f.token, TokenFault::Ok);
        let f: Faults = serde_json::from_str(r#"{"launch_context":"omit_patient"}"#).unwrap();
        assert_eq!(f.launch_context, ContextFault::OmitPatient);
    }
}
