//! The tracker: builds events, keeps the queue durable, owns it per tab, sends.
use crate::json::Append;
use alloc::borrow::ToOwned;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use crate::backoff::{self, Outcome};
use crate::browser::{host, now, warn};
use crate::ids::{Fill, RandomPool, UuidV7};
use crate::json::{fields, push_key, push_members, push_str, push_uint, sub};
use crate::queue::{write_body, Limits, Queue, QueuedEvent, MAX_EVENT_BYTES, MAX_REQUEST_BYTES};
use crate::session::Session;
use crate::time::push_rfc3339;

pub const LIBRARY_NAME: &str = "pulse-wasm";
pub const LIBRARY_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Unsaved events reach storage this long after the first of them (lazy
/// persistence: a burst of track() calls costs one storage pass, not one per call).
const PERSIST_DELAY_MS: u32 = 1000;
/// Tabs re-read the shared session at most this often.
const SESSION_SYNC_MS: u64 = 1000;

const KEY_ANON: &str = "pulse:anon";
const KEY_USER: &str = "pulse:uid";
const KEY_SESSION: &str = "pulse:session";
const KEY_OPT_OUT: &str = "pulse:optout";
/// `pulse_response` results besides a count of dropped events.
pub const RESPONSE_NONE: i32 = -1;
pub const RESPONSE_DELIVERED: i32 = -2;

const QUEUE_PREFIX: &str = "pulse:q:";

/// The one tracker of the page. wasm32 without threads: a plain static.
struct Global(RefCell<Option<Tracker>>);
// SAFETY: the wasm module runs on one thread (no shared memory, no workers).
unsafe impl Sync for Global {}
static TRACKER: Global = Global(RefCell::new(None));

/// Runs `f` on the tracker if there is one and it is not already in use (a user
/// callback calling back into the tracker is ignored rather than panicking).
pub fn with<R>(f: impl FnOnce(&mut Tracker) -> R) -> Option<R> {
    match TRACKER.0.try_borrow_mut() {
        Ok(mut guard) => guard.as_mut().map(f),
        Err(_) => {
            warn("call ignored: the tracker is busy (called from one of its own callbacks?)");
            None
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

/// Timer kinds (`pulse_timer(kind)`).
pub const TIMER_FLUSH: u32 = 0;
pub const TIMER_PERSIST: u32 = 1;
pub const TIMER_RETRY: u32 = 2;

/// Option flags (`pulse_init`), set by the JS front from the options object.
pub const OPT_TRACK_PAGE_VIEWS: u32 = 1;
pub const OPT_OUT_BY_DEFAULT: u32 = 2;
pub const OPT_BEFORE_SEND: u32 = 16;
pub const OPT_DEBUG: u32 = 32;

/// The options object, as the JS front passes it (numbers not given are NaN).
pub struct Options {
    pub endpoint: Option<String>,
    pub write_key: Option<String>,
    pub batch_size: f64,
    pub flush_interval_ms: f64,
    pub max_queue_events: f64,
    pub max_queue_bytes: f64,
    pub environment: Option<String>,
    pub flags: u32,
    /// The browser part of the event context, as a JSON object (user agent,
    /// device type, locale, time zone, screen), read by the JS front.
    pub env_json: String,
    /// Why tracking is off for this page (a bot, Do Not Track), if it is.
    pub disabled: Option<String>,
}

pub struct Tracker {
    endpoint_url: String,
    write_key: String,
    flush_interval_ms: u32,
    pub track_page_views: bool,
    environment: Option<String>,
    pub before_send: bool,
    debug: bool,

    queue: Queue,
    storage: Option<web_sys::Storage>,
    tab: String,
    anon_id: String,
    user_id: Option<String>,
    session: Option<Session>,
    session_synced_ms: u64,
    pool: RandomPool<HostRandom>,
    uuids: UuidV7,

    context: Rc<String>,
    context_tail: String,
    /// URL (without a plain #anchor) of the last page view, so one route change
    /// is one page view however many history events announce it.
    page_key: String,
    href: String,

    pub opted_out: bool,
    /// Why tracking is off for this page (bot, Do Not Track), if it is.
    disabled: Option<String>,

    in_flight: Option<Vec<u32>>,
    attempt: u32,
    retry_timer: Option<i32>,
    flush_timer: Option<i32>,
    persist_timer: Option<i32>,
    quota_full: bool,
}

/// `crypto.getRandomValues` through the host.
pub struct HostRandom;

impl Fill for HostRandom {
    fn fill(buf: &mut [u8]) {
        host().fill(buf);
    }
}

fn uint_or(n: f64, default: u64) -> u64 {
    if (1.0..9e15).contains(&n) {
        n as u64
    } else {
        default
    }
}

fn storage_get(st: &web_sys::Storage, key: &str) -> Option<String> {
    st.get_item(key).ok().flatten()
}

fn storage_set(st: &web_sys::Storage, key: &str, value: &str) {
    let _ = st.set_item(key, value);
}

fn storage_remove(st: &web_sys::Storage, key: &str) {
    let _ = st.remove_item(key);
}

/// The URL as a page-view identity: a plain `#anchor` is the same page, a
/// hash route (`#/…`, `#!…`) is not.
fn page_key(href: &str) -> &str {
    match href.bytes().position(|b| b == b'#') {
        Some(i) if !matches!(href.as_bytes().get(i + 1), Some(b'/' | b'!')) => sub(href, 0, i),
        _ => href,
    }
}

/// The current page: `href`, `pathname`, `title`, `referrer`.
struct PageInfo {
    text: String,
}

impl PageInfo {
    fn read() -> PageInfo {
        PageInfo {
            text: host().page(),
        }
    }

    fn field(&self, i: usize) -> &str {
        fields(&self.text, b'\n').nth(i).unwrap_or("")
    }
}

impl Tracker {
    /// Reads the options (see the package README) and sets up a tracker
    /// without touching the page yet.
    fn new(options: Options) -> Result<Tracker, &'static str> {
        let endpoint = options
            .endpoint
            .filter(|s| !s.is_empty())
            .ok_or("init: `endpoint` is required")?;
        let write_key = options
            .write_key
            .filter(|s| !s.is_empty())
            .ok_or("init: `writeKey` is required")?;
        let flag = |f: u32| options.flags & f != 0;
        let h = host();
        let storage = h.storage();
        let mut pool = RandomPool::new();
        let tab = {
            let mut s = String::with_capacity(12);
            crate::json::push_hex(&mut s, &pool.take::<6>());
            s
        };
        let limits = Limits {
            batch_events: uint_or(options.batch_size, 20) as usize,
            max_events: uint_or(options.max_queue_events, 10_000) as usize,
            max_bytes: uint_or(options.max_queue_bytes, 4_000_000) as usize,
            ..Limits::default()
        };
        let mut queue_prefix = String::from(QUEUE_PREFIX);
        queue_prefix.append(&tab);
        queue_prefix.push(':');

        let mut tail = String::with_capacity(400);
        push_members(&mut tail, &options.env_json);
        tail.append(",\"library\":{\"name\":\"");
        tail.append(LIBRARY_NAME);
        tail.append("\",\"version\":\"");
        tail.append(LIBRARY_VERSION);
        tail.append("\"}}");

        let read = |k: &str| storage.as_ref().and_then(|s| storage_get(s, k));
        let opted_out = match read(KEY_OPT_OUT).as_deref() {
            Some("1") => true,
            Some("0") => false,
            _ => flag(OPT_OUT_BY_DEFAULT),
        };
        let mut uuids = UuidV7::new();
        let anon_id = match read(KEY_ANON) {
            Some(id) if !id.is_empty() => id,
            _ => {
                let id = uuids.string(now(), &mut pool);
                if let Some(s) = &storage {
                    storage_set(s, KEY_ANON, &id);
                }
                id
            }
        };
        let user_id = read(KEY_USER).filter(|u| !u.is_empty());

        let end = endpoint
            .bytes()
            .rposition(|b| b != b'/')
            .map_or(0, |i| i + 1);
        let mut endpoint_url = sub(&endpoint, 0, end).to_owned();
        endpoint_url.append("/v1/events");
        let mut t = Tracker {
            endpoint_url,
            write_key,
            flush_interval_ms: uint_or(options.flush_interval_ms, 3000).min(3_600_000) as u32,
            track_page_views: flag(OPT_TRACK_PAGE_VIEWS),
            environment: options.environment.filter(|s| !s.is_empty()),
            before_send: flag(OPT_BEFORE_SEND),
            debug: flag(OPT_DEBUG),
            queue: Queue::new(limits, queue_prefix),
            storage,
            tab,
            anon_id,
            user_id,
            session: None,
            session_synced_ms: 0,
            pool,
            uuids,
            context: Rc::new(String::new()),
            context_tail: tail,
            page_key: String::new(),
            href: String::new(),
            opted_out,
            disabled: options.disabled.filter(|d| !d.is_empty()),
            in_flight: None,
            attempt: 0,
            retry_timer: None,
            flush_timer: None,
            persist_timer: None,
            quota_full: false,
        };
        let page = PageInfo::read();
        t.refresh_context(&page, page.field(3));
        Ok(t)
    }

    fn accepting(&self) -> bool {
        !self.opted_out && self.disabled.is_none()
    }

    // ---- events -------------------------------------------------------------

    fn refresh_context(&mut self, page: &PageInfo, referrer: &str) {
        let href = page.field(0);
        let path = page.field(1);
        let title = page.field(2);
        let mut c = String::with_capacity(self.context_tail.len() + href.len() * 2 + 64);
        c.append("{\"page\":{\"url\":");
        push_str(&mut c, href);
        c.append(",\"path\":");
        push_str(&mut c, path);
        c.append(",\"title\":");
        push_str(&mut c, title);
        c.append(",\"referrer\":");
        push_str(&mut c, referrer);
        c.push('}');
        c.append(&self.context_tail);
        self.context = Rc::new(c);
        self.href = href.to_owned();
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
            .and_then(|st| storage_get(st, KEY_SESSION))
            .and_then(|v| Session::decode(&v));
        let (uuids, pool) = (&mut self.uuids, &mut self.pool);
        let s = Session::resolve(self.session.as_ref(), stored, now_ms, || {
            uuids.string(now_ms, pool)
        });
        if let Some(st) = &self.storage {
            storage_set(st, KEY_SESSION, &s.encode());
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
        s.append("{\"event_id\":\"");
        self.uuids.push(&mut s, now_ms, &mut self.pool);
        s.append("\",\"type\":");
        push_str(&mut s, input.kind);
        s.append(",\"timestamp\":\"");
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
            s.append(",\"duration_ms\":");
            push_uint(&mut s, d, 1);
        }
        if let Some(extra) = input.extra_json {
            push_members(&mut s, extra);
        }
        if let Some(p) = input.properties_json {
            s.append(",\"properties\":");
            s.append(p);
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
            self.flush_timer = Some(host().timer(TIMER_FLUSH, self.flush_interval_ms));
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
        let page = PageInfo::read();
        let referrer = if self.page_key.is_empty() {
            page.field(3).to_owned()
        } else {
            self.href.clone()
        };
        self.refresh_context(&page, &referrer);
        self.page_key = page_key(&self.href).to_owned();
        self.event(&EventInput {
            kind: "page_view",
            properties_json,
            ..Default::default()
        })
    }

    /// History API navigation: one page view per new URL.
    pub fn route_change_event(&mut self) -> Option<QueuedEvent> {
        let page = PageInfo::read();
        let href = page.field(0);
        if page_key(href) == self.page_key || href == self.href {
            if href != self.href {
                let referrer = self.href.clone();
                self.refresh_context(&page, &referrer);
            }
            return None;
        }
        if self.track_page_views {
            return self.page_event(None);
        }
        let referrer = self.href.clone();
        self.refresh_context(&page, &referrer);
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
            storage_set(st, KEY_USER, user_id);
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
            storage_set(st, KEY_ANON, &self.anon_id);
            storage_remove(st, KEY_USER);
            storage_set(st, KEY_SESSION, &session.encode());
        }
        self.session = Some(session);
        self.session_synced_ms = now_ms;
    }

    pub fn opt_out(&mut self) {
        self.opted_out = true;
        if let Some(st) = &self.storage {
            storage_set(st, KEY_OPT_OUT, "1");
        }
        // Opting out also discards what was not sent yet.
        self.queue.clear();
        self.sync_removals();
    }

    pub fn opt_in(&mut self) {
        self.opted_out = false;
        if let Some(st) = &self.storage {
            storage_set(st, KEY_OPT_OUT, "0");
        }
    }

    pub fn queue_size(&self) -> usize {
        self.queue.len()
    }

    /// Counters and ids as a JSON object (the JS front adds the rest).
    pub fn stats(&self) -> String {
        let mut s = String::with_capacity(256);
        s.append("{\"queued\":");
        push_uint(&mut s, self.queue.len() as u64, 1);
        s.append(",\"queuedBytes\":");
        push_uint(&mut s, self.queue.bytes() as u64, 1);
        s.append(",\"dropped\":");
        push_uint(&mut s, self.queue.dropped, 1);
        let flag = |s: &mut String, key: &str, on: bool| {
            s.push(',');
            push_key(s, key);
            s.append(if on { "true" } else { "false" });
        };
        flag(&mut s, "inFlight", self.in_flight.is_some());
        flag(&mut s, "retryScheduled", self.retry_timer.is_some());
        flag(&mut s, "optedOut", self.opted_out);
        let field = |s: &mut String, key: &str, value: Option<&str>| {
            if let Some(v) = value {
                s.push(',');
                push_key(s, key);
                push_str(s, v);
            }
        };
        field(
            &mut s,
            "disabled",
            Some(self.disabled.as_deref().unwrap_or("")),
        );
        field(&mut s, "tab", Some(&self.tab));
        field(&mut s, "anonymousId", Some(&self.anon_id));
        field(&mut s, "userId", self.user_id.as_deref());
        field(
            &mut s,
            "sessionId",
            self.session.as_ref().map(|x| x.id.as_str()),
        );
        s.push('}');
        s
    }

    // ---- timers -------------------------------------------------------------

    fn clear_timer(timer: &mut Option<i32>) {
        if let Some(id) = timer.take() {
            host().clear(id);
        }
    }

    fn schedule_persist(&mut self) {
        if self.persist_timer.is_none() && self.storage.is_some() {
            self.persist_timer = Some(host().timer(TIMER_PERSIST, PERSIST_DELAY_MS));
        }
    }

    // ---- persistence --------------------------------------------------------

    /// Removes delivered or dropped batches from storage at once, so a reload
    /// can never send them again.
    fn sync_removals(&mut self) {
        let removed = core::mem::take(&mut self.queue.removed_keys);
        if let Some(st) = &self.storage {
            for k in &removed {
                storage_remove(st, k);
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
                    if host().quota(&e) {
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
        if self.in_flight.is_some()
            || self.retry_timer.is_some()
            || !self.accepting()
            || !host().online()
        {
            return;
        }
        let keys = self.queue.take_request(MAX_REQUEST_BYTES);
        if keys.is_empty() {
            return;
        }
        let body = write_body(self.queue.events_of(&keys), now(), &self.write_key);
        self.in_flight = Some(keys);
        host().post(&self.endpoint_url, &body, false);
    }

    pub fn flush(&mut self) {
        Self::clear_timer(&mut self.flush_timer);
        self.queue.close_open();
        self.pump();
    }

    /// The answer to the request in flight. Gives what the JS front reports:
    /// `RESPONSE_DELIVERED` (it reads the `rejected` list), the number of
    /// events dropped for good (`>= 0`), or `RESPONSE_NONE`.
    pub fn on_response(&mut self, status: u16, retry_after: &str) -> i32 {
        let Some(keys) = self.in_flight.take() else {
            return RESPONSE_NONE;
        };
        let result = match backoff::classify(status) {
            Outcome::Delivered => {
                self.attempt = 0;
                self.queue.complete(&keys);
                self.sync_removals();
                if self.quota_full {
                    self.persist();
                }
                RESPONSE_DELIVERED
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
                    let mut msg = String::from("send failed (status ");
                    push_uint(&mut msg, u64::from(status), 1);
                    msg.append("), retrying in ms: ");
                    push_uint(&mut msg, delay, 1);
                    host().log("debug", &msg);
                }
                self.retry_timer = Some(host().timer(TIMER_RETRY, delay as u32));
                return RESPONSE_NONE;
            }
            Outcome::Drop => {
                let events = self.queue.events_of(&keys).count();
                self.queue.complete(&keys);
                self.sync_removals();
                events as i32
            }
        };
        self.pump();
        result
    }

    pub fn on_timer(&mut self, kind: u32) {
        match kind {
            TIMER_FLUSH => {
                self.flush_timer = None;
                self.queue.close_open();
                self.pump();
            }
            TIMER_PERSIST => {
                self.persist_timer = None;
                self.persist();
            }
            _ => {
                self.retry_timer = None;
                self.pump();
            }
        }
    }

    /// Another tab opted out or in.
    pub fn on_opt_out_changed(&mut self, opted_out: bool) {
        self.opted_out = opted_out;
    }

    pub fn on_online(&mut self) {
        Self::clear_timer(&mut self.retry_timer);
        self.attempt = 0;
        self.pump();
    }

    /// pagehide / visibilitychange→hidden: send what is queued with beacons,
    /// then store what is left. Offline, beacons are accepted and then lost,
    /// so nothing is beaconed and everything stays stored.
    pub fn on_hide(&mut self) {
        Self::clear_timer(&mut self.flush_timer);
        self.queue.close_open();
        if host().online() && self.accepting() {
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
                        if !keys.is_empty() {
                            let body =
                                write_body(self.queue.events_of(&keys), now(), &self.write_key);
                            self.in_flight = Some(keys);
                            host().post(&self.endpoint_url, &body, true);
                        }
                    }
                    break;
                }
            }
        }
        self.sync_removals();
    }

    // ---- tabs ---------------------------------------------------------------

    /// Takes over the queue another tab left behind. The JS front owns the
    /// tabs: each holds the Web Lock `pulse:tab:<id>` while it lives, and a
    /// tab that finds another tab's batches in storage waits for that tab's
    /// lock, which is granted only when that tab is gone and to exactly one
    /// waiter; that one reads the batches (oldest first) and hands them over
    /// here as `name \x01 text \x01 name \x01 text …`.
    pub fn adopt(&mut self, data: &str) {
        let mut parts = fields(data, 1);
        let mut batches: Vec<(String, Vec<QueuedEvent>)> = Vec::new();
        while let (Some(name), Some(text)) = (parts.next(), parts.next()) {
            batches.push((name.to_owned(), crate::queue::Batch::deserialize(text)));
        }
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
    match host().beacon(url, &body) {
        1 => accepted
            .iter_mut()
            .skip(offset)
            .take(events.len())
            .for_each(|a| *a = true),
        0 if events.len() > 1 => {
            let mid = events.len() / 2;
            let (first, second) = events.split_at(mid);
            beacon_range(url, write_key, first, offset, accepted, state);
            beacon_range(url, write_key, second, offset + mid, accepted, state);
        }
        0 => *state = BeaconState::Refused,
        _ => *state = BeaconState::Unavailable,
    }
}

/// Creates the tracker and hands this tab's id to `Host::out` (the JS front
/// takes the tab's Web Lock with it). False when the options are unusable
/// (with a console message saying why).
pub fn init(options: Options) -> bool {
    if is_initialised() {
        warn("init called twice: the first configuration stays");
        return false;
    }
    let tracker = match Tracker::new(options) {
        Ok(t) => t,
        Err(e) => {
            host().log("error", e);
            return false;
        }
    };
    host().out(&tracker.tab);
    match TRACKER.0.try_borrow_mut() {
        Ok(mut cell) => *cell = Some(tracker),
        Err(_) => return false,
    }
    if with(|t| t.track_page_views).unwrap_or(false) {
        submit(with(|t| t.page_event(None)).flatten(), false);
    }
    true
}

/// Queues an event built by the tracker, after the `beforeSend` hook (run with
/// no tracker state borrowed, so the hook may call the tracker) saw it.
pub fn submit(event: Option<QueuedEvent>, immediate: bool) -> bool {
    let Some(event) = event else { return false };
    let event = if with(|t| t.before_send).unwrap_or(false) {
        let mut json = String::new();
        event.write_json(&mut json);
        // The hook runs with no tracker state borrowed: it may call the tracker.
        let Some(json) = host().hook(&json) else {
            return false;
        };
        QueuedEvent::new(json, None)
    } else {
        event
    };
    with(|t| t.enqueue(event, immediate)).unwrap_or(false)
}
