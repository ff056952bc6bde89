//! The fields of each step.

use super::fields::{ErrorSlot, RadioGroup, SelectField, TextArea, TextField};
use crate::{
    referral::{
        form::{PATIENT_LOCATIONS, PRIORITIES, RELATIONSHIPS, ROUTING_OPTIONS},
        validation::{MAX_NOTES_CHARS, MAX_REASON_CHARS},
    },
    wizard_api::{ServiceOption, WizardView},
};
use leptos::prelude::*;

/// Service step: search (a GET form) above the list of services, each with the codes it offers.
#[component]
pub fn ServiceSearchForm(v: WizardView) -> impl IntoView {
    let action = format!("/l/{}/service", v.launch);
    view! {
        <form class="search" method="get" action=action role="search" aria-label="Find a service">
            <div class="search-row">
                <div class="field">
                    <label for="q">"Search services"</label>
                    <input type="search" id="q" name="q" value=v.search.text.clone() placeholder="Name or type, e.g. diabetes"/>
                </div>
                <div class="field">
                    <label for="category">"Type of service"</label>
                    <select id="category" name="category">
                        <option value="" selected=v.search.category.is_empty()>"All types"</option>
                        {v.categories
                            .iter()
                            .map(|(code, display)| {
                                view! { <option value=code.clone() selected=v.search.category == *code>{display.clone()}</option> }
                            })
                            .collect_view()}
                    </select>
                </div>
                <div class="field check">
                    <input type="checkbox" id="accepting" name="accepting" value="true" checked=v.search.accepting_only/>
                    <label for="accepting">"Accepting referrals only"</label>
                </div>
                <button type="submit" class="secondary">"Search"</button>
            </div>
        </form>
    }
}

#[component]
pub fn ServiceStep(v: WizardView) -> impl IntoView {
    let picked = format!("{}::{}", v.form.service_id, v.form.code);
    let count = v.services.len();
    let chosen_hidden = v.chosen.clone().filter(|c| !v.services.iter().any(|s| s.id == c.id));
    view! {
        <fieldset class="field services" id="field-service_id" aria-describedby="error-service_id error-code">
            <legend>"Service and what you are requesting"<span class="req">" (required)"</span></legend>
            <ErrorSlot name="service_id" errors=v.errors.clone()/>
            <ErrorSlot name="code" errors=v.errors.clone()/>
            <p class="muted" aria-live="polite" data-testid="service-count">
                {match count { 0 => "No service matches your search.".to_string(), 1 => "1 service".into(), n => format!("{n} services") }}
            </p>
            {chosen_hidden.map(|c| view! {
                <p class="muted">"Currently chosen: "<strong>{c.name}</strong>" (not in these search results)."</p>
                <input type="hidden" name="pick" value=picked.clone()/>
            })}
            <ul class="service-list">
                {v.services.into_iter().map(|s| view! { <ServiceCard s picked=picked.clone()/> }).collect_view()}
            </ul>
        </fieldset>
    }
}

#[component]
fn ServiceCard(s: ServiceOption, picked: String) -> impl IntoView {
    let heading_id = format!("svc-{}", s.id);
    view! {
        <li class=if s.accepting { "service" } else { "service closed" } data-testid=format!("service-{}", s.id)>
            <h3 id=heading_id.clone()>{s.name.clone()}</h3>
            <p class="service-meta">
                {s.category.clone().map(|c| view! { <span class="tag">{c}</span> })}
                {if s.accepting {
                    view! { <span class="tag ok">"Accepting referrals"</span> }.into_any()
                } else {
                    view! { <span class="tag no">"Not accepting referrals"</span> }.into_any()
                }}
                {s.typical_wait.clone().map(|w| view! { <span class="wait">"Typical wait: "{w}</span> })}
            </p>
            {s.comment.clone().map(|c| view! { <p>{c}</p> })}
            {(!s.eligibility.is_empty()).then(|| view! {
                <p class="eligibility"><span class="muted">"Eligibility: "</span>{s.eligibility.join(" ")}</p>
            })}
            <div class="codes" role="group" aria-labelledby=heading_id>
                {s.codes
                    .iter()
                    .map(|(token, display)| {
                        let value = format!("{}::{}", s.id, token);
                        let id = format!("pick-{}-{}", s.id, token.rsplit('|').next().unwrap_or(""));
                        view! {
                            <div class="radio">
                                <input type="radio" name="pick" id=id.clone() value=value.clone() checked=picked == value disabled=!s.accepting/>
                                <label for=id>{display.clone()}</label>
                            </div>
                        }
                    })
                    .collect_view()}
            </div>
        </li>
    }
}

#[component]
pub fn DetailsStep(v: WizardView) -> impl IntoView {
    let f = v.form;
    view! {
        <TextArea name="reason" label="Reason for referral" value=f.reason errors=v.errors.clone() required=true rows=4
            max_chars=MAX_REASON_CHARS hint="What you want the service to address, in a sentence or two."/>
        <RadioGroup name="priority" legend="Priority" choices=PRIORITIES value=f.priority errors=v.errors.clone() inline=true/>
        <TextArea name="notes" label="Clinical notes" value=f.notes errors=v.errors.clone() rows=5
            max_chars=MAX_NOTES_CHARS hint="Optional: history, medications, anything the service should know."/>
    }
}

#[component]
pub fn ConsentStep(v: WizardView) -> impl IntoView {
    let f = v.form;
    const DECISIONS: crate::referral::form::Choices =
        &[("permit", "The patient agrees to this referral"), ("deny", "The patient does not agree")];
    const GIVERS: crate::referral::form::Choices =
        &[("patient", "The patient"), ("related", "A related person (e.g. guardian, substitute decision-maker)")];
    view! {
        <RadioGroup name="consent_decision" legend="Consent decision" choices=DECISIONS value=f.consent_decision
            errors=v.errors.clone() required=true/>
        <RadioGroup name="consent_by" legend="Given by" choices=GIVERS value=f.consent_by errors=v.errors.clone() required=true/>
        <div class="related" data-show-when="consent_by=related">
            <TextField name="consent_related_name" label="Name of the related person" value=f.consent_related_name
                errors=v.errors.clone() hint="Only if consent was given by a related person."/>
            <SelectField name="consent_related_relationship" label="Relationship to the patient" choices=RELATIONSHIPS
                value=f.consent_related_relationship errors=v.errors.clone() placeholder="Choose…"/>
        </div>
        <TextField name="consent_date" label="Date consent was given" value=f.consent_date errors=v.errors.clone()
            required=true input_type="date" hint="Year-month-day, e.g. 2026-03-14." max=v.validation.today.clone()/>
    }
}

#[component]
pub fn RoutingStep(v: WizardView) -> impl IntoView {
    let f = v.form;
    let mut authorizers: Vec<(&'static str, String)> = vec![("self", format!("Me: {}", v.self_name))];
    if let Some(r) = v.draft_requester.clone() {
        authorizers.push(("draft", format!("{r} (requester on the EHR's draft)")));
    }
    authorizers.push(("other", "Another clinician".to_string()));
    let current =
        if f.authorizer.is_empty() && !v.validation.delegate { "self".to_string() } else { f.authorizer.clone() };
    let errors = v.errors.clone();
    view! {
        <RadioGroup name="routing" legend="Routing (optional)" choices=ROUTING_OPTIONS value=f.routing errors=v.errors.clone()/>
        <TextField name="routing_note" label="Provider or site asked for" value=f.routing_note errors=v.errors.clone()
            hint="Only for “a specific provider or site”."/>
        <SelectField name="patient_location" label="Where is the patient now? (optional)" choices=PATIENT_LOCATIONS
            value=f.patient_location errors=v.errors.clone()/>
        <fieldset class="field radios" id="field-authorizer" aria-describedby="error-authorizer">
            <legend>
                "Authorizing clinician"
                {v.validation.delegate.then(|| view! { <span class="req">" (required: you are sending this on a clinician's behalf)"</span> })}
            </legend>
            <ErrorSlot name="authorizer" errors=errors.clone()/>
            {authorizers
                .into_iter()
                .map(|(value, label)| {
                    let id = format!("authorizer-{value}");
                    view! {
                        <div class="radio">
                            <input type="radio" id=id.clone() name="authorizer" value=value checked=current == value/>
                            <label for=id>{label}</label>
                        </div>
                    }
                })
                .collect_view()}
        </fieldset>
        <div class="related" data-show-when="authorizer=other">
            <TextField name="authorizer_name" label="Authorizing clinician's name" value=f.authorizer_name errors=errors.clone()
                hint="Only for “another clinician”."/>
            <TextField name="authorizer_licence" label="Their licence or registration number (optional)"
                value=f.authorizer_licence errors=errors/>
        </div>
    }
}
