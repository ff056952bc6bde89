//! Inline validation as the clinician works: the same rules the server applies
//! (`app::referral::validation`), shown in the field's own error slot once the field is left.
//! Also shows the follow-up fields (related person, other clinician) only when they apply.

use crate::dom;
use app::referral::{
    form::ReferralForm,
    steps::Step,
    validation::{validate_step, ValidationContext},
};
use std::{cell::RefCell, collections::HashSet};
use wasm_bindgen::JsCast;
use web_sys::{Element, FormData, HtmlFormElement};

thread_local! {
    static TOUCHED: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
}

pub fn install(step_el: &Element) {
    let Some(step) = step_el.get_attribute("data-step").and_then(|s| Step::from_slug(&s)) else { return };
    let Some(form) = dom::query("form[data-step-form]").and_then(|f| f.dyn_into::<HtmlFormElement>().ok()) else {
        return;
    };
    let flag = |name: &str| step_el.get_attribute(name).is_some_and(|v| v == "true");
    let ctx = ValidationContext {
        today: step_el.get_attribute("data-today").unwrap_or_default(),
        delegate: flag("data-delegate"),
        has_draft_requester: flag("data-draft-requester"),
    };
    // Fields that already show a server error count as touched: fixing them clears the message.
    for slot in dom::query_all(".field-error:not([hidden])") {
        if let Some(name) = slot.get_attribute("data-error-for") {
            TOUCHED.with(|t| t.borrow_mut().insert(name));
        }
    }
    show_conditional(&form);
    for event in ["focusout", "change"] {
        let (f, ctx) = (form.clone(), ctx.clone());
        dom::listen(&form, event, move |ev| {
            if let Some(name) =
                ev.target().and_then(|t| t.dyn_into::<Element>().ok()).and_then(|e| e.get_attribute("name"))
            {
                TOUCHED.with(|t| t.borrow_mut().insert(name));
            }
            show_conditional(&f);
            refresh(step, &f, &ctx);
        });
    }
}

fn read_form(form: &HtmlFormElement) -> ReferralForm {
    let mut out = ReferralForm::default();
    let Ok(data) = FormData::new_with_form(form) else { return out };
    for name in app::referral::form::FIELDS {
        if let Some(v) = data.get(name).as_string() {
            out.set(name, &v);
        }
    }
    if let Some(pick) = data.get("pick").as_string() {
        out.set_pick(&pick);
    }
    out
}

fn refresh(step: Step, form: &HtmlFormElement, ctx: &ValidationContext) {
    let values = read_form(form);
    let errors = validate_step(step, &values, ctx);
    for slot in dom::query_all(".field-error[data-error-for]") {
        let Some(name) = slot.get_attribute("data-error-for") else { continue };
        if name == "file" || !TOUCHED.with(|t| t.borrow().contains(&name)) {
            continue;
        }
        let message = errors.iter().find(|e| e.field == name).map(|e| e.message.clone());
        slot.set_text_content(message.as_deref());
        if message.is_some() {
            let _ = slot.remove_attribute("hidden");
        } else {
            let _ = slot.set_attribute("hidden", "");
        }
        if let Some(control) = dom::by_id(&name).or_else(|| dom::by_id(&format!("field-{name}"))) {
            let _ = control.set_attribute("aria-invalid", if message.is_some() { "true" } else { "false" });
        }
    }
}

/// `data-show-when="field=value"` blocks are shown only when that field has that value.
fn show_conditional(form: &HtmlFormElement) {
    let Ok(data) = FormData::new_with_form(form) else { return };
    for block in dom::query_all("[data-show-when]") {
        let Some(rule) = block.get_attribute("data-show-when") else { continue };
        let Some((field, value)) = rule.split_once('=') else { continue };
        let current = data.get(field).as_string().unwrap_or_default();
        if current == value {
            let _ = block.remove_attribute("hidden");
        } else {
            let _ = block.set_attribute("hidden", "");
        }
    }
}
