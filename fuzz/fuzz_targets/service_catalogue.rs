//! The service directory file (`EREFERRAL_SERVICES_FILE`: a Bundle or an array of
//! HealthcareService resources, written by whoever runs the server, or synced from elsewhere) and
//! the clinician's search of it (`?q=` on the service step).
//!
//! Input: the catalogue JSON (valid UTF-8 only), then optionally a 0xFF byte and the search
//! (lossy UTF-8: words, then a 0xFE byte and a category). When the catalogue does not load, the
//! search runs over the built-in directory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::directory::{Directory, Query};
use server::referral::wizard::service_option;
use std::sync::OnceLock;

fn builtin() -> &'static Directory {
    static D: OnceLock<Directory> = OnceLock::new();
    D.get_or_init(Directory::builtin)
}

fn exercise(d: &Directory, text: &str, category: &str, loaded: bool) {
    let services = d.services();
    if loaded {
        // What a loaded directory promises (cheap checks only: the search below is the slow part).
        assert!(!services.is_empty(), "a loaded directory is never empty");
        for s in services {
            assert!(!s.codes.is_empty());
            assert!(server::fhir::client::is_fhir_id(&s.id), "{:?}", s.id);
            let c = &s.codes[0];
            assert!(d.offering(&s.id, &c.token()).is_some() || c.system.contains('|'), "{}", c.token());
            let _ = service_option(s);
        }
        let _ = d.categories();
        // Every service's own name finds it.
        if let Some(s) = services.last() {
            assert!(d.get(&s.id).is_some());
            let q = Query { text: s.name.clone(), ..Default::default() };
            assert!(d.search(&q).iter().any(|f| f.id == s.id), "{:?} not found by its name", s.name);
        }
    }
    let q = Query { text: text.to_string(), category: category.to_string(), accepting_only: false };
    let found = d.search(&q);
    assert!(found.len() <= services.len());
    let q = Query { text: text.to_string(), category: String::new(), accepting_only: true };
    assert!(d.search(&q).iter().all(|s| s.accepting));
}

fuzz_target!(|data: &[u8]| {
    let (json, search) = match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let (text, category) = match search.iter().position(|&b| b == 0xFE) {
        Some(i) => (String::from_utf8_lossy(&search[..i]), String::from_utf8_lossy(&search[i + 1..])),
        None => (String::from_utf8_lossy(search), Default::default()),
    };
    let loaded = std::str::from_utf8(json).ok().and_then(|j| Directory::from_json(j).ok());
    match &loaded {
        Some(d) => exercise(d, &text, &category, true),
        None if !search.is_empty() => exercise(builtin(), &text, &category, false),
        None => {}
    }
});
