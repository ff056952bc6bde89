//! The wizard's steps and how a clinician moves between them.

use super::{
    form::ReferralForm,
    validation::{validate_step, FieldError, ValidationContext},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Step {
    Service,
    Details,
    Attachments,
    Consent,
    Routing,
    Review,
}

impl Step {
    pub const ALL: [Step; 6] =
        [Step::Service, Step::Details, Step::Attachments, Step::Consent, Step::Routing, Step::Review];

    /// The URL segment: `/l/{launch}/{slug}`.
    pub fn slug(self) -> &'static str {
        match self {
            Step::Service => "service",
            Step::Details => "details",
            Step::Attachments => "attachments",
            Step::Consent => "consent",
            Step::Routing => "routing",
            Step::Review => "review",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.slug() == slug)
    }

    /// The short name in the progress indicator.
    pub fn title(self) -> &'static str {
        match self {
            Step::Service => "Service",
            Step::Details => "Reason",
            Step::Attachments => "Attachments",
            Step::Consent => "Consent",
            Step::Routing => "Routing",
            Step::Review => "Review",
        }
    }

    /// The page heading.
    pub fn heading(self) -> &'static str {
        match self {
            Step::Service => "Choose the service",
            Step::Details => "Reason for referral",
            Step::Attachments => "Attachments",
            Step::Consent => "Patient consent",
            Step::Routing => "Routing and authorization",
            Step::Review => "Review and send",
        }
    }

    pub fn index(self) -> usize {
        Step::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    pub fn next(self) -> Option<Step> {
        Step::ALL.get(self.index() + 1).copied()
    }

    pub fn prev(self) -> Option<Step> {
        self.index().checked_sub(1).map(|i| Step::ALL[i])
    }

    /// The form fields this step's page posts.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Step::Service => &["service_id", "code"],
            Step::Details => &["reason", "priority", "notes"],
            Step::Attachments | Step::Review => &[],
            Step::Consent => &[
                "consent_decision",
                "consent_by",
                "consent_related_name",
                "consent_related_relationship",
                "consent_date",
            ],
            Step::Routing => {
                &["routing", "routing_note", "patient_location", "authorizer", "authorizer_name", "authorizer_licence"]
            }
        }
    }
}

/// What the clinician asked for when posting a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// Save and go on: only when the step is valid.
    Next,
    /// Save what was typed (valid or not) and go back: nothing is lost.
    Back,
    /// Save what was typed and jump to a step (progress indicator, "Change" links on review).
    GoTo(Step),
}

impl Nav {
    pub fn parse(value: &str) -> Nav {
        match value {
            "back" => Nav::Back,
            other => other.strip_prefix("goto:").and_then(Step::from_slug).map(Nav::GoTo).unwrap_or(Nav::Next),
        }
    }
}

/// Where the wizard goes after `step` was posted with `nav`; `step_errors` are that step's
/// validation errors. Going forward past an invalid step is refused (stay and show the errors);
/// going back or jumping never is, so a clinician can always look around without losing input.
pub fn after_post(step: Step, nav: Nav, step_errors: &[FieldError]) -> Step {
    match nav {
        Nav::Back => step.prev().unwrap_or(step),
        Nav::GoTo(target) if target.index() <= step.index() || step_errors.is_empty() => target,
        Nav::GoTo(_) | Nav::Next if !step_errors.is_empty() => step,
        Nav::GoTo(target) => target,
        Nav::Next => step.next().unwrap_or(step),
    }
}

/// The first step that still has errors, if any: where "Send referral" sends a clinician who
/// skipped ahead.
pub fn first_incomplete(form: &ReferralForm, ctx: &ValidationContext) -> Option<(Step, Vec<FieldError>)> {
    Step::ALL.into_iter().map(|s| (s, validate_step(s, form, ctx))).find(|(_, errors)| !errors.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err() -> Vec<FieldError> {
        vec![FieldError::new("reason", "Enter the reason for referral.")]
    }

    #[test]
    fn slugs_round_trip_and_order_is_fixed() {
        for s in Step::ALL {
            assert_eq!(Step::from_slug(s.slug()), Some(s));
        }
        assert_eq!(Step::from_slug("done"), None);
        assert_eq!(Step::Service.prev(), None);
        assert_eq!(Step::Review.next(), None);
        assert_eq!(Step::Consent.next(), Some(Step::Routing));
        assert_eq!(Step::Consent.prev(), Some(Step::Attachments));
    }

    #[test]
    fn forward_needs_a_valid_step_backward_never_does() {
        assert_eq!(after_post(Step::Details, Nav::Next, &[]), Step::Attachments);
        assert_eq!(after_post(Step::Details, Nav::Next, &err()), Step::Details);
        assert_eq!(after_post(Step::Details, Nav::Back, &err()), Step::Service);
        assert_eq!(after_post(Step::Service, Nav::Back, &[]), Step::Service);
        assert_eq!(after_post(Step::Review, Nav::Next, &[]), Step::Review);
    }

    #[test]
    fn jumps_backward_always_forward_only_when_valid() {
        assert_eq!(after_post(Step::Consent, Nav::GoTo(Step::Service), &err()), Step::Service);
        assert_eq!(after_post(Step::Details, Nav::GoTo(Step::Review), &err()), Step::Details);
        assert_eq!(after_post(Step::Details, Nav::GoTo(Step::Review), &[]), Step::Review);
    }

    #[test]
    fn nav_values_parse() {
        assert_eq!(Nav::parse("next"), Nav::Next);
        assert_eq!(Nav::parse("back"), Nav::Back);
        assert_eq!(Nav::parse("goto:consent"), Nav::GoTo(Step::Consent));
        assert_eq!(Nav::parse("goto:nowhere"), Nav::Next);
        assert_eq!(Nav::parse(""), Nav::Next);
    }

    #[test]
    fn first_incomplete_walks_the_steps_in_order() {
        let ctx = ValidationContext { today: "2026-11-22".into(), delegate: false, has_draft_requester: false };
        let mut f = ReferralForm::default();
        assert_eq!(first_incomplete(&f, &ctx).unwrap().0, Step::Service);
        f.service_id = "svc".into();
        f.code = "http://snomed.info/sct|1".into();
        assert_eq!(first_incomplete(&f, &ctx).unwrap().0, Step::Details);
        f.reason = "Because".into();
        assert_eq!(first_incomplete(&f, &ctx).unwrap().0, Step::Consent);
        f.consent_decision = "permit".into();
        f.consent_by = "patient".into();
        f.consent_date = "2026-11-21".into();
        assert!(first_incomplete(&f, &ctx).is_none());
    }
}
