//! Pulse browser tracker. The wasm exports below are called by the package's
//! JS front (`js/pulse.js`), which gives them the documented API, queues calls
//! made before the module is loaded and makes sure nothing throws into the page.
#![cfg_attr(not(feature = "std"), no_std)]
extern crate alloc;

#[cfg(not(feature = "std"))]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

/// A panic is a bug: stop (the JS front catches the trap and switches the
/// tracker off) without std's message formatting.
#[cfg(all(not(feature = "std"), target_arch = "wasm32"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

pub mod backoff;
pub mod browser;
pub mod ids;
pub mod json;
pub mod queue;
pub mod session;
pub mod time;
pub mod tracker;

use alloc::string::String;
use tracker::{with, EventInput};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn pulse_init(options: JsValue) -> bool {
    tracker::init(&options)
}

/// `duration_ms` < 0 means none. Property and extra-field objects arrive as
/// JSON text (`JSON.stringify` on the JS side).
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn pulse_track(
    kind: &str,
    properties_json: Option<String>,
    entity_type: Option<String>,
    entity_id: Option<String>,
    duration_ms: f64,
    extra_json: Option<String>,
    immediate: bool,
) -> bool {
    let input = EventInput {
        kind,
        properties_json: properties_json.as_deref(),
        entity_type: entity_type.as_deref(),
        entity_id: entity_id.as_deref(),
        duration_ms: (duration_ms >= 0.0).then_some(duration_ms as u64),
        extra_json: extra_json.as_deref(),
    };
    tracker::submit(with(|t| t.event(&input)).flatten(), immediate)
}

#[wasm_bindgen]
pub fn pulse_page(properties_json: Option<String>) -> bool {
    tracker::submit(
        with(|t| t.page_event(properties_json.as_deref())).flatten(),
        false,
    )
}

#[wasm_bindgen]
pub fn pulse_identify(user_id: &str, traits_json: Option<String>) -> bool {
    tracker::submit(
        with(|t| t.identify_event(user_id, traits_json.as_deref())).flatten(),
        false,
    )
}

#[wasm_bindgen]
pub fn pulse_flush() {
    with(tracker::Tracker::flush);
}

#[wasm_bindgen]
pub fn pulse_queue_size() -> u32 {
    with(|t| t.queue_size() as u32).unwrap_or(0)
}

#[wasm_bindgen]
pub fn pulse_opt_out() {
    with(tracker::Tracker::opt_out);
}

#[wasm_bindgen]
pub fn pulse_opt_in() {
    with(tracker::Tracker::opt_in);
}

#[wasm_bindgen]
pub fn pulse_reset() {
    with(tracker::Tracker::reset);
}

#[wasm_bindgen]
pub fn pulse_stats() -> JsValue {
    with(|t| t.stats()).unwrap_or(JsValue::NULL)
}
