//! Attachments to a draft: PDFs and images, checked by their content (not the browser's claim),
//! bounded in size and number, stored in the database with the draft.

use crate::store::{drafts, Db};
use base64::Engine;
use sha1::{Digest, Sha1};

/// What the clinician may attach, for the page and the checks.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_count: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AttachmentError {
    #[error("Choose a file to attach.")]
    NoFile,
    #[error("“{0}” is empty.")]
    Empty(String),
    #[error("“{name}” is larger than {max_mb} MB. Attach a smaller file (for example, scan at a lower resolution).")]
    TooLarge { name: String, max_mb: u64 },
    #[error("A referral can carry at most {0} attachments. Remove one before adding another.")]
    TooMany(u32),
    #[error("“{0}” is not a PDF, PNG or JPEG file. Save it in one of those formats and attach it again.")]
    UnsupportedType(String),
}

/// The content type of `bytes`, from their signature: PDF, PNG or JPEG only.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// A file name safe to show and to put in FHIR: the last path segment, control characters and
/// quotes removed, at most 120 characters; `attachment` if nothing is left.
pub fn clean_filename(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String =
        last.chars().filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>')).take(120).collect::<String>();
    let cleaned = cleaned.trim().to_string();
    if cleaned.is_empty() {
        "attachment".into()
    } else {
        cleaned
    }
}

/// Checks an upload against the limits; returns its clean name and real content type.
pub fn check(
    raw_name: &str,
    bytes: &[u8],
    limits: Limits,
    existing: u32,
) -> Result<(String, &'static str), AttachmentError> {
    let name = clean_filename(raw_name);
    if raw_name.is_empty() && bytes.is_empty() {
        return Err(AttachmentError::NoFile);
    }
    if existing >= limits.max_count {
        return Err(AttachmentError::TooMany(limits.max_count));
    }
    if bytes.is_empty() {
        return Err(AttachmentError::Empty(name));
    }
    if bytes.len() as u64 > limits.max_bytes {
        return Err(AttachmentError::TooLarge { name, max_mb: limits.max_bytes.div_ceil(1024 * 1024) });
    }
    let content_type = sniff(bytes).ok_or_else(|| AttachmentError::UnsupportedType(name.clone()))?;
    Ok((name, content_type))
}

/// FHIR `Attachment.hash`: base64 of the SHA-1 of the data.
pub fn sha1_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha1::digest(bytes))
}

pub use crate::store::drafts::AttachmentRow;

pub async fn list(db: &Db, draft_id: &str) -> Result<Vec<AttachmentRow>, drafts::DraftError> {
    drafts::attachments(db, draft_id).await
}

pub async fn count(db: &Db, draft_id: &str) -> Result<u32, sqlx::Error> {
    Ok(drafts::attachment_count(db, draft_id).await? as u32)
}

/// What adding an attachment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    Yes(String),
    /// The draft already has `max_count` files (two uploads at once cannot both squeeze in).
    Full,
    /// The draft is no longer being edited (sent, cancelled or moved meanwhile): nothing added.
    Closed,
}

/// Adds a checked file to an editing draft; the store checks the count with the insert, so the
/// limit holds however many uploads arrive at once.
pub async fn add(
    db: &Db,
    draft_id: &str,
    (filename, content_type): (&str, &str),
    bytes: &[u8],
    max_count: u32,
    now: i64,
) -> Result<Added, sqlx::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    let sha1 = sha1_base64(bytes);
    let file = drafts::NewAttachment { id: &id, filename, content_type, sha1: &sha1, bytes, now };
    if drafts::add_attachment(db, draft_id, &file, max_count).await? {
        return Ok(Added::Yes(id));
    }
    Ok(if drafts::is_editing(db, draft_id).await? { Added::Full } else { Added::Closed })
}

/// Removes attachment `id` from the draft; `false` if it had no such attachment.
pub async fn remove(db: &Db, draft_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    drafts::remove_attachment(db, draft_id, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_bytes: 1024, max_count: 2 };

    #[test]
    fn content_decides_the_type() {
        assert_eq!(check("scan.pdf", b"%PDF-1.7 ...", LIMITS, 0), Ok(("scan.pdf".into(), "application/pdf")));
        assert_eq!(check("x.jpg", b"\x89PNG\r\n\x1a\nrest", LIMITS, 0).unwrap().1, "image/png");
        assert_eq!(check("photo", &[0xFF, 0xD8, 0xFF, 0xE0, 1], LIMITS, 0).unwrap().1, "image/jpeg");
        assert_eq!(
            check("evil.pdf", b"<script>alert(1)</script>", LIMITS, 0),
            Err(AttachmentError::UnsupportedType("evil.pdf".into()))
        );
    }

    #[test]
    fn size_count_and_emptiness_are_bounded() {
        assert_eq!(check("", b"", LIMITS, 0), Err(AttachmentError::NoFile));
        assert_eq!(check("a.pdf", b"", LIMITS, 0), Err(AttachmentError::Empty("a.pdf".into())));
        let big = [b"%PDF-".as_slice(), &[0u8; 1024]].concat();
        assert_eq!(
            check("big.pdf", &big, LIMITS, 0),
            Err(AttachmentError::TooLarge { name: "big.pdf".into(), max_mb: 1 })
        );
        assert_eq!(check("a.pdf", b"%PDF-1", LIMITS, 2), Err(AttachmentError::TooMany(2)));
    }

    #[test]
    fn file_names_are_made_safe() {
        assert_eq!(clean_filename("C:\\Users\\me\\lab \"results\".pdf"), "lab results.pdf");
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename("a\u{0}b<c>.png"), "abc.png");
        assert_eq!(clean_filename("///"), "attachment");
        assert_eq!(clean_filename(&"n".repeat(500)).len(), 120);
    }

    #[test]
    fn hash_is_base64_sha1() {
        assert_eq!(sha1_base64(b"abc"), "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
    }
}
