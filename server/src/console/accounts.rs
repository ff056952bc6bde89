//! Intake console accounts: argon2id password hashes, created from the command line
//! (`server staff add <username> --name "…"`).

use crate::store::staff;
use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("the username must be 1-64 letters, digits, dots, dashes or underscores")]
    BadUsername,
    #[error("the password must be at least 12 characters")]
    WeakPassword,
    #[error("an account {0:?} already exists")]
    Exists(String),
    #[error("hashing failed: {0}")]
    Hash(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

pub fn valid_username(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// An argon2id PHC string for `password`. Slow on purpose: call it off the async runtime's threads
/// ([`hash_password_blocking`]).
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

/// Whether `password` matches the stored PHC string (false for an unreadable one).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// [`hash_password`] on a blocking thread.
pub async fn hash_password_blocking(password: &str) -> Result<String, AccountError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AccountError::Hash(e.to_string()))?
}

/// [`verify_password`] on a blocking thread: argon2 takes tens of milliseconds of CPU, which must
/// not stall the requests sharing the runtime's threads.
pub async fn verify_password_blocking(password: &str, phc: &str) -> bool {
    let (password, phc) = (password.to_string(), phc.to_string());
    tokio::task::spawn_blocking(move || verify_password(&password, &phc)).await.unwrap_or(false)
}

pub async fn create(
    db: &crate::store::Db,
    username: &str,
    display_name: &str,
    password: &str,
) -> Result<(), AccountError> {
    if !valid_username(username) {
        return Err(AccountError::BadUsername);
    }
    if password.chars().count() < 12 {
        return Err(AccountError::WeakPassword);
    }
    let hash = hash_password_blocking(password).await?;
    let shown = if display_name.trim().is_empty() { username } else { display_name.trim() };
    if !staff::create_account(db, username, shown, &hash, crate::smart::now_unix()).await? {
        return Err(AccountError::Exists(username.to_string()));
    }
    Ok(())
}

/// `(display name)` when `username` and `password` are right. Always spends one hash
/// verification, so a wrong username takes as long as a wrong password.
pub async fn check(db: &crate::store::Db, username: &str, password: &str) -> Result<Option<String>, sqlx::Error> {
    let row = staff::account(db, username).await?;
    const DUMMY: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2Xl6PuB6ZxTO9v4H4bB0kQxQ5GmfIkL3lXUrzT0Kd3c";
    let phc = row.as_ref().map(|(_, h)| h.as_str()).unwrap_or(DUMMY);
    let ok = verify_password_blocking(password, phc).await;
    Ok(row.filter(|_| ok).map(|(name, _)| name))
}

/// Failed sign-ins allowed per username in [`THROTTLE_WINDOW_SECS`] before sign-in is refused.
pub const MAX_FAILURES: i64 = 5;
/// Failed sign-ins allowed per client address (any usernames) in the window.
pub const MAX_FAILURES_PER_CLIENT: i64 = 20;
pub const THROTTLE_WINDOW_SECS: i64 = 15 * 60;

/// Why a sign-in attempt may not go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// It may: it is counted as a failure until it succeeds.
    Allowed,
    /// This username had too many failures in the window.
    Username,
    /// This client address had too many failures in the window.
    Client,
}

/// Counts a sign-in attempt before its password is checked, in one statement: the attempt is
/// recorded as a failure only if the username and the client are both under their limits. Parallel
/// attempts cannot all pass a check made before any of them is recorded; a success removes it.
pub async fn reserve_attempt(
    db: &crate::store::Db,
    username: &str,
    client: &str,
    now: i64,
) -> Result<Throttle, sqlx::Error> {
    let since = now - THROTTLE_WINDOW_SECS;
    let limits = staff::ThrottleLimits { per_username: MAX_FAILURES, per_client: MAX_FAILURES_PER_CLIENT, since };
    if staff::record_attempt(db, username, client, now, limits).await? {
        staff::forget_failures_until(db, since).await?;
        return Ok(Throttle::Allowed);
    }
    let by_user = staff::failures_of(db, username, since).await?;
    Ok(if by_user >= MAX_FAILURES { Throttle::Username } else { Throttle::Client })
}

/// A successful sign-in clears the username's failures (its own reserved attempt included).
pub async fn record_success(db: &crate::store::Db, username: &str) -> Result<(), sqlx::Error> {
    staff::forget_failures_of(db, username).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery staple").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery staple", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(valid_username("intake.nurse-1") && !valid_username("a b") && !valid_username(""));
    }
}
