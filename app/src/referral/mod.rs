//! The referral being entered: its form, the wizard's steps, and validation. Pure and shared by the
//! server (which decides) and the browser (which gives early, inline feedback).

pub mod form;
pub mod steps;
pub mod validation;
