//! The "leave site?" warning while something typed is not saved yet.

use crate::dom;
use std::cell::Cell;
use wasm_bindgen::JsCast;

thread_local! {
    static DIRTY: Cell<bool> = const { Cell::new(false) };
    static LEAVING_BY_FORM: Cell<bool> = const { Cell::new(false) };
}

pub fn set_dirty(dirty: bool) {
    DIRTY.with(|d| d.set(dirty));
}

pub fn is_dirty() -> bool {
    DIRTY.with(|d| d.get())
}

/// A form post saves everything itself: no warning for it.
pub fn leaving_by_form() {
    LEAVING_BY_FORM.with(|d| d.set(true));
}

pub fn install() {
    let doc = dom::document();
    dom::listen(&doc, "submit", |_| leaving_by_form());
    dom::listen(&dom::window(), "beforeunload", |ev| {
        if is_dirty() && !LEAVING_BY_FORM.with(|d| d.get()) {
            ev.prevent_default();
            if let Some(ev) = ev.dyn_ref::<web_sys::BeforeUnloadEvent>() {
                ev.set_return_value("");
            }
        }
    });
}
