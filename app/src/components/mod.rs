pub mod error_panel;
pub mod patient_banner;
