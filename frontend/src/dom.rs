//! Small DOM helpers over web-sys.

use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::{Document, Element, Event, EventTarget, HtmlElement, Window};

pub fn window() -> Window {
    web_sys::window().expect("a browser window")
}

pub fn document() -> Document {
    window().document().expect("a document")
}

pub fn by_id(id: &str) -> Option<Element> {
    document().get_element_by_id(id)
}

pub fn query(selector: &str) -> Option<Element> {
    document().query_selector(selector).ok().flatten()
}

pub fn query_all(selector: &str) -> Vec<Element> {
    let Ok(list) = document().query_selector_all(selector) else { return vec![] };
    (0..list.length()).filter_map(|i| list.item(i)).filter_map(|n| n.dyn_into::<Element>().ok()).collect()
}

/// Adds a listener for the page's lifetime.
pub fn listen(target: &EventTarget, event: &str, f: impl FnMut(Event) + 'static) {
    let closure = Closure::<dyn FnMut(Event)>::new(f);
    let _ = target.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
    closure.forget();
}

/// Runs `f` once after `ms` milliseconds; returns the timer id.
pub fn set_timeout(ms: i32, f: impl FnOnce() + 'static) -> i32 {
    let closure = Closure::once_into_js(f);
    window().set_timeout_with_callback_and_timeout_and_arguments_0(closure.unchecked_ref(), ms).unwrap_or(0)
}

pub fn clear_timeout(id: i32) {
    window().clear_timeout_with_handle(id);
}

pub fn set_text(id: &str, text: &str) {
    if let Some(el) = by_id(id) {
        el.set_text_content(Some(text));
    }
}

/// Moves focus to the first element matching one of `selectors` (error summary, outcome heading).
pub fn focus_first(selectors: &[&str]) {
    if let Some(el) = selectors.iter().find_map(|s| query(s)).and_then(|e| e.dyn_into::<HtmlElement>().ok()) {
        let _ = el.focus();
    }
}

/// `<time data-unix>` in the clinician's own time zone.
pub fn localise_times() {
    for el in query_all("time[data-unix]") {
        if let Some(unix) = el.get_attribute("data-unix").and_then(|s| s.parse::<f64>().ok()) {
            let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(unix * 1000.0));
            let text: String = date.to_locale_string("default", &js_sys::Object::new()).into();
            el.set_text_content(Some(&text));
        }
    }
}

/// Forms marked `data-submit-once` disable their buttons once submitted (the server is idempotent
/// too: this spares the clinician a second wait).
pub fn guard_double_submit() {
    for form in query_all("form[data-submit-once]") {
        let f = form.clone();
        listen(&form, "submit", move |_| {
            for b in query_all_in(&f, "button") {
                let _ = b.set_attribute("disabled", "");
                let _ = b.set_attribute("aria-busy", "true");
            }
        });
    }
}

pub fn query_all_in(root: &Element, selector: &str) -> Vec<Element> {
    let Ok(list) = root.query_selector_all(selector) else { return vec![] };
    (0..list.length()).filter_map(|i| list.item(i)).filter_map(|n| n.dyn_into::<Element>().ok()).collect()
}
