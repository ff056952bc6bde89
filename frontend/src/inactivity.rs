//! Inactivity: after `data-inactivity-warn-secs` without the clinician doing anything, a dialog
//! asks whether they are still there; after `data-inactivity-timeout-secs` the referral is saved
//! and abandoned (the server records it as timed out; a new launch can resume it).

use crate::{autosave, dom, unsaved};
use std::cell::Cell;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlDialogElement, HtmlElement, HtmlFormElement};

thread_local! {
    static TIMERS: Cell<(i32, i32)> = const { Cell::new((0, 0)) };
}

pub fn install(step: &Element) {
    let secs = |name: &str| step.get_attribute(name).and_then(|v| v.parse::<i32>().ok()).filter(|v| *v > 0);
    let (Some(warn), Some(timeout)) = (secs("data-inactivity-warn-secs"), secs("data-inactivity-timeout-secs")) else {
        return;
    };
    let warn_ms = warn.saturating_mul(1000);
    let timeout_ms = timeout.saturating_mul(1000);
    let doc = dom::document();
    for event in ["keydown", "pointerdown", "input", "wheel"] {
        dom::listen(&doc, event, move |_| {
            if !dialog().is_some_and(|d| d.open()) {
                restart(warn_ms, timeout_ms);
            }
        });
    }
    if let Some(button) = dom::by_id("inactivity-continue") {
        dom::listen(&button, "click", move |_| {
            if let Some(d) = dialog() {
                d.close();
            }
            restart(warn_ms, timeout_ms);
        });
    }
    if let Some(d) = dialog() {
        // Escape closes the dialog: that is the clinician answering "still here".
        dom::listen(&d, "cancel", move |_| restart(warn_ms, timeout_ms));
    }
    restart(warn_ms, timeout_ms);
}

fn dialog() -> Option<HtmlDialogElement> {
    dom::by_id("inactivity-dialog").and_then(|d| d.dyn_into().ok())
}

fn restart(warn_ms: i32, timeout_ms: i32) {
    let (w, t) = TIMERS.with(|c| c.get());
    dom::clear_timeout(w);
    dom::clear_timeout(t);
    let w = dom::set_timeout(warn_ms, || {
        if let Some(d) = dialog() {
            if !d.open() {
                let _ = d.show_modal();
            }
            if let Some(b) = dom::by_id("inactivity-continue").and_then(|b| b.dyn_into::<HtmlElement>().ok()) {
                let _ = b.focus();
            }
        }
    });
    let t = dom::set_timeout(timeout_ms, time_out);
    TIMERS.with(|c| c.set((w, t)));
}

fn time_out() {
    wasm_bindgen_futures::spawn_local(async {
        // Save what was typed first, so "nothing typed is lost" holds for a timeout too.
        if unsaved::is_dirty() {
            if let (Some(url), Some(form)) = (
                dom::query(".step[data-autosave-url]").and_then(|s| s.get_attribute("data-autosave-url")),
                autosave::step_form(),
            ) {
                autosave::save_now(&url, &form).await;
            }
        }
        unsaved::leaving_by_form();
        if let Some(form) = dom::by_id("timeout-form").and_then(|f| f.dyn_into::<HtmlFormElement>().ok()) {
            let _ = form.submit();
        }
    });
}
