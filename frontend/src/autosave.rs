//! Autosave: a short pause after typing posts the step's form to the server's autosave endpoint
//! (the same fields a plain form post carries), so a reload, a crash or a new launch loses nothing.

use crate::{dom, unsaved};
use std::cell::Cell;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Element, FormData, HtmlFormElement, RequestInit, Response, UrlSearchParams};

const DEBOUNCE_MS: i32 = 800;

thread_local! {
    static TIMER: Cell<Option<i32>> = const { Cell::new(None) };
    static EDITS: Cell<u64> = const { Cell::new(0) };
}

pub fn install(step: &Element) {
    let Some(url) = step.get_attribute("data-autosave-url") else { return };
    let Some(form) = dom::query("form[data-step-form]").and_then(|f| f.dyn_into::<HtmlFormElement>().ok()) else {
        return;
    };
    for event in ["input", "change"] {
        let (url, f) = (url.clone(), form.clone());
        dom::listen(&form, event, move |_| {
            unsaved::set_dirty(true);
            EDITS.with(|e| e.set(e.get() + 1));
            dom::set_text("save-status", "Unsaved changes…");
            if let Some(t) = TIMER.with(|t| t.take()) {
                dom::clear_timeout(t);
            }
            let (url, f) = (url.clone(), f.clone());
            let id = dom::set_timeout(DEBOUNCE_MS, move || {
                TIMER.with(|t| t.set(None));
                wasm_bindgen_futures::spawn_local(async move {
                    save_now(&url, &f).await;
                });
            });
            TIMER.with(|t| t.set(Some(id)));
        });
    }
}

/// Saves the step form now (used by the debounce and before an inactivity timeout).
pub async fn save_now(url: &str, form: &HtmlFormElement) -> bool {
    let edits_before = EDITS.with(|e| e.get());
    let ok = match post_form(url, form).await {
        Ok(200) => {
            dom::set_text("save-status", "Draft saved");
            true
        }
        Ok(409) => {
            dom::set_text("save-status", "This referral is closed: changes here are not saved.");
            false
        }
        _ => {
            dom::set_text("save-status", "Not saved yet: check your connection. We will try again as you type.");
            false
        }
    };
    if ok && EDITS.with(|e| e.get()) == edits_before {
        unsaved::set_dirty(false);
    }
    ok
}

async fn post_form(url: &str, form: &HtmlFormElement) -> Result<u16, JsValue> {
    let data = FormData::new_with_form(form)?;
    let body = UrlSearchParams::new_with_str_sequence_sequence(&data)?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&body);
    let response: Response = JsFuture::from(dom::window().fetch_with_str_and_init(url, &init)).await?.dyn_into()?;
    Ok(response.status())
}

pub fn step_form() -> Option<HtmlFormElement> {
    dom::query("form[data-step-form]").and_then(|f| f.dyn_into::<HtmlFormElement>().ok())
}
