pub mod home;
pub mod launch_start;
pub mod not_found;
