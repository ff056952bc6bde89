//! Handing control back to the EHR once the referral is sent or abandoned, per launch mode:
//! - SMART Web Messaging (`smart_web_messaging_handle` given): `ui.done` to the parent frame or
//!   opener, with `targetOrigin` = `smart_web_messaging_origin` (never `*`); the EHR's answer is
//!   accepted only from that origin and only as a reply to our message.
//! - Otherwise, framed or opened by the EHR: the documented close request
//!   `{"messageType":"ereferral.close","outcome":…,"serviceRequest":…}` to the registered EHR origin.
//! - Link mode (a return URL from the launch, on a registered origin): navigate back to it.
//! - A tab of its own: say it can be closed.

use crate::dom;
use js_sys::{Object, Reflect};
use wasm_bindgen::JsCast;
use web_sys::{Element, MessageEvent, Window};

/// Hands control back at once, or, with `data-manual` (something the clinician should read is
/// on screen), when the "Close this window" button is pressed.
pub fn install_when_asked(request: &Element) {
    if request.get_attribute("data-manual").as_deref() != Some("true") {
        install(request);
        return;
    }
    let Some(button) = dom::by_id("close-now") else {
        install(request);
        return;
    };
    let _ = button.remove_attribute("hidden");
    let request = request.clone();
    dom::listen(&button, "click", move |_| install(&request));
}

pub fn install(request: &Element) {
    let attr = |name: &str| request.get_attribute(name).filter(|v| !v.is_empty());
    let outcome = attr("data-outcome").unwrap_or_else(|| "abandoned".into());
    let service_request = attr("data-service-request");
    let handle = attr("data-messaging-handle");
    let messaging_origin = attr("data-messaging-origin");
    let origins: Vec<String> =
        attr("data-ehr-origins").map(|o| o.split_whitespace().map(str::to_string).collect()).unwrap_or_default();
    let return_url = attr("data-return-url");

    let window = dom::window();
    let target = ehr_window(&window);
    let in_tab = !is_framed(&window);

    if let (Some(handle), Some(origin), Some(target)) = (handle, messaging_origin, target.as_ref()) {
        send_ui_done(target, &handle, &origin, in_tab);
        return;
    }
    if let Some(target) = target.as_ref() {
        if !origins.is_empty() {
            let message = object(&[("messageType", "ereferral.close"), ("outcome", &outcome)]);
            let sr = service_request.as_deref().map(wasm_bindgen::JsValue::from).unwrap_or(wasm_bindgen::JsValue::NULL);
            let _ = Reflect::set(&message, &"serviceRequest".into(), &sr);
            for origin in likely_origins(&window, &origins) {
                let _ = target.post_message(&message, &origin);
            }
            dom::set_text(
                "close-status",
                if in_tab {
                    "You can close this tab."
                } else {
                    "Your EHR has been asked to close this window. If it stays open, you can close it."
                },
            );
            return;
        }
    }
    if let Some(url) = return_url {
        dom::set_text("close-status", "Returning you to your EHR…");
        dom::set_timeout(1200, move || {
            let _ = dom::window().location().assign(&url);
        });
        return;
    }
    dom::set_text("close-status", "You can close this tab.");
}

fn is_framed(window: &Window) -> bool {
    window.parent().ok().flatten().is_some_and(|p| !Object::is(&p, window))
}

/// The EHR's window: the parent frame, else the window that opened this one.
fn ehr_window(window: &Window) -> Option<Window> {
    if is_framed(window) {
        return window.parent().ok().flatten();
    }
    // A cross-origin opener fails `instanceof Window`: take it unchecked (only postMessage is used).
    window.opener().ok().filter(|o| !o.is_null() && !o.is_undefined()).map(|o| o.unchecked_into::<Window>())
}

/// The registered origins, the framing one first when the browser tells (`ancestorOrigins`);
/// a message to a non-matching origin is dropped by the browser, never delivered elsewhere.
fn likely_origins(window: &Window, registered: &[String]) -> Vec<String> {
    // `location.ancestorOrigins` (Chromium, WebKit); absent elsewhere.
    let parent = Reflect::get(&window.location(), &"ancestorOrigins".into())
        .ok()
        .and_then(|a| a.dyn_into::<web_sys::DomStringList>().ok())
        .and_then(|a| a.item(0));
    match parent {
        Some(p) if registered.contains(&p) => vec![p],
        _ => registered.to_vec(),
    }
}

fn object(pairs: &[(&str, &str)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &(*k).into(), &(*v).into());
    }
    o
}

fn send_ui_done(target: &Window, handle: &str, origin: &str, in_tab: bool) {
    let message_id = js_sys::Reflect::get(&js_sys::global(), &"crypto".into())
        .ok()
        .and_then(|c| c.dyn_into::<Object>().ok())
        .and_then(|c| {
            Reflect::get(&c, &"randomUUID".into())
                .ok()
                .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
                .map(|f| (c, f))
        })
        .and_then(|(c, f)| f.call0(&c).ok())
        .and_then(|v| v.as_string())
        .unwrap_or_else(|| format!("ui-done-{}", js_sys::Date::now()));
    let message = object(&[("messageId", &message_id), ("messagingHandle", handle), ("messageType", "ui.done")]);
    let _ = Reflect::set(&message, &"payload".into(), &Object::new());
    let expected_origin = origin.to_string();
    let id = message_id.clone();
    dom::listen(&dom::window(), "message", move |ev| {
        let Some(ev) = ev.dyn_ref::<MessageEvent>() else { return };
        if ev.origin() != expected_origin {
            return; // only the EHR's own origin may answer
        }
        let data = ev.data();
        if Reflect::get(&data, &"responseToMessageId".into()).ok().and_then(|v| v.as_string()).as_deref() != Some(&id) {
            return;
        }
        let status = Reflect::get(&data, &"payload".into())
            .ok()
            .and_then(|p| Reflect::get(&p, &"status".into()).ok())
            .and_then(|s| s.as_string());
        dom::set_text(
            "close-status",
            match status.as_deref() {
                Some("success") => "Your EHR is closing this window.",
                _ => {
                    if in_tab {
                        "You can close this tab."
                    } else {
                        "You can close this window."
                    }
                }
            },
        );
    });
    if target.post_message(&message, origin).is_err() {
        dom::set_text("close-status", "You can close this window.");
    } else {
        dom::set_text("close-status", "Returning you to your EHR…");
    }
}
