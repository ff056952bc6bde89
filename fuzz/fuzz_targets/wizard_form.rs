//! The wizard's plain form posts and autosaves (`POST /l/{launch}/{step}`,
//! `application/x-www-form-urlencoded`): applied to the draft for every step, then validated the
//! way the server decides what may be sent. Also the same bytes as the JSON autosave body
//! (`ReferralForm` via serde), when they are JSON.
#![no_main]

use app::referral::form::{ReferralForm, FIELDS, MAX_FIELD_CHARS};
use app::referral::steps::{after_post, first_incomplete, Step};
use app::referral::validation::ValidationContext;
use libfuzzer_sys::fuzz_target;
use server::directory::Directory;
use server::referral::wizard::{apply_posted, blockers, completeness, step_errors};
use std::sync::OnceLock;

fn directory() -> &'static Directory {
    static D: OnceLock<Directory> = OnceLock::new();
    D.get_or_init(Directory::builtin)
}

fn contexts() -> &'static [ValidationContext] {
    static C: OnceLock<Vec<ValidationContext>> = OnceLock::new();
    C.get_or_init(|| {
        [(false, false), (true, false), (true, true)]
            .into_iter()
            .map(|(delegate, has_draft_requester)| ValidationContext {
                today: "2026-11-22".into(),
                delegate,
                has_draft_requester,
            })
            .collect()
    })
}

fn validate(form: &ReferralForm, posted: bool) {
    if posted {
        for field in FIELDS {
            assert!(form.get(field).unwrap().chars().count() <= MAX_FIELD_CHARS, "{field} is over the cap");
        }
    }
    for ctx in contexts() {
        let done = completeness(form, ctx, directory());
        assert_eq!(done.len(), Step::ALL.len());
        let blocking = blockers(form, ctx, directory());
        // Every step but review complete, and no blockers, means the referral can be sent.
        if blocking.is_empty() {
            assert!(done.iter().all(|d| *d), "no blockers but incomplete: {form:?}");
        }
        let _ = first_incomplete(form, ctx);
    }
}

fuzz_target!(|data: &[u8]| {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(data).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let ctx = &contexts()[0];
    let mut accumulated = ReferralForm::default();
    for step in Step::ALL {
        // One post of this step on a fresh draft, and the clinician's way through the wizard.
        let (fresh, nav) = apply_posted(&ReferralForm::default(), step, &pairs);
        for (field, value) in FIELDS.iter().map(|f| (*f, fresh.get(f).unwrap())) {
            if !step.fields().contains(&field) {
                assert!(value.is_empty(), "{step:?} set {field}, which it does not post");
            }
        }
        let errors = step_errors(step, &fresh, ctx, directory());
        let next = after_post(step, nav, &errors);
        if !errors.is_empty() && next.index() > step.index() {
            panic!("moved forward from {step:?} to {next:?} past errors {errors:?}");
        }
        let (form, nav) = apply_posted(&accumulated, step, &pairs);
        let _ = after_post(step, nav, &step_errors(step, &form, ctx, directory()));
        accumulated = form;
    }
    validate(&accumulated, true);

    if let Ok(form) = serde_json::from_slice::<ReferralForm>(data) {
        validate(&form, false);
    }
});
