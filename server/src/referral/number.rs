//! Referral numbers: `ER-` and 8 characters a clinician can read out on the phone, random (about
//! 40 bits), one per draft. A submit holds a fresh draw in its own transaction
//! (`store::referrals::hold_number`); only when that draw is taken, or the draft already holds a
//! number, is one reserved here first (so a collision draws another number instead of failing the
//! submit, and a draft keeps the number it holds) and the referral built again with it.

use crate::store::{referrals, Db};

/// A number from an alphabet without look-alikes (0/O, 1/I/L).
pub fn random() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let mut rng = rand::rngs::OsRng;
    let chars: String = (0..8).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    format!("ER-{}-{}", &chars[..4], &chars[4..])
}

/// How many numbers are drawn before giving up (at 40 bits, one collision is already rare).
const DRAWS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum NumberError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("no free referral number after {DRAWS} draws")]
    Exhausted,
}

/// The number reserved for `draft_id`: the one it already has, else the first free one `draw`
/// gives.
pub async fn reserve(
    db: &Db,
    draft_id: &str,
    now: i64,
    mut draw: impl FnMut() -> String,
) -> Result<String, NumberError> {
    for _ in 0..DRAWS {
        if let Some(existing) = referrals::number_of_draft(db, draft_id).await? {
            return Ok(existing);
        }
        let number = draw();
        if referrals::reserve_number(db, &number, draft_id, now).await? {
            return Ok(number);
        }
        tracing::info!("referral number collision: drawing another");
    }
    Err(NumberError::Exhausted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_readable_and_distinct() {
        let a = random();
        assert_eq!(a.len(), 12);
        assert!(a.starts_with("ER-") && a.as_bytes()[7] == b'-');
        assert!(!a[3..].contains(['0', 'O', '1', 'I', 'L']));
        assert_ne!(a, random());
    }
}
