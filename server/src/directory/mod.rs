//! The service directory: the services this app accepts referrals for.
//!
//! Services are FHIR R4 `HealthcareService` resources, read once at start-up from a JSON file (a
//! Bundle or a bare array) or, without one, from the built-in `services/default-services.json`.
//! Each service offers one or more SNOMED CT codes (its `type`), which are what a referral's
//! `ServiceRequest.code` may be. [`catalogue`] loads and validates the resources; [`search`] is
//! the clinician's search on the service step.

pub mod catalogue;
pub mod search;

pub use catalogue::{Directory, DirectoryError, Service, ServiceCode};
pub use search::Query;
