//! Pulse browser tracker. The wasm exports below are called by the package's
//! JS front (`js/pulse.js`), which gives them the documented API, queues calls
//! made before the module is loaded and makes sure nothing throws into the page.
#![cfg_attr(not(feature = "std"), no_std)]
extern crate alloc;

#[cfg(all(not(feature = "std"), target_arch = "wasm32"))]
#[global_allocator]
static ALLOCATOR: heap::Heap = heap::Heap::new();

/// A panic is a bug: stop (the JS front catches the trap and switches the
/// tracker off) without std's message formatting.
#[cfg(all(not(feature = "std"), target_arch = "wasm32"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

pub mod backoff;
pub mod browser;
#[cfg(target_arch = "wasm32")]
pub mod heap;
pub mod ids;
pub mod json;
pub mod queue;
pub mod session;
pub mod time;
pub mod tracker;

use alloc::string::String;
use tracker::{with, EventInput, Options, Tracker};
use wasm_bindgen::prelude::*;

/// Starts the tracker; this tab's id goes to `Host::out`. The JS front reads
/// the options object: numbers not given arrive as NaN, booleans as
/// `tracker::OPT_*` flags, and the strings as one text, one a line (one
/// string crosses the boundary with less glue than five): endpoint, write
/// key, environment, the browser context (JSON), why tracking is off.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn pulse_init(
    host: browser::Host,
    strings: &str,
    batch_size: f64,
    flush_interval_ms: f64,
    max_queue_events: f64,
    max_queue_bytes: f64,
    flags: u32,
) -> bool {
    browser::set_host(host);
    let mut lines = json::fields(strings, b'\n');
    let mut next = || Some(String::from(lines.next().unwrap_or(""))).filter(|s| !s.is_empty());
    let (endpoint, write_key, environment) = (next(), next(), next());
    let (env_json, disabled) = (next().unwrap_or_default(), next());
    tracker::init(Options {
        endpoint,
        write_key,
        batch_size,
        flush_interval_ms,
        max_queue_events,
        max_queue_bytes,
        environment,
        flags,
        env_json,
        disabled,
    })
}

/// `fields` is the event type, then the properties (JSON), entity type,
/// entity id and other wire fields (JSON), joined by `\x01` (one string
/// crosses the boundary faster and with less glue than five); each of the
/// four is `\x02` + value when given, empty when not. Objects arrive as JSON
/// text (`JSON.stringify` on the JS side). `duration_ms` < 0 means none.
#[wasm_bindgen]
pub fn pulse_track(fields: &str, duration_ms: f64, immediate: bool) -> bool {
    let mut parts = json::fields(fields, 1);
    let kind = parts.next().unwrap_or("");
    let mut given = || parts.next().and_then(|s| s.strip_prefix('\u{2}'));
    let (properties_json, entity_type, entity_id, extra_json) =
        (given(), given(), given(), given());
    let input = EventInput {
        kind,
        properties_json,
        entity_type,
        entity_id,
        duration_ms: (duration_ms >= 0.0).then_some(duration_ms as u64),
        extra_json,
    };
    tracker::submit(with(|t| t.event(&input)).flatten(), immediate)
}

/// Properties as JSON, empty for none (JSON text is never empty).
#[wasm_bindgen]
pub fn pulse_page(properties_json: &str) -> bool {
    let properties = Some(properties_json).filter(|p| !p.is_empty());
    tracker::submit(with(|t| t.page_event(properties)).flatten(), false)
}

/// Traits as JSON, empty for none.
#[wasm_bindgen]
pub fn pulse_identify(user_id: &str, traits_json: &str) -> bool {
    let traits = Some(traits_json).filter(|p| !p.is_empty());
    tracker::submit(with(|t| t.identify_event(user_id, traits)).flatten(), false)
}

/// Counters and ids as JSON, handed to `Host::out` (a returned String would
/// bring its own glue).
#[wasm_bindgen]
pub fn pulse_stats() {
    with(|t| browser::host().out(&t.stats()));
}

// ---- what the browser reports back (wired by the JS front) ------------------

/// The answer to `Host::post`: status 0 for a network error. See
/// `Tracker::on_response` for the result.
#[wasm_bindgen]
pub fn pulse_response(status: u16, retry_after: &str) -> i32 {
    with(|t| t.on_response(status, retry_after)).unwrap_or(tracker::RESPONSE_NONE)
}

/// Batches of a closed tab (see `Tracker::adopt`).
#[wasm_bindgen]
pub fn pulse_adopt(data: &str) {
    with(|t| t.adopt(data));
}

/// The commands without strings, as one export (each export costs glue):
/// see the `DO_*` constants. Gives the queue size for `DO_QUEUE_SIZE`, whether
/// a page view was recorded for `DO_ROUTE`, else 0.
#[wasm_bindgen]
pub fn pulse_do(op: u32, arg: u32) -> u32 {
    match op {
        DO_FLUSH => {
            with(Tracker::flush);
        }
        DO_QUEUE_SIZE => return with(|t| t.queue_size() as u32).unwrap_or(0),
        DO_OPT_OUT => {
            with(Tracker::opt_out);
        }
        DO_OPT_IN => {
            with(Tracker::opt_in);
        }
        DO_RESET => {
            with(Tracker::reset);
        }
        DO_TIMER => {
            with(|t| t.on_timer(arg));
        }
        DO_ONLINE => {
            with(Tracker::on_online);
        }
        // pagehide (arg 1) and visibilitychange (1 when hidden).
        DO_HIDE => {
            with(|t| if arg != 0 { t.on_hide() } else { t.pump() });
        }
        // Another tab opted out (1) or in.
        DO_OPTED_OUT => {
            with(|t| t.on_opt_out_changed(arg != 0));
        }
        // A history-API navigation, popstate or hashchange.
        DO_ROUTE => {
            return tracker::submit(with(Tracker::route_change_event).flatten(), false) as u32;
        }
        _ => {}
    }
    0
}

pub const DO_FLUSH: u32 = 0;
pub const DO_QUEUE_SIZE: u32 = 1;
pub const DO_OPT_OUT: u32 = 2;
pub const DO_OPT_IN: u32 = 3;
pub const DO_RESET: u32 = 4;
pub const DO_TIMER: u32 = 5;
pub const DO_ONLINE: u32 = 6;
pub const DO_HIDE: u32 = 7;
pub const DO_OPTED_OUT: u32 = 8;
pub const DO_ROUTE: u32 = 9;
