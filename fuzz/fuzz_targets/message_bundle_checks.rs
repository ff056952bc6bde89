//! The checks every message Bundle passes before it leaves (`bundle_check::entries` and
//! `check_references`), on any JSON: the resources in our bundles come partly from the EHR
//! (patient, practitioner, draft ServiceRequest), so hostile shapes reach these checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use server::messaging::bundle_check::{check_references, entries, resolve, target};

const EXTERNAL: [&[&str]; 3] =
    [&[], &["https://ehr.example.org/fhir"], &["https://ehr.example.org/fhir/", "http://127.0.0.1:3100/fhir", ""]];

fuzz_target!(|data: &[u8]| {
    let Ok(bundle) = serde_json::from_slice::<Value>(data) else { return };
    let Ok(list) = entries(&bundle) else { return };
    assert!(!list.is_empty());
    for e in &list {
        assert!(e.key.contains('/'));
        let _ = resolve(e.full_url, e.full_url, &e.key);
    }
    for bases in EXTERNAL {
        let _ = check_references(&list, bases);
    }
    // Follow every reference of the header (focus, author, ...) to its entry, as the builders do.
    let header = &list[0];
    if let Some(map) = header.resource.as_object() {
        for v in map.values() {
            let refs: Vec<&Value> = match v {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for r in refs {
                if let Some(t) = target(&list, header, r) {
                    assert!(list.iter().any(|e| e.full_url == t.full_url));
                }
            }
        }
    }
});
