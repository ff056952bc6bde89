//! Labelled form controls with their inline error, shared by every step. Errors sit next to the
//! field (`aria-describedby`, `aria-invalid`); the browser glue fills the same slots as the
//! clinician types, so server and browser messages appear in one place.

use crate::referral::{form::Choices, validation::message_for, validation::FieldError};
use leptos::prelude::*;

fn error_id(name: &str) -> String {
    format!("error-{name}")
}

fn described_by(name: &str, hint: bool) -> String {
    if hint {
        format!("hint-{name} {}", error_id(name))
    } else {
        error_id(name)
    }
}

/// The error slot of `name`: empty and hidden until there is something to say.
#[component]
pub fn ErrorSlot(name: &'static str, errors: Vec<FieldError>) -> impl IntoView {
    let message = message_for(&errors, name).map(str::to_string);
    let hidden = message.is_none();
    view! {
        <p class="field-error" id=error_id(name) data-error-for=name aria-live="polite" hidden=hidden>
            {message}
        </p>
    }
}

/// `&`, `<` and `>` as entities: text that cannot end the element it is in.
pub fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn invalid(errors: &[FieldError], name: &str) -> Option<&'static str> {
    message_for(errors, name).map(|_| "true")
}

#[component]
pub fn TextField(
    name: &'static str,
    label: &'static str,
    value: String,
    errors: Vec<FieldError>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] required: bool,
    #[prop(optional)] input_type: Option<&'static str>,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] max: Option<String>,
) -> impl IntoView {
    view! {
        <div class="field" id=format!("field-{name}")>
            <label for=name>{label}{required.then(|| view! { <span class="req">" (required)"</span> })}</label>
            {hint.map(|h| view! { <p class="hint" id=format!("hint-{name}")>{h}</p> })}
            <ErrorSlot name errors=errors.clone()/>
            <input
                type=input_type.unwrap_or("text")
                id=name
                name=name
                value=value
                max=max
                autocomplete=autocomplete.unwrap_or("off")
                aria-required=required.then_some("true")
                aria-invalid=invalid(&errors, name)
                aria-describedby=described_by(name, hint.is_some())
            />
        </div>
    }
}

#[component]
pub fn TextArea(
    name: &'static str,
    label: &'static str,
    value: String,
    errors: Vec<FieldError>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] required: bool,
    #[prop(default = 4)] rows: u32,
    max_chars: usize,
) -> impl IntoView {
    view! {
        <div class="field" id=format!("field-{name}")>
            <label for=name>{label}{required.then(|| view! { <span class="req">" (required)"</span> })}</label>
            {hint.map(|h| view! { <p class="hint" id=format!("hint-{name}")>{h}</p> })}
            <ErrorSlot name errors=errors.clone()/>
            <textarea
                id=name
                name=name
                rows=rows
                data-max-chars=max_chars
                aria-required=required.then_some("true")
                aria-invalid=invalid(&errors, name)
                aria-describedby=described_by(name, hint.is_some())
                // Leptos writes <textarea> children unescaped (raw text): escape them ourselves.
                inner_html=escape_text(&value)
            ></textarea>
        </div>
    }
}

/// A radio group in a fieldset; `choices` are `(value, label)`.
#[component]
pub fn RadioGroup(
    name: &'static str,
    legend: &'static str,
    choices: Choices,
    value: String,
    errors: Vec<FieldError>,
    #[prop(optional)] required: bool,
    #[prop(optional)] inline: bool,
) -> impl IntoView {
    let current = if value.is_empty() && !required {
        choices.first().map(|c| c.0.to_string()).unwrap_or_default()
    } else {
        value
    };
    view! {
        <fieldset
            class=if inline { "field radios inline" } else { "field radios" }
            id=format!("field-{name}")
            aria-describedby=error_id(name)
            aria-invalid=invalid(&errors, name)
        >
            <legend>{legend}{required.then(|| view! { <span class="req">" (required)"</span> })}</legend>
            <ErrorSlot name errors=errors.clone()/>
            {choices
                .iter()
                .enumerate()
                .map(|(i, (v, l))| {
                    let id = format!("{name}-{}", if v.is_empty() { "none".to_string() } else { v.to_string() });
                    view! {
                        <div class="radio">
                            <input type="radio" id=id.clone() name=name value=*v checked=current == *v
                                aria-required=(required && i == 0).then_some("true")/>
                            <label for=id>{*l}</label>
                        </div>
                    }
                })
                .collect_view()}
        </fieldset>
    }
}

#[component]
pub fn SelectField(
    name: &'static str,
    label: &'static str,
    choices: Choices,
    value: String,
    errors: Vec<FieldError>,
    #[prop(optional)] placeholder: Option<&'static str>,
) -> impl IntoView {
    view! {
        <div class="field" id=format!("field-{name}")>
            <label for=name>{label}</label>
            <ErrorSlot name errors=errors.clone()/>
            <select id=name name=name aria-invalid=invalid(&errors, name) aria-describedby=error_id(name)>
                {placeholder.map(|p| view! { <option value="" selected=value.is_empty()>{p}</option> })}
                {choices
                    .iter()
                    .map(|(v, l)| view! { <option value=*v selected=value == *v>{*l}</option> })
                    .collect_view()}
            </select>
        </div>
    }
}

/// The list of problems at the top of a step after a refused post, each linking to its field.
#[component]
pub fn ErrorSummary(errors: Vec<FieldError>) -> impl IntoView {
    (!errors.is_empty()).then(|| {
        view! {
            <div class="error-summary" role="alert" tabindex="-1" id="error-summary" data-testid="error-summary">
                <h2>{if errors.len() == 1 { "There is a problem".to_string() } else { format!("There are {} problems", errors.len()) }}</h2>
                <ul>
                    {errors
                        .into_iter()
                        .map(|e| view! { <li><a href=format!("#{}", e.field) rel="external">{e.message}</a></li> })
                        .collect_view()}
                </ul>
            </div>
        }
    })
}
