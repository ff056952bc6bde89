//! Data keys: each draft (and the referral made from it) and each launch session has a random
//! key of its own, and the personal health information stored for it is sealed under that key
//! (XChaCha20-Poly1305). Keys are kept wrapped under the instance's master key (the configured
//! token key). A revoke destroys the referral's keys, so its PHI is unreadable wherever copies of
//! the ciphertext remain: PostgreSQL's old row versions and WAL, SQLite's freed pages, backups
//! taken after the master key was last rotated (see the README's store guarantees).
//!
//! Sealed values carry a prefix (`enc1:` for text, `\0enc1` for bytes); values without it are
//! read as they are (rows from before data keys, and tombstones, which hold no PHI).

use super::{Db, Tx};
use crate::{session::crypto::TokenCipher, sql_exec, sql_optional, sql_scalar_optional};
use base64::{engine::general_purpose::STANDARD, Engine};

const TEXT_PREFIX: &str = "enc1:";
const BYTES_PREFIX: &[u8] = b"\0enc1";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("a sealed value is unreadable (its key was destroyed, or it is corrupt)")]
    Unreadable,
}

/// One unwrapped data key.
#[derive(Clone)]
pub struct DataKey {
    pub id: String,
    cipher: TokenCipher,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl DataKey {
    pub fn seal(&self, plain: &str) -> String {
        format!("{TEXT_PREFIX}{}", STANDARD.encode(self.cipher.encrypt(plain.as_bytes())))
    }

    pub fn open(&self, stored: &str) -> Result<String, SealError> {
        open_text(Some(self), stored)
    }

    pub fn seal_bytes(&self, plain: &[u8]) -> Vec<u8> {
        let mut out = BYTES_PREFIX.to_vec();
        out.extend(self.cipher.encrypt(plain));
        out
    }
}

/// Whether `stored` is sealed text.
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(TEXT_PREFIX)
}

/// `stored` as plain text: unsealed with `key` if sealed, as it is otherwise.
pub fn open_text(key: Option<&DataKey>, stored: &str) -> Result<String, SealError> {
    let Some(b64) = stored.strip_prefix(TEXT_PREFIX) else { return Ok(stored.to_string()) };
    let key = key.ok_or(SealError::Unreadable)?;
    let sealed = STANDARD.decode(b64).map_err(|_| SealError::Unreadable)?;
    let plain = key.cipher.decrypt(&sealed).map_err(|_| SealError::Unreadable)?;
    String::from_utf8(plain).map_err(|_| SealError::Unreadable)
}

/// Like [`open_text`] for an optional column.
pub fn open_opt(key: Option<&DataKey>, stored: Option<&str>) -> Result<Option<String>, SealError> {
    stored.map(|s| open_text(key, s)).transpose()
}

/// `stored` as plain bytes: unsealed with `key` if sealed, as they are otherwise.
pub fn open_bytes(key: Option<&DataKey>, stored: &[u8]) -> Result<Vec<u8>, SealError> {
    let Some(sealed) = stored.strip_prefix(BYTES_PREFIX) else { return Ok(stored.to_vec()) };
    key.ok_or(SealError::Unreadable)?.cipher.decrypt(sealed).map_err(|_| SealError::Unreadable)
}

/// Seals `plain` with `key` if there is one.
pub fn seal_with(key: Option<&DataKey>, plain: &str) -> String {
    key.map_or_else(|| plain.to_string(), |k| k.seal(plain))
}

fn unwrap(master: &TokenCipher, id: String, wrapped: &[u8]) -> Option<DataKey> {
    let raw = master.decrypt(wrapped).ok()?;
    let raw: [u8; 32] = raw.try_into().ok()?;
    Some(DataKey { id, cipher: TokenCipher::from_bytes(&raw) })
}

/// A new key, stored (wrapped) in the caller's transaction.
pub async fn create(tx: &mut Tx, master: &TokenCipher, now: i64) -> Result<DataKey, sqlx::Error> {
    let (cipher, raw) = TokenCipher::generate();
    let id = uuid::Uuid::new_v4().to_string();
    sql_exec!(
        in tx,
        "INSERT INTO data_keys (id, wrapped, created_at) VALUES ($1, $2, $3)",
        &id,
        master.encrypt(&raw),
        now
    )?;
    Ok(DataKey { id, cipher })
}

/// Key `id`, if it still exists. A key that does not unwrap under this instance's master key is
/// treated as gone (and logged): the start-up key check makes that a misconfiguration, not data.
pub async fn load(db: &Db, id: Option<&str>) -> Result<Option<DataKey>, sqlx::Error> {
    let Some(id) = id else { return Ok(None) };
    let wrapped: Option<Vec<u8>> = sql_scalar_optional!(db, "SELECT wrapped FROM data_keys WHERE id = $1", id)?;
    Ok(from_row(db, Some(id.to_string()), wrapped))
}

/// A key as a query joined it in: `(key id, wrapped key)`, both absent for rows without one.
pub fn from_row(db: &Db, id: Option<String>, wrapped: Option<Vec<u8>>) -> Option<DataKey> {
    let (id, wrapped) = (id?, wrapped?);
    let key = unwrap(db.master(), id, &wrapped);
    if key.is_none() {
        tracing::error!("a data key does not unwrap under this instance's token key");
    }
    key
}

async fn joined(db: &Db, sql: &str, owner: &str) -> Result<Option<DataKey>, sqlx::Error> {
    let row: Option<(String, Vec<u8>)> = sql_optional!(db, sql, owner)?;
    Ok(row.and_then(|(id, w)| from_row(db, Some(id), Some(w))))
}

/// The key of the draft `draft_id`.
pub async fn of_draft(db: &Db, draft_id: &str) -> Result<Option<DataKey>, sqlx::Error> {
    joined(
        db,
        "SELECT k.id, k.wrapped FROM referral_drafts d JOIN data_keys k ON k.id = d.key_id WHERE d.id = $1",
        draft_id,
    )
    .await
}

/// The key of the referral `referral_id` (its draft's).
pub async fn of_referral(db: &Db, referral_id: &str) -> Result<Option<DataKey>, sqlx::Error> {
    joined(
        db,
        "SELECT k.id, k.wrapped FROM referrals r JOIN data_keys k ON k.id = r.key_id WHERE r.id = $1",
        referral_id,
    )
    .await
}

/// Deletes the keys nothing refers to any more (their launch or draft expired and was purged), so
/// what was sealed under them is as gone as a revoked referral's. A key is created in the
/// transaction that stores its owner, so no other transaction sees it without one; keys younger
/// than a minute are left alone all the same.
pub async fn purge_orphans(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    sql_exec!(
        db,
        "DELETE FROM data_keys WHERE created_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM referral_drafts d WHERE d.key_id = data_keys.id) \
         AND NOT EXISTS (SELECT 1 FROM referrals r WHERE r.key_id = data_keys.id) \
         AND NOT EXISTS (SELECT 1 FROM launch_sessions s WHERE s.key_id = data_keys.id)",
        now - 60
    )
}

/// Destroys key `id` (in the revoke's transaction).
pub async fn destroy(tx: &mut Tx, id: Option<&str>) -> Result<(), sqlx::Error> {
    if let Some(id) = id {
        sql_exec!(in tx, "DELETE FROM data_keys WHERE id = $1", id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DataKey {
        DataKey { id: "k".into(), cipher: TokenCipher::generate().0 }
    }

    #[test]
    fn sealed_text_and_bytes_open_only_with_their_key() {
        let (k, other) = (key(), key());
        let s = k.seal("Zoë Ndiaye-Côté");
        assert!(is_sealed(&s) && !s.contains("Ndiaye"));
        assert_eq!(k.open(&s).unwrap(), "Zoë Ndiaye-Côté");
        assert!(other.open(&s).is_err());
        assert!(open_text(None, &s).is_err(), "a destroyed key leaves it unreadable");
        let b = k.seal_bytes(b"%PDF-1.7 scan");
        assert!(!b.windows(4).any(|w| w == b"%PDF"));
        assert_eq!(open_bytes(Some(&k), &b).unwrap(), b"%PDF-1.7 scan");
        assert!(open_bytes(Some(&other), &b).is_err());
    }

    #[test]
    fn unsealed_values_read_as_they_are() {
        assert_eq!(open_text(None, "{}").unwrap(), "{}");
        assert_eq!(open_bytes(None, b"%PDF").unwrap(), b"%PDF");
        assert_eq!(seal_with(None, "x"), "x");
    }

    #[test]
    fn a_key_unwraps_only_under_its_master() {
        let (master, _) = TokenCipher::generate();
        let (_, raw) = TokenCipher::generate();
        let wrapped = master.encrypt(&raw);
        assert!(unwrap(&master, "k".into(), &wrapped).is_some());
        assert!(unwrap(&TokenCipher::generate().0, "k".into(), &wrapped).is_none());
    }
}
