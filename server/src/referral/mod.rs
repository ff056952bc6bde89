//! Referral entry: drafts, attachments, the wizard's server side, submission, and the FHIR
//! resources a submitted referral is made of.

pub mod attachments;
pub mod delivery;
pub mod fhir_build;
pub mod number;
pub mod prefill;
pub mod progress;
pub mod record;
pub mod revoke;
pub mod status_change;
pub mod submit;
pub mod tombstone;
pub mod wizard;
