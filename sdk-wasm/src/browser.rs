//! The browser, as the JS front (`js/pulse.js`) hands it over at `pulse_init`:
//! one `Host` object with a few coarse methods, so few calls cross the
//! boundary and the generated glue stays small. Whatever the browser reports
//! back (responses, timers, other tabs' queues, page events) comes in through the
//! `pulse_*` exports in `lib.rs`, not through Rust closures.
use alloc::string::String;
use core::cell::UnsafeCell;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    pub type Host;

    /// POSTs `body` as text/plain; the answer comes back through `pulse_response`.
    #[wasm_bindgen(method)]
    pub fn post(this: &Host, url: &str, body: &str, keepalive: bool);
    /// 1 accepted, 0 refused (too big or over the beacon quota), 2 unavailable.
    #[wasm_bindgen(method)]
    pub fn beacon(this: &Host, url: &str, body: &str) -> u32;
    /// `setTimeout` calling `pulse_timer(kind)`; gives the timer id.
    #[wasm_bindgen(method)]
    pub fn timer(this: &Host, kind: u32, ms: u32) -> i32;
    #[wasm_bindgen(method)]
    pub fn clear(this: &Host, id: i32);
    /// `href`, `pathname`, `title`, `referrer`, one a line.
    #[wasm_bindgen(method)]
    pub fn page(this: &Host) -> String;
    #[wasm_bindgen(method)]
    pub fn online(this: &Host) -> bool;
    /// Fills `buf` from `crypto.getRandomValues` (Math.random without it).
    #[wasm_bindgen(method)]
    pub fn fill(this: &Host, buf: &mut [u8]);
    /// localStorage, if the page may use it.
    #[wasm_bindgen(method)]
    pub fn storage(this: &Host) -> Option<web_sys::Storage>;
    #[wasm_bindgen(method)]
    pub fn quota(this: &Host, error: &JsValue) -> bool;
    /// `console[level]('[pulse] ' + msg)`.
    #[wasm_bindgen(method)]
    pub fn log(this: &Host, level: &str, msg: &str);
    /// Hands a string result to the JS front (the tab id, stats).
    #[wasm_bindgen(method)]
    pub fn out(this: &Host, s: &str);
    /// Runs the `beforeSend` hook on an event (JSON): the event to send as
    /// JSON, or None to drop it.
    #[wasm_bindgen(method)]
    pub fn hook(this: &Host, event_json: &str) -> Option<String>;
}

struct Cell(UnsafeCell<Option<Host>>);
// SAFETY: the wasm module runs on one thread (no shared memory, no workers).
unsafe impl Sync for Cell {}
static HOST: Cell = Cell(UnsafeCell::new(None));

pub fn set_host(host: Host) {
    // SAFETY: single thread; set once by `pulse_init` before any use.
    unsafe { *HOST.0.get() = Some(host) }
}

/// The host handed over by `pulse_init` (every other export runs after it).
pub fn host() -> &'static Host {
    // SAFETY: single thread; HOST is only written by `set_host`.
    match unsafe { &*HOST.0.get() } {
        Some(h) => h,
        None => core::arch::wasm32::unreachable(),
    }
}

pub fn now() -> u64 {
    js_sys::Date::now() as u64
}

pub fn warn(msg: &str) {
    host().log("warn", msg);
}
