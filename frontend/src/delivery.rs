//! Keeps the confirmation page's "delivered to your EHR / retrying / rejected" line current:
//! while the message is not delivered, asks the server every few seconds (`data-status-url`)
//! and stops once the state is final. The first answer is always in the server-rendered page.

use crate::dom;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{Element, Response};

const EVERY_MS: i32 = 3000;

pub fn install(status: &Element) {
    let Some(url) = status.get_attribute("data-status-url").filter(|u| !u.is_empty()) else { return };
    schedule(url);
}

fn schedule(url: String) {
    dom::set_timeout(EVERY_MS, move || {
        spawn_local(async move {
            let finished = match fetch_state(&url).await {
                Ok((state, text)) => {
                    if let Some(el) = dom::by_id("delivery-status") {
                        let _ = el.set_attribute("data-state", &state);
                        let _ = el.set_attribute("class", &format!("delivery delivery-{state}"));
                        el.set_text_content(Some(&text));
                    }
                    state != "retrying"
                }
                Err(_) => false,
            };
            if !finished {
                schedule(url);
            }
        });
    });
}

async fn fetch_state(url: &str) -> Result<(String, String), JsValue> {
    let response: Response = JsFuture::from(dom::window().fetch_with_str(url)).await?.dyn_into()?;
    if !response.ok() {
        return Err(JsValue::from_str("status"));
    }
    let json = JsFuture::from(response.json()?).await?;
    let get = |k: &str| js_sys::Reflect::get(&json, &k.into()).ok().and_then(|v| v.as_string()).unwrap_or_default();
    Ok((get("state"), get("text")))
}
