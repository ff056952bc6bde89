//! Data every launch page shows (DTOs).

use serde::{Deserialize, Serialize};

/// Who and what a launch is for, as every wizard page shows it. Never carries tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaunchView {
    pub ehr_name: String,
    pub patient: PatientBanner,
    /// Whether the EHR asked us to show a patient banner (`need_patient_banner`).
    pub show_patient_banner: bool,
    pub signed_in_as: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientBanner {
    pub name: String,
    pub birth_date: Option<String>,
    /// FHIR administrative gender, as words ("Female", "Unknown", …).
    pub gender: String,
    /// The main identifier, e.g. ("Health card", "1234-567-890").
    pub identifier: Option<(String, String)>,
    /// Further identifiers, shown on demand.
    pub other_identifiers: Vec<(String, String)>,
}
