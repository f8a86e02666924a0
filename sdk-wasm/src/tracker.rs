//! The tracker: builds events, keeps the queue durable, owns it per tab, sends.
use alloc::borrow::ToOwned;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::backoff::{self, Outcome};
use crate::browser::{self, now, warn};
use crate::ids::{RandomPool, UuidV7};
use crate::json::{push_key, push_members, push_str, push_uint};
use crate::queue::{write_body, Limits, Queue, QueuedEvent, MAX_EVENT_BYTES, MAX_REQUEST_BYTES};
use crate::session::Session;
use crate::time::push_rfc3339;

pub const LIBRARY_NAME: &str = "pulse-wasm";
pub const LIBRARY_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Unsaved events reach storage this long after the first of them (lazy
/// persistence: a burst of track() calls costs one storage pass, not one per call).
const PERSIST_DELAY_MS: i32 = 1000;
/// Tabs re-read the shared session at most this often.
const SESSION_SYNC_MS: u64 = 1000;

const KEY_ANON: &str = "pulse:anon";
const KEY_USER: &str = "pulse:uid";
const KEY_SESSION: &str = "pulse:session";
const KEY_OPT_OUT: &str = "pulse:optout";
const TAB_PREFIX: &str = "pulse:tab:";
const QUEUE_PREFIX: &str = "pulse:q:";

/// The one tracker of the page. wasm32 without threads: a plain static.
struct Global(RefCell<Option<Tracker>>);
// SAFETY: the wasm module runs on one thread (no shared memory, no workers).
unsafe impl Sync for Global {}
static TRACKER: Global = Global(RefCell::new(None));

/// Runs `f` on the tracker if there is one and it is not already in use (a user
/// callback calling back into the tracker is ignored rather than panicking),
/// then hands collected error reports to the `onError` callback.
pub fn with<R>(f: impl FnOnce(&mut Tracker) -> R) -> Option<R> {
    let result = {
        let cell = &TRACKER.0;
        match cell.try_borrow_mut() {
            Ok(mut guard) => guard.as_mut().map(f),
            Err(_) => {
                warn("call ignored: the tracker is busy (called from one of its own callbacks?)");
                None
            }
        }
    };
    deliver_reports();
    result
}

fn deliver_reports() {
    let pending = (|| {
        let mut guard = TRACKER.0.try_borrow_mut().ok()?;
        let t = guard.as_mut()?;
        if t.reports.is_empty() {
            return None;
        }
        Some((core::mem::take(&mut t.reports), t.on_error.clone()))
    })();
    if let Some((reports, Some(cb))) = pending {
        for r in reports {
            browser::call(&cb, &r);
        }
    }
}

pub fn is_initialised() -> bool {
    TRACKER.0.try_borrow().map(|t| t.is_some()).unwrap_or(true)
}

/// What `track` and friends pass in; JSON fragments come from `JSON.stringify`.
#[derive(Default)]
pub struct EventInput<'a> {
    pub kind: &'a str,
    pub properties_json: Option<&'a str>,
    pub entity_type: Option<&'a str>,
    pub entity_id: Option<&'a str>,
    pub duration_ms: Option<u64>,
    /// Other wire fields as a JSON object (status, conversation_id, …).
    pub extra_json: Option<&'a str>,
}

/// Long-lived JS functions (closures leaked on purpose: they live as long as the page).
struct Handlers {
    on_response: Function,
    on_flush_timer: Function,
    on_persist_timer: Function,
    on_retry_timer: Function,
    on_lock: Function,
}

pub struct Tracker {
    endpoint_url: String,
    write_key: String,
    flush_interval_ms: i32,
    track_page_views: bool,
    environment: Option<String>,
    pub before_send: Option<Function>,
    on_error: Option<Function>,
    debug: bool,

    queue: Queue,
    storage: Option<web_sys::Storage>,
    tab: String,
    anon_id: String,
    user_id: Option<String>,
    session: Option<Session>,
    session_synced_ms: u64,
    pool: RandomPool,
    uuids: UuidV7,

    context: Rc<str>,
    context_tail: String,
    /// URL (without a plain #anchor) of the last page view, so one route change
    /// is one page view however many history events announce it.
    page_key: String,
    href: String,

    opted_out: bool,
    /// Why tracking is off for this page (bot, Do Not Track), if it is.
    disabled: Option<&'static str>,

    in_flight: Option<Vec<u32>>,
    attempt: u32,
    retry_timer: Option<i32>,
    flush_timer: Option<i32>,
    persist_timer: Option<i32>,
    quota_full: bool,
    watched_tabs: Vec<String>,
    handlers: Option<Handlers>,
    reports: Vec<JsValue>,
}

fn fill_random(buf: &mut [u8]) {
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .is_some_and(|c| c.get_random_values_with_u8_array(buf).is_ok());
    if !filled {
        for b in buf.iter_mut() {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn get_string(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key).as_string().filter(|s| !s.is_empty())
}

fn get_uint(obj: &JsValue, key: &str, default: u64) -> u64 {
    match get(obj, key).as_f64() {
        Some(n) if (1.0..9e15).contains(&n) => n as u64,
        _ => default,
    }
}

fn get_bool(obj: &JsValue, key: &str, default: bool) -> bool {
    get(obj, key).as_bool().unwrap_or(default)
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

fn online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}

/// ASCII case-insensitive substring test (`needle` lowercase). Small on
/// purpose: `str::contains` brings a 2 KB two-way searcher into the wasm.
fn has_ci(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    n.is_empty()
        || h.windows(n.len())
            .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

fn device_type(ua: &str, touch_points: f64) -> &'static str {
    let has = |s: &str| has_ci(ua, s);
    if has("ipad")
        || has("tablet")
        || has("kindle")
        || has("silk/")
        || (has("android") && !has("mobile"))
        || (has("macintosh") && touch_points > 1.0)
    {
        "tablet"
    } else if has("mobi") || has("iphone") || has("ipod") || has("android") {
        "mobile"
    } else {
        "desktop"
    }
}

fn looks_like_bot(ua: &str, webdriver: bool) -> bool {
    webdriver
        || [
            "bot",
            "crawl",
            "spider",
            "slurp",
            "headlesschrome",
            "lighthouse",
            "phantomjs",
        ]
        .iter()
        .any(|s| has_ci(ua, s))
}

/// The URL as a page-view identity: a plain `#anchor` is the same page, a
/// hash route (`#/…`, `#!…`) is not.
fn page_key(href: &str) -> &str {
    match href.find('#') {
        Some(i) if !href[i..].starts_with("#/") && !href[i..].starts_with("#!") => &href[..i],
        _ => href,
    }
}

fn closure1(f: impl FnMut(JsValue) + 'static) -> Function {
    Closure::<dyn FnMut(JsValue)>::new(f)
        .into_js_value()
        .unchecked_into()
}

fn closure0(f: impl FnMut() + 'static) -> Function {
    Closure::<dyn FnMut()>::new(f)
        .into_js_value()
        .unchecked_into()
}

impl Tracker {
    /// Reads the options object (see the package README) and sets up a tracker
    /// without touching the page yet.
    fn new(options: &JsValue) -> Result<Tracker, &'static str> {
        let endpoint = get_string(options, "endpoint").ok_or("init: `endpoint` is required")?;
        let write_key = get_string(options, "writeKey").ok_or("init: `writeKey` is required")?;
        let window = web_sys::window().ok_or("init: no window")?;
        let navigator = window.navigator();
        let storage = window.local_storage().ok().flatten();
        let mut pool = RandomPool::new(fill_random);
        let tab = {
            let mut s = String::with_capacity(12);
            crate::json::push_hex(&mut s, &pool.take::<6>());
            s
        };
        let limits = Limits {
            batch_events: get_uint(options, "batchSize", 20) as usize,
            max_events: get_uint(options, "maxQueueEvents", 10_000) as usize,
            max_bytes: get_uint(options, "maxQueueBytes", 4_000_000) as usize,
            ..Limits::default()
        };
        let mut queue_prefix = String::from(QUEUE_PREFIX);
        queue_prefix.push_str(&tab);
        queue_prefix.push(':');

        let ua = navigator.user_agent().unwrap_or_default();
        let nav: &JsValue = navigator.as_ref();
        let touch_points = get(nav, "maxTouchPoints").as_f64().unwrap_or(0.0);
        let mut tail = String::with_capacity(400);
        tail.push(',');
        push_key(&mut tail, "user_agent");
        push_str(&mut tail, &ua);
        tail.push(',');
        push_key(&mut tail, "device_type");
        push_str(&mut tail, device_type(&ua, touch_points));
        tail.push(',');
        push_key(&mut tail, "locale");
        push_str(&mut tail, &navigator.language().unwrap_or_default());
        tail.push(',');
        push_key(&mut tail, "timezone");
        push_str(&mut tail, &browser::timezone());
        if let Ok(screen) = window.screen() {
            tail.push(',');
            push_key(&mut tail, "screen");
            tail.push_str("{\"width\":");
            push_uint(&mut tail, screen.width().unwrap_or(0).max(0) as u64, 1);
            tail.push_str(",\"height\":");
            push_uint(&mut tail, screen.height().unwrap_or(0).max(0) as u64, 1);
            tail.push('}');
        }
        tail.push_str(",\"library\":{\"name\":\"");
        tail.push_str(LIBRARY_NAME);
        tail.push_str("\",\"version\":\"");
        tail.push_str(LIBRARY_VERSION);
        tail.push_str("\"}}");

        let webdriver = get(nav, "webdriver").as_bool().unwrap_or(false);
        let dnt = ["doNotTrack"].iter().any(|k| {
            let v = get(nav, k);
            v.as_string().is_some_and(|s| s == "1" || s == "yes")
                || get(window.as_ref(), k)
                    .as_string()
                    .is_some_and(|s| s == "1")
        });
        let disabled = if get_bool(options, "skipBots", true) && looks_like_bot(&ua, webdriver) {
            Some("bot or automated browser detected (set skipBots: false to track anyway)")
        } else if get_bool(options, "respectDoNotTrack", false) && dnt {
            Some("Do Not Track is on")
        } else {
            None
        };

        let read = |k: &str| storage.as_ref().and_then(|s| s.get_item(k).ok().flatten());
        let opted_out = match read(KEY_OPT_OUT).as_deref() {
            Some("1") => true,
            Some("0") => false,
            _ => get_bool(options, "optOutByDefault", false),
        };
        let mut uuids = UuidV7::new();
        let anon_id = match read(KEY_ANON) {
            Some(id) if !id.is_empty() => id,
            _ => {
                let id = uuids.string(now(), &mut pool);
                if let Some(s) = &storage {
                    let _ = s.set_item(KEY_ANON, &id);
                }
                id
            }
        };
        let user_id = read(KEY_USER).filter(|u| !u.is_empty());

        let mut endpoint_url = endpoint.trim_end_matches('/').to_owned();
        endpoint_url.push_str("/v1/events");
        let on_error = get(options, "onError").dyn_into::<Function>().ok();
        let before_send = get(options, "beforeSend").dyn_into::<Function>().ok();
        let mut t = Tracker {
            endpoint_url,
            write_key,
            flush_interval_ms: get_uint(options, "flushIntervalMs", 3000).min(3_600_000) as i32,
            track_page_views: get_bool(options, "trackPageViews", true),
            environment: get_string(options, "environment"),
            before_send,
            on_error,
            debug: get_bool(options, "debug", false),
            queue: Queue::new(limits, queue_prefix),
            storage,
            tab,
            anon_id,
            user_id,
            session: None,
            session_synced_ms: 0,
            pool,
            uuids,
            context: Rc::from(""),
            context_tail: tail,
            page_key: String::new(),
            href: String::new(),
            opted_out,
            disabled,
            in_flight: None,
            attempt: 0,
            retry_timer: None,
            flush_timer: None,
            persist_timer: None,
            quota_full: false,
            watched_tabs: Vec::new(),
            handlers: None,
            reports: Vec::new(),
        };
        let referrer = web_sys::window()
            .and_then(|w| w.document())
            .map(|d| d.referrer())
            .unwrap_or_default();
        t.refresh_context(&referrer);
        Ok(t)
    }

    fn accepting(&self) -> bool {
        !self.opted_out && self.disabled.is_none()
    }

    // ---- events -------------------------------------------------------------

    fn refresh_context(&mut self, referrer: &str) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let location = window.location();
        let href = location.href().unwrap_or_default();
        let path = location.pathname().unwrap_or_default();
        let title = window.document().map(|d| d.title()).unwrap_or_default();
        let mut c = String::with_capacity(self.context_tail.len() + href.len() * 2 + 64);
        c.push_str("{\"page\":{\"url\":");
        push_str(&mut c, &href);
        c.push_str(",\"path\":");
        push_str(&mut c, &path);
        c.push_str(",\"title\":");
        push_str(&mut c, &title);
        c.push_str(",\"referrer\":");
        push_str(&mut c, referrer);
        c.push('}');
        c.push_str(&self.context_tail);
        self.context = Rc::from(c);
        self.href = href;
    }

    /// The session for an event at `now_ms`, shared with other tabs through
    /// storage (read at most once a second; written when it changes or ages).
    fn session_id(&mut self, now_ms: u64) -> String {
        if let Some(s) = self.session.as_mut() {
            if !s.expired(now_ms) && now_ms.saturating_sub(self.session_synced_ms) < SESSION_SYNC_MS
            {
                s.last_ms = s.last_ms.max(now_ms);
                return s.id.clone();
            }
        }
        let stored = self
            .storage
            .as_ref()
            .and_then(|st| st.get_item(KEY_SESSION).ok().flatten())
            .and_then(|v| Session::decode(&v));
        let (uuids, pool) = (&mut self.uuids, &mut self.pool);
        let s = Session::resolve(self.session.as_ref(), stored, now_ms, || {
            uuids.string(now_ms, pool)
        });
        if let Some(st) = &self.storage {
            let _ = st.set_item(KEY_SESSION, &s.encode());
        }
        self.session_synced_ms = now_ms;
        let id = s.id.clone();
        self.session = Some(s);
        id
    }

    /// Serializes an event (without checking whether tracking is on).
    pub fn build(&mut self, input: &EventInput) -> Result<QueuedEvent, &'static str> {
        if input.kind.is_empty() || input.kind.bytes().filter(|b| b & 0xc0 != 0x80).count() > 200 {
            return Err("event type must be 1 to 200 characters");
        }
        let now_ms = now();
        let session_id = self.session_id(now_ms);
        let mut s = String::with_capacity(
            224 + input.kind.len()
                + input.properties_json.map_or(0, str::len)
                + input.extra_json.map_or(0, str::len),
        );
        s.push_str("{\"event_id\":\"");
        self.uuids.push(&mut s, now_ms, &mut self.pool);
        s.push_str("\",\"type\":");
        push_str(&mut s, input.kind);
        s.push_str(",\"timestamp\":\"");
        push_rfc3339(&mut s, now_ms);
        s.push('"');
        let field = |s: &mut String, key: &str, value: Option<&str>| {
            if let Some(v) = value {
                s.push(',');
                push_key(s, key);
                push_str(s, v);
            }
        };
        field(&mut s, "user_id", self.user_id.as_deref());
        field(&mut s, "anonymous_id", Some(&self.anon_id));
        field(&mut s, "session_id", Some(&session_id));
        field(&mut s, "entity_type", input.entity_type);
        field(&mut s, "entity_id", input.entity_id);
        field(&mut s, "environment", self.environment.as_deref());
        if let Some(d) = input.duration_ms {
            s.push_str(",\"duration_ms\":");
            push_uint(&mut s, d, 1);
        }
        if let Some(extra) = input.extra_json {
            push_members(&mut s, extra);
        }
        if let Some(p) = input.properties_json {
            s.push_str(",\"properties\":");
            s.push_str(p);
        }
        Ok(QueuedEvent::new(s, Some(self.context.clone())))
    }

    /// Queues a built event; false (and a warning) if it is refused.
    pub fn enqueue(&mut self, ev: QueuedEvent, immediate: bool) -> bool {
        if !self.accepting() {
            return false;
        }
        if ev.wire_len() > MAX_EVENT_BYTES {
            warn("event refused: larger than 32 KiB once serialized");
            return false;
        }
        let closed = self.queue.push(ev);
        if !self.queue.removed_keys.is_empty() {
            self.sync_removals();
        }
        self.schedule_persist();
        if immediate {
            self.queue.close_open();
        } else if self.flush_timer.is_none() && self.queue.has_open_events() {
            self.flush_timer = self.set_timer(|h| &h.on_flush_timer, self.flush_interval_ms);
        }
        if closed || immediate {
            self.pump();
        }
        true
    }

    /// Builds an event if tracking is on; warns and gives None if it cannot.
    pub fn event(&mut self, input: &EventInput) -> Option<QueuedEvent> {
        if !self.accepting() {
            return None;
        }
        self.build(input).map_err(warn).ok()
    }

    /// The page-view event for the current URL (context refreshed first).
    pub fn page_event(&mut self, properties_json: Option<&str>) -> Option<QueuedEvent> {
        let referrer = if self.page_key.is_empty() {
            web_sys::window()
                .and_then(|w| w.document())
                .map(|d| d.referrer())
                .unwrap_or_default()
        } else {
            self.href.clone()
        };
        self.refresh_context(&referrer);
        self.page_key = page_key(&self.href).to_owned();
        self.event(&EventInput {
            kind: "page_view",
            properties_json,
            ..Default::default()
        })
    }

    /// History API navigation: one page view per new URL.
    pub fn route_change_event(&mut self) -> Option<QueuedEvent> {
        let href = web_sys::window()
            .and_then(|w| w.location().href().ok())
            .unwrap_or_default();
        if page_key(&href) == self.page_key || href == self.href {
            if href != self.href {
                let referrer = self.href.clone();
                self.refresh_context(&referrer);
            }
            return None;
        }
        if self.track_page_views {
            return self.page_event(None);
        }
        let referrer = self.href.clone();
        self.refresh_context(&referrer);
        self.page_key = page_key(&self.href).to_owned();
        None
    }

    /// Sets the user id (remembered) and gives the `identify` event carrying
    /// both ids, so the server can link the anonymous history to the user.
    pub fn identify_event(
        &mut self,
        user_id: &str,
        traits_json: Option<&str>,
    ) -> Option<QueuedEvent> {
        if user_id.is_empty() || user_id.len() > 256 {
            warn("identify: user id must be 1 to 256 bytes");
            return None;
        }
        if !self.accepting() {
            return None;
        }
        self.user_id = Some(user_id.to_owned());
        if let Some(st) = &self.storage {
            let _ = st.set_item(KEY_USER, user_id);
        }
        self.event(&EventInput {
            kind: "identify",
            properties_json: traits_json,
            ..Default::default()
        })
    }

    pub fn reset(&mut self) {
        let now_ms = now();
        self.anon_id = self.uuids.string(now_ms, &mut self.pool);
        self.user_id = None;
        let session = Session::new(self.uuids.string(now_ms, &mut self.pool), now_ms);
        if let Some(st) = &self.storage {
            let _ = st.set_item(KEY_ANON, &self.anon_id);
            let _ = st.remove_item(KEY_USER);
            let _ = st.set_item(KEY_SESSION, &session.encode());
        }
        self.session = Some(session);
        self.session_synced_ms = now_ms;
    }

    pub fn opt_out(&mut self) {
        self.opted_out = true;
        if let Some(st) = &self.storage {
            let _ = st.set_item(KEY_OPT_OUT, "1");
        }
        // Opting out also discards what was not sent yet.
        self.queue.clear();
        self.sync_removals();
    }

    pub fn opt_in(&mut self) {
        self.opted_out = false;
        if let Some(st) = &self.storage {
            let _ = st.set_item(KEY_OPT_OUT, "0");
        }
    }

    pub fn queue_size(&self) -> usize {
        self.queue.len()
    }

    pub fn stats(&self) -> JsValue {
        let o = Object::new();
        set(&o, "queued", &JsValue::from(self.queue.len() as u32));
        set(&o, "queuedBytes", &JsValue::from(self.queue.bytes() as u32));
        set(&o, "dropped", &JsValue::from(self.queue.dropped as f64));
        set(&o, "inFlight", &JsValue::from(self.in_flight.is_some()));
        set(
            &o,
            "retryScheduled",
            &JsValue::from(self.retry_timer.is_some()),
        );
        set(&o, "optedOut", &JsValue::from(self.opted_out));
        set(&o, "disabled", &JsValue::from(self.disabled.unwrap_or("")));
        set(&o, "tab", &JsValue::from_str(&self.tab));
        let memory = wasm_bindgen::memory();
        set(
            &o,
            "wasmMemoryBytes",
            &get(&get(&memory, "buffer"), "byteLength"),
        );
        set(&o, "anonymousId", &JsValue::from_str(&self.anon_id));
        if let Some(u) = &self.user_id {
            set(&o, "userId", &JsValue::from_str(u));
        }
        if let Some(s) = &self.session {
            set(&o, "sessionId", &JsValue::from_str(&s.id));
        }
        o.into()
    }

    // ---- timers -------------------------------------------------------------

    fn set_timer(&self, pick: impl Fn(&Handlers) -> &Function, ms: i32) -> Option<i32> {
        let f = pick(self.handlers.as_ref()?);
        web_sys::window()?
            .set_timeout_with_callback_and_timeout_and_arguments_0(f, ms)
            .ok()
    }

    fn clear_timer(timer: &mut Option<i32>) {
        if let (Some(id), Some(w)) = (timer.take(), web_sys::window()) {
            w.clear_timeout_with_handle(id);
        }
    }

    fn schedule_persist(&mut self) {
        if self.persist_timer.is_none() && self.storage.is_some() {
            self.persist_timer = self.set_timer(|h| &h.on_persist_timer, PERSIST_DELAY_MS);
        }
    }

    // ---- persistence --------------------------------------------------------

    /// Removes delivered or dropped batches from storage at once, so a reload
    /// can never send them again.
    fn sync_removals(&mut self) {
        let removed = core::mem::take(&mut self.queue.removed_keys);
        if let Some(st) = &self.storage {
            for k in &removed {
                let _ = st.remove_item(k);
            }
        }
    }

    /// Writes batches changed since the last pass: each one key, so the cost
    /// is what changed, never the whole queue.
    pub fn persist(&mut self) {
        Self::clear_timer(&mut self.persist_timer);
        self.sync_removals();
        let Some(st) = &self.storage else { return };
        self.quota_full = false;
        for b in self
            .queue
            .batches
            .iter_mut()
            .filter(|b| b.dirty && !b.events.is_empty())
        {
            match st.set_item(&b.name, &b.serialize()) {
                Ok(()) => {
                    b.dirty = false;
                    b.stored = true;
                }
                Err(e) => {
                    if browser::is_quota_error(&e) {
                        // Keep the events in memory; retry after deliveries free space.
                        if !self.quota_full {
                            warn("storage full: unsent events are kept in memory only for now");
                        }
                        self.quota_full = true;
                    }
                    break;
                }
            }
        }
    }

    // ---- sending ------------------------------------------------------------

    /// Starts the next request if nothing is in flight, no retry is pending and
    /// the browser is online.
    pub fn pump(&mut self) {
        if self.in_flight.is_some() || self.retry_timer.is_some() || !self.accepting() || !online()
        {
            return;
        }
        let Some(h) = &self.handlers else { return };
        let keys = self.queue.take_request(MAX_REQUEST_BYTES);
        if keys.is_empty() {
            return;
        }
        let body = write_body(self.queue.events_of(&keys), now(), &self.write_key);
        self.in_flight = Some(keys);
        browser::post(&self.endpoint_url, &body, false, &h.on_response);
    }

    pub fn flush(&mut self) {
        Self::clear_timer(&mut self.flush_timer);
        self.queue.close_open();
        self.pump();
    }

    fn on_response(&mut self, status: u16, text: &str, retry_after: &str) {
        let Some(keys) = self.in_flight.take() else {
            return;
        };
        match backoff::classify(status) {
            Outcome::Delivered => {
                self.attempt = 0;
                self.report_rejected(text);
                self.queue.complete(&keys);
                self.sync_removals();
                if self.quota_full {
                    self.persist();
                }
            }
            Outcome::Retry => {
                self.queue.release(&keys);
                let retry_after_ms = backoff::retry_after_seconds_ms(retry_after).or_else(|| {
                    let at = js_sys::Date::parse(retry_after);
                    (at.is_finite()).then(|| (at - now() as f64).max(0.0) as u64)
                });
                let delay = backoff::delay_ms(self.attempt, self.pool.next_u16(), retry_after_ms);
                self.attempt = self.attempt.saturating_add(1);
                if self.debug {
                    log_detail(
                        "debug",
                        "send failed, will retry; status and delay (ms):",
                        status,
                        delay,
                    );
                }
                self.retry_timer = self.set_timer(|h| &h.on_retry_timer, delay as i32);
                return;
            }
            Outcome::Drop => {
                let events = self.queue.events_of(&keys).count();
                self.queue.complete(&keys);
                self.sync_removals();
                let error = browser::json_parse(text);
                let error = get(&error, "error");
                let o = Object::new();
                set(&o, "code", &get(&error, "code"));
                set(&o, "message", &get(&error, "message"));
                set(&o, "status", &JsValue::from(status));
                set(&o, "events", &JsValue::from(events as u32));
                browser::log("warn", "events dropped: the server refused them", &o);
                self.reports.push(o.into());
            }
        }
        self.pump();
    }

    fn report_rejected(&mut self, text: &str) {
        if !has_ci(text, "\"rejected\"") {
            return;
        }
        let body = browser::json_parse(text);
        let Ok(rejected) = get(&body, "rejected").dyn_into::<js_sys::Array>() else {
            return;
        };
        for item in rejected.iter() {
            let o = Object::new();
            set(&o, "code", &JsValue::from_str("rejected"));
            set(&o, "message", &get(&item, "error"));
            set(&o, "status", &JsValue::from(200));
            set(&o, "eventId", &get(&item, "event_id"));
            set(&o, "index", &get(&item, "index"));
            browser::log("warn", "event rejected by the server", &o);
            self.reports.push(o.into());
        }
    }

    fn on_online(&mut self) {
        Self::clear_timer(&mut self.retry_timer);
        self.attempt = 0;
        self.scan_other_tabs();
        self.pump();
    }

    /// pagehide / visibilitychange→hidden: send what is queued with beacons,
    /// then store what is left. Offline, beacons are accepted and then lost,
    /// so nothing is beaconed and everything stays stored.
    pub fn on_hide(&mut self) {
        Self::clear_timer(&mut self.flush_timer);
        self.queue.close_open();
        if online() && self.accepting() {
            self.send_beacons();
        }
        self.persist();
    }

    fn send_beacons(&mut self) {
        loop {
            let keys = self.queue.take_request(MAX_REQUEST_BYTES);
            if keys.is_empty() {
                break;
            }
            let events: Vec<&QueuedEvent> = self.queue.events_of(&keys).collect();
            let mut accepted = vec![false; events.len()];
            let mut state = BeaconState::Sending;
            beacon_range(
                &self.endpoint_url,
                &self.write_key,
                &events,
                0,
                &mut accepted,
                &mut state,
            );
            drop(events);
            match state {
                BeaconState::Sending => self.queue.complete(&keys),
                BeaconState::Refused => {
                    // Over the browser's beacon quota: keep the rest stored.
                    self.queue.complete_some(&keys, &accepted);
                    break;
                }
                BeaconState::Unavailable => {
                    self.queue.complete_some(&keys, &accepted);
                    // No sendBeacon: fetch with keepalive. Its answer may never be
                    // seen, so the events stay stored until it is (at-least-once).
                    if self.in_flight.is_none() {
                        let keys = self.queue.take_request(MAX_REQUEST_BYTES);
                        if let (false, Some(h)) = (keys.is_empty(), &self.handlers) {
                            let body =
                                write_body(self.queue.events_of(&keys), now(), &self.write_key);
                            self.in_flight = Some(keys);
                            browser::post(&self.endpoint_url, &body, true, &h.on_response);
                        }
                    }
                    break;
                }
            }
        }
        self.sync_removals();
    }

    // ---- tabs ---------------------------------------------------------------

    /// Each tab holds the Web Lock `pulse:tab:<id>` while it lives. A tab that
    /// finds another tab's queue in storage waits for that tab's lock: it is
    /// granted only when that tab is gone, to exactly one waiter, which then
    /// sends the orphaned batches and keeps the lock so no one else ever does.
    fn on_lock_granted(&mut self, name: &str) {
        let Some(id) = name.strip_prefix(TAB_PREFIX) else {
            return;
        };
        if id == self.tab {
            if let Some(st) = &self.storage {
                let _ = st.set_item(name, "1");
            }
            self.scan_other_tabs();
        } else {
            self.adopt(id);
        }
    }

    fn scan_other_tabs(&mut self) {
        let Some(st) = self.storage.clone() else {
            return;
        };
        for key in browser::storage_keys(st.as_ref(), "pulse:") {
            let id = if let Some(rest) = key.strip_prefix(TAB_PREFIX) {
                rest
            } else if let Some(rest) = key.strip_prefix(QUEUE_PREFIX) {
                rest.split(':').next().unwrap_or("")
            } else {
                continue;
            };
            self.watch_tab(id);
        }
    }

    fn watch_tab(&mut self, id: &str) {
        if id.is_empty() || id == self.tab || self.watched_tabs.iter().any(|t| t == id) {
            return;
        }
        self.watched_tabs.push(id.to_owned());
        let Some(h) = &self.handlers else { return };
        let mut name = String::from(TAB_PREFIX);
        name.push_str(id);
        if !browser::hold_lock(&name, &h.on_lock) {
            // No Web Locks: assume one tab at a time and take the queue now.
            self.adopt(id);
        }
    }

    fn adopt(&mut self, id: &str) {
        let Some(st) = self.storage.clone() else {
            return;
        };
        let mut prefix = String::from(QUEUE_PREFIX);
        prefix.push_str(id);
        prefix.push(':');
        let mut keys: Vec<(u64, String)> = browser::storage_keys(st.as_ref(), &prefix)
            .into_iter()
            .filter_map(|k| Some((crate::json::parse_uint(&k[prefix.len()..])?, k)))
            .collect();
        // Insertion sort: a handful of keys, and core's sort is 2 KB of wasm.
        for i in 1..keys.len() {
            let mut j = i;
            while j > 0 && keys[j - 1].0 > keys[j].0 {
                keys.swap(j - 1, j);
                j -= 1;
            }
        }
        let batches: Vec<(String, Vec<QueuedEvent>)> = keys
            .into_iter()
            .filter_map(|(_, k)| {
                let text = st.get_item(&k).ok().flatten()?;
                Some((k, crate::queue::Batch::deserialize(&text)))
            })
            .collect();
        let mut presence = String::from(TAB_PREFIX);
        presence.push_str(id);
        let _ = st.remove_item(&presence);
        if batches.is_empty() {
            return;
        }
        if self.accepting() {
            self.queue.adopt_front(batches);
        } else {
            self.queue
                .removed_keys
                .extend(batches.into_iter().map(|(k, _)| k));
        }
        self.sync_removals();
        self.pump();
    }
}

#[derive(PartialEq, Eq)]
enum BeaconState {
    Sending,
    Refused,
    Unavailable,
}

/// Beacons `events` as one body; when the browser refuses it, halves it and
/// tries each half, down to single events. Marks what was accepted.
fn beacon_range(
    url: &str,
    write_key: &str,
    events: &[&QueuedEvent],
    offset: usize,
    accepted: &mut [bool],
    state: &mut BeaconState,
) {
    if *state != BeaconState::Sending || events.is_empty() {
        return;
    }
    let body = write_body(events.iter().copied(), now(), write_key);
    match browser::beacon(url, &body) {
        1 => accepted[offset..offset + events.len()].fill(true),
        0 if events.len() > 1 => {
            let mid = events.len() / 2;
            beacon_range(url, write_key, &events[..mid], offset, accepted, state);
            beacon_range(
                url,
                write_key,
                &events[mid..],
                offset + mid,
                accepted,
                state,
            );
        }
        0 => *state = BeaconState::Refused,
        _ => *state = BeaconState::Unavailable,
    }
}

fn log_detail(level: &str, msg: &str, a: u16, b: u64) {
    let arr = js_sys::Array::of2(&JsValue::from(a), &JsValue::from(b as f64));
    browser::log(level, msg, &arr);
}

/// Creates the tracker and hooks it into the page. False when the options are
/// unusable (with a console message saying why).
pub fn init(options: &JsValue) -> bool {
    if is_initialised() {
        warn("init called twice: the first configuration stays");
        return true;
    }
    let tracker = match Tracker::new(options) {
        Ok(t) => t,
        Err(e) => {
            browser::log("error", e, &JsValue::UNDEFINED);
            return false;
        }
    };
    if let Some(reason) = tracker.disabled {
        browser::log("info", "tracking disabled:", &JsValue::from_str(reason));
    }
    match TRACKER.0.try_borrow_mut() {
        Ok(mut cell) => *cell = Some(tracker),
        Err(_) => return false,
    }

    let handlers = Handlers {
        on_response: Closure::<dyn FnMut(u16, String, String)>::new(
            |status, text: String, ra: String| {
                with(|t| t.on_response(status, &text, &ra));
            },
        )
        .into_js_value()
        .unchecked_into(),
        on_flush_timer: closure0(|| {
            with(|t| {
                t.flush_timer = None;
                t.queue.close_open();
                t.pump();
            });
        }),
        on_persist_timer: closure0(|| {
            with(|t| {
                t.persist_timer = None;
                t.persist();
            });
        }),
        on_retry_timer: closure0(|| {
            with(|t| {
                t.retry_timer = None;
                t.pump();
            });
        }),
        on_lock: closure1(|name| {
            let name = name.as_string().unwrap_or_default();
            with(|t| t.on_lock_granted(&name));
        }),
    };
    let Some(window) = web_sys::window() else {
        return false;
    };
    let win: &JsValue = window.as_ref();
    browser::listen(
        win,
        "online",
        &closure0(|| {
            with(Tracker::on_online);
        }),
    );
    browser::listen(
        win,
        "pagehide",
        &closure0(|| {
            with(Tracker::on_hide);
        }),
    );
    if let Some(doc) = window.document() {
        browser::listen(
            doc.as_ref(),
            "visibilitychange",
            &closure0(|| {
                let hidden = web_sys::window()
                    .and_then(|w| w.document())
                    .map(|d| get(d.as_ref(), "visibilityState"))
                    .and_then(|v| v.as_string())
                    .is_some_and(|v| v == "hidden");
                with(|t| if hidden { t.on_hide() } else { t.pump() });
            }),
        );
    }
    browser::listen(
        win,
        "storage",
        &closure1(|e| {
            let key = get(&e, "key").as_string().unwrap_or_default();
            let has_value = !get(&e, "newValue").is_null();
            with(|t| {
                if let Some(id) = key.strip_prefix(TAB_PREFIX) {
                    if has_value {
                        t.watch_tab(id);
                    }
                } else if key == KEY_OPT_OUT {
                    let v = get(&e, "newValue").as_string();
                    t.opted_out = v.as_deref() == Some("1");
                }
            });
        }),
    );
    browser::hook_history(&closure0(|| {
        submit(with(Tracker::route_change_event).flatten(), false);
    }));

    let own_lock = with(|t| {
        let mut name = String::from(TAB_PREFIX);
        name.push_str(&t.tab);
        let held = browser::hold_lock(&name, &handlers.on_lock);
        t.handlers = Some(handlers);
        held
    })
    .unwrap_or(false);
    with(|t| {
        if !own_lock {
            t.scan_other_tabs();
        }
    });
    if with(|t| t.track_page_views).unwrap_or(false) {
        submit(with(|t| t.page_event(None)).flatten(), false);
    }
    true
}

/// Queues an event built by the tracker, after the `beforeSend` hook (run with
/// no tracker state borrowed, so the hook may call the tracker) saw it.
pub fn submit(event: Option<QueuedEvent>, immediate: bool) -> bool {
    let Some(event) = event else { return false };
    let hook = with(|t| t.before_send.clone()).flatten();
    let event = match hook {
        None => event,
        Some(hook) => {
            let mut json = String::new();
            event.write_json(&mut json);
            let result = browser::call(&hook, &browser::json_parse(&json));
            if result.is_null() || result.is_undefined() || result == JsValue::FALSE {
                return false;
            }
            let Some(json) = browser::json_stringify(&result) else {
                return false;
            };
            QueuedEvent::new(json, None)
        }
    };
    with(|t| t.enqueue(event, immediate)).unwrap_or(false)
}
