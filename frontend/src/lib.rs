#![recursion_limit = "512"]
//! The WASM entry point: hydrates the server-rendered page, then adds the browser-only parts that
//! make the wizard smoother (never possible only with them: every step also works as plain HTML).

mod autosave;
mod close;
mod delivery;
mod dom;
mod inactivity;
mod inline_validation;
mod unsaved;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    install_glue();
}

fn install_glue() {
    dom::localise_times();
    dom::focus_first(&["#error-summary", "#outcome-heading"]);
    dom::guard_double_submit();
    unsaved::install();
    if let Some(step) = dom::query(".step[data-step]") {
        autosave::install(&step);
        inline_validation::install(&step);
        inactivity::install(&step);
    }
    if let Some(status) = dom::by_id("delivery-status") {
        delivery::install(&status);
    }
    if let Some(request) = dom::by_id("close-request") {
        close::install_when_asked(&request);
    }
}
