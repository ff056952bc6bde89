//! FHIR R4: the outbound client and pure mapping of the resources we read.
pub mod client;
pub mod display;
pub mod identity;
pub mod reference;
