//! FHIR messaging with the EHR: event codes, the message bundles we send, and what the EHR's
//! answers mean.

pub mod bundle_check;
pub mod event;
pub mod inbound;
pub mod notify_bundle;
pub mod response;
pub mod status_bundle;
