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
}

/// What a FHIR read of a Patient does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadFault {
    #[default]
    Ok,
    NotFound,
    ServerError,
}

/// What the token response says about the launch context.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextFault {
    #[default]
    Ok,
    /// No `patient` in the token response (an EHR launch from outside a patient's chart).
    OmitPatient,
}

/// All fault knobs. The default is "behave".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    pub process_message: ProcessMessageFault,
    pub token: TokenFault,
    pub id_token: IdTokenFault,
    pub patient_read: ReadFault,
    pub launch_context: ContextFault,
}

impl Faults {
    /// Per-launch faults over global ones: every knob the launch sets (non-`Ok`) wins.
    pub fn merged_over(&self, global: &Faults) -> Faults {
        Faults {
            process_message: pick(self.process_message, global.process_message),
            token: pick(self.token, global.token),
            id_token: pick(self.id_token, global.id_token),
            patient_read: pick(self.patient_read, global.patient_read),
            launch_context: pick(self.launch_context, global.launch_context),
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
