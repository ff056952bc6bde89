//! Attachment uploads (`POST /l/{launch}/do/attach`, `multipart/form-data`): the body through
//! axum's `Multipart` extractor as the handler reads it (every field's name, file name and
//! bytes), then our checks of what was read (`sniff`, `clean_filename`, `check`). The raw input
//! also goes through the checks directly (file name, then 0xFF, then the file's bytes).
//!
//! The first byte picks the boundary: even, `X`; odd, the rest's first line (then the body).
#![no_main]

use axum::body::Body;
use axum::extract::{FromRequest, Multipart};
use axum::http::{header, Request};
use libfuzzer_sys::fuzz_target;
use server::referral::attachments::{check, clean_filename, sha1_base64, sniff, Limits};
use std::sync::OnceLock;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().build().expect("a runtime"))
}

/// Small limits, so that the size checks are reached by small inputs too.
const LIMITS: [Limits; 2] =
    [Limits { max_bytes: 10 * 1024 * 1024, max_count: 5 }, Limits { max_bytes: 64, max_count: 1 }];

fn checks(name: &str, bytes: &[u8]) {
    let cleaned = clean_filename(name);
    assert!(!cleaned.is_empty() && cleaned.chars().count() <= 120);
    assert!(!cleaned.contains(['/', '\\', '"', '<', '>']), "{cleaned:?}");
    assert!(!cleaned.chars().any(char::is_control), "{cleaned:?}");
    let sniffed = sniff(bytes);
    for limits in LIMITS {
        for existing in [0, limits.max_count - 1, limits.max_count] {
            if let Ok((n, content_type)) = check(name, bytes, limits, existing) {
                assert_eq!(n, cleaned);
                assert_eq!(Some(content_type), sniffed);
                assert!(!bytes.is_empty() && bytes.len() as u64 <= limits.max_bytes && existing < limits.max_count);
            }
        }
    }
    let _ = sha1_base64(bytes);
}

async fn read_all(boundary: &str, body: Vec<u8>) {
    let Ok(request) = Request::builder()
        .method("POST")
        .uri("/l/x/do/attach")
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(body))
    else {
        return;
    };
    let Ok(mut multipart) = Multipart::from_request(request, &()).await else { return };
    // As the handler does: every field, keeping the last `file`.
    for _ in 0..10_000 {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().map(str::to_string);
                let file_name = field.file_name().unwrap_or("").to_string();
                let _ = field.content_type().map(str::to_string);
                match field.bytes().await {
                    Ok(bytes) => {
                        if name.as_deref() == Some("file") {
                            checks(&file_name, &bytes);
                        }
                    }
                    Err(_) => break,
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    // Our checks on the raw input.
    let (name, bytes) = match rest.iter().position(|&b| b == 0xFF) {
        Some(i) => (String::from_utf8_lossy(&rest[..i]), &rest[i + 1..]),
        None => (String::from_utf8_lossy(&[][..]), rest),
    };
    checks(&name, bytes);

    let (boundary, body) = if mode % 2 == 0 {
        ("X".to_string(), rest)
    } else {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        (
            String::from_utf8_lossy(&rest[..end]).trim_end_matches('\r').to_string(),
            rest.get(end + 1..).unwrap_or_default(),
        )
    };
    runtime().block_on(read_all(&boundary, body.to_vec()));
});
