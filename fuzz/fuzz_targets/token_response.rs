//! The EHR's token endpoint answer (SMART App Launch): the launch context beside the access token
//! (`patient`, `encounter`, `fhirContext`, `intent`, `tenant`, style and messaging URLs, ...) and
//! the token fields, checked by `server::smart::token_response`. Input: the answer's JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use server::fhir::reference::parse_reference;
use server::smart::token::SmartContext;
use server::smart::token_response::{absolute_fhir_context, check_context, check_tokens, TokenFields};
use std::sync::OnceLock;
use url::Url;

fn issuers() -> &'static [Url] {
    static I: OnceLock<Vec<Url>> = OnceLock::new();
    I.get_or_init(|| {
        ["http://127.0.0.1:3100/fhir", "https://ehr.example.org/fhir/", "https://ehr.example.org"]
            .iter()
            .map(|u| Url::parse(u).unwrap())
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else { return };
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    if let (Some(access_token), Some(token_type)) = (s("access_token"), s("token_type")) {
        let t = TokenFields {
            access_token,
            token_type,
            expires_in: v.get("expires_in").and_then(Value::as_u64),
            refresh_token: s("refresh_token"),
        };
        if check_tokens(&t).is_ok() {
            assert!(!t.access_token.is_empty() && t.access_token.bytes().all(|b| b.is_ascii_graphic()));
        }
    }
    let Ok(context) = serde_json::from_value::<SmartContext>(v) else { return };
    for iss in issuers() {
        let ok = check_context(&context, iss).is_ok();
        let absolute = absolute_fhir_context(&context.fhir_context, iss);
        assert_eq!(absolute.len(), context.fhir_context.len());
        if ok {
            // What the launch then reads: every reference is on this EHR.
            for item in &absolute {
                if let Some(r) = item.get("reference").and_then(Value::as_str) {
                    assert!(parse_reference(r, iss).is_some(), "{r} is not on {iss}");
                    assert!(r.starts_with(iss.as_str().trim_end_matches('/')), "{r} is not under {iss}");
                }
            }
        }
    }
});
