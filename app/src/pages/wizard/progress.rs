//! The progress indicator: every step, where the clinician is, and which steps are done. Each
//! step is a submit button of the step's form, so jumping saves what was typed.

use crate::referral::steps::Step;
use leptos::prelude::*;

#[component]
pub fn Progress(current: Step, complete: Vec<bool>, form_id: &'static str) -> impl IntoView {
    view! {
        <nav class="progress" aria-label="Referral steps">
            <ol>
                {Step::ALL
                    .into_iter()
                    .zip(complete)
                    .map(|(s, done)| {
                        let is_current = s == current;
                        let state = if is_current { "current" } else if done { "done" } else { "todo" };
                        let before = format!("Step {} of {}: ", s.index() + 1, Step::ALL.len());
                        let after = if is_current { " (current)" } else if done { " (complete)" } else { "" };
                        view! {
                            <li class=format!("step {state}") aria-current=is_current.then_some("step")>
                                <button type="submit" form=form_id name="nav" value=format!("goto:{}", s.slug())
                                    formnovalidate=true data-testid=format!("progress-{}", s.slug())>
                                    <span class="num" aria-hidden="true">{if done && !is_current { "✓".to_string() } else { (s.index() + 1).to_string() }}</span>
                                    <span class="visually-hidden">{before}</span>
                                    <span class="title">{s.title()}</span>
                                    <span class="visually-hidden">{after}</span>
                                </button>
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
        </nav>
    }
}
