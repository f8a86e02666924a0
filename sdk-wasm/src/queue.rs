//! The unsent-event queue: events grouped into batches that close on count or
//! bytes (the tracker closes them on time too), bounded in events and bytes by
//! dropping the oldest, and the unit of both persistence (one storage key per
//! batch) and delivery (a request carries one or more whole batches).
use crate::json::Append;
use alloc::borrow::ToOwned;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

/// A request body must stay under this, so any request also fits a beacon (64 KiB).
pub const MAX_REQUEST_BYTES: usize = 60_000;
/// Room kept for `{"events":[`, `sent_at` and `write_key` around the events.
pub const ENVELOPE_BYTES: usize = 512;
/// One serialized event may not be larger than this (checked at `track`).
pub const MAX_EVENT_BYTES: usize = 32 * 1024;
const CONTEXT_KEY: &str = ",\"context\":";

/// One event, serialized. Most events share their page context with their
/// neighbours, so the context is kept once (`Rc`) and spliced in when a body
/// is written: it keeps memory and storage at about half of the wire size.
#[derive(Clone, Debug)]
pub struct QueuedEvent {
    /// With `context`: the event JSON without its closing brace.
    /// Without: the whole event JSON.
    pub head: String,
    pub context: Option<Rc<String>>,
}

impl QueuedEvent {
    pub fn new(head: String, context: Option<Rc<String>>) -> Self {
        QueuedEvent { head, context }
    }

    /// Bytes this event adds to a request body (with its separating comma).
    pub fn wire_len(&self) -> usize {
        1 + self.head.len()
            + self
                .context
                .as_ref()
                .map_or(0, |c| CONTEXT_KEY.len() + c.len() + 1)
    }

    /// Bytes this event counts against the queue's byte bound (what is stored).
    pub fn stored_len(&self) -> usize {
        self.head.len() + 2
    }

    pub fn write_json(&self, out: &mut String) {
        out.append(&self.head);
        if let Some(c) = &self.context {
            out.append(CONTEXT_KEY);
            out.append(c);
            out.push('}');
        }
    }
}

#[derive(Debug)]
pub struct Batch {
    /// Identifies the batch within this tab's queue.
    pub key: u32,
    /// Its localStorage key: `pulse:q:<tab>:<n>`, the original tab's for adopted batches.
    pub name: String,
    pub events: Vec<QueuedEvent>,
    pub wire_bytes: usize,
    /// No more events join it; it may be sent.
    pub closed: bool,
    pub in_flight: bool,
    /// Changed since last written to storage.
    pub dirty: bool,
    /// A copy exists in storage (so it must be removed there when delivered).
    pub stored: bool,
}

impl Batch {
    fn new(key: u32, name: String) -> Self {
        Batch {
            key,
            name,
            events: Vec::new(),
            wire_bytes: 0,
            closed: false,
            in_flight: false,
            dirty: false,
            stored: false,
        }
    }

    /// Storage form: one line per event; a line `c…` sets the context for the
    /// `e…` lines after it, `f…` is a whole event. JSON never holds a raw newline.
    pub fn serialize(&self) -> String {
        let mut out = String::with_capacity(self.wire_bytes);
        let mut current: Option<&Rc<String>> = None;
        for ev in &self.events {
            match &ev.context {
                Some(c) => {
                    if current.is_none_or(|cur| !Rc::ptr_eq(cur, c)) {
                        out.push('c');
                        out.append(c);
                        out.push('\n');
                        current = Some(c);
                    }
                    out.push('e');
                }
                None => out.push('f'),
            }
            out.append(&ev.head);
            out.push('\n');
        }
        out
    }

    pub fn deserialize(text: &str) -> Vec<QueuedEvent> {
        let mut events = Vec::new();
        let mut context: Option<Rc<String>> = None;
        for line in crate::json::fields(text, b'\n') {
            // The first byte is an ASCII tag: the rest starts on a char boundary.
            let rest = || crate::json::sub(line, 1, line.len()).to_owned();
            match line.as_bytes().first() {
                Some(b'c') => context = Some(Rc::new(rest())),
                Some(b'e') if context.is_some() => {
                    events.push(QueuedEvent::new(rest(), context.clone()))
                }
                Some(b'f') => events.push(QueuedEvent::new(rest(), None)),
                _ => {}
            }
        }
        events
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub batch_events: usize,
    pub batch_bytes: usize,
    pub max_events: usize,
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            batch_events: 20,
            batch_bytes: MAX_REQUEST_BYTES - ENVELOPE_BYTES,
            max_events: 10_000,
            max_bytes: 4_000_000,
        }
    }
}

#[derive(Debug, Default)]
pub struct Queue {
    pub batches: Vec<Batch>,
    pub limits: Limits,
    events: usize,
    bytes: usize,
    /// Events dropped because the queue was full (oldest first).
    pub dropped: u64,
    next_key: u32,
    /// Storage key prefix for new batches (`pulse:q:<tab>:`).
    pub prefix: String,
    /// Storage keys of stored batches that left the queue and must leave storage too.
    pub removed_keys: Vec<String>,
}

impl Queue {
    pub fn new(limits: Limits, prefix: String) -> Self {
        Queue {
            limits,
            prefix,
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.events
    }

    pub fn is_empty(&self) -> bool {
        self.events == 0
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn new_key(&mut self) -> u32 {
        self.next_key += 1;
        self.next_key
    }

    fn new_batch(&mut self) -> Batch {
        let key = self.new_key();
        let mut name = self.prefix.clone();
        crate::json::push_uint(&mut name, u64::from(key), 1);
        Batch::new(key, name)
    }

    /// Whether the newest batch is open and holds events (so a timer should close it).
    pub fn has_open_events(&self) -> bool {
        self.batches
            .last()
            .is_some_and(|b| !b.closed && !b.in_flight && !b.events.is_empty())
    }

    /// Adds an event; returns true when a batch closed (so it can be sent).
    pub fn push(&mut self, ev: QueuedEvent) -> bool {
        let len = ev.wire_len();
        let mut closed = false;
        let fits = match self.batches.last_mut() {
            Some(b) if !b.closed && !b.in_flight => {
                if b.wire_bytes + len > self.limits.batch_bytes && !b.events.is_empty() {
                    b.closed = true;
                    closed = true;
                    false
                } else {
                    true
                }
            }
            _ => false,
        };
        if !fits {
            let b = self.new_batch();
            self.batches.push(b);
        }
        self.events += 1;
        self.bytes += ev.stored_len();
        if let Some(b) = self.batches.last_mut() {
            b.wire_bytes += len;
            b.events.push(ev);
            b.dirty = true;
            if b.events.len() >= self.limits.batch_events || b.wire_bytes >= self.limits.batch_bytes
            {
                b.closed = true;
                closed = true;
            }
        }
        self.enforce_bounds();
        closed
    }

    /// Closes the open batch if it holds events; returns whether it did.
    pub fn close_open(&mut self) -> bool {
        match self.batches.last_mut() {
            Some(b) if !b.closed && !b.events.is_empty() => {
                b.closed = true;
                true
            }
            _ => false,
        }
    }

    /// Adds batches recovered from storage (oldest first, with their storage
    /// keys, which they keep) in front of the queue: they are older.
    pub fn adopt_front(&mut self, batches: Vec<(String, Vec<QueuedEvent>)>) {
        for (name, events) in batches.into_iter().rev() {
            if events.is_empty() {
                self.removed_keys.push(name);
                continue;
            }
            let key = self.new_key();
            let mut b = Batch::new(key, name);
            b.closed = true;
            b.stored = true;
            self.events += events.len();
            for ev in &events {
                b.wire_bytes += ev.wire_len();
                self.bytes += ev.stored_len();
            }
            b.events = events;
            self.batches.insert(0, b);
        }
        self.enforce_bounds();
    }

    /// Drops the oldest events not being sent until the queue is within bounds.
    fn enforce_bounds(&mut self) {
        while self.events > self.limits.max_events || self.bytes > self.limits.max_bytes {
            let Some(i) = self
                .batches
                .iter()
                .position(|b| !b.in_flight && !b.events.is_empty())
            else {
                break;
            };
            let Some(b) = self.batches.get_mut(i) else {
                break;
            };
            let Some(ev) = remove_at(&mut b.events, 0) else {
                break;
            };
            b.wire_bytes -= ev.wire_len();
            b.dirty = true;
            self.events -= 1;
            self.bytes -= ev.stored_len();
            self.dropped += 1;
            if b.events.is_empty() {
                self.remove_batch_at(i);
            }
        }
    }

    fn remove_batch_at(&mut self, i: usize) {
        if let Some(b) = remove_at(&mut self.batches, i) {
            self.events -= b.events.len();
            self.bytes -= b.events.iter().map(QueuedEvent::stored_len).sum::<usize>();
            if b.stored {
                self.removed_keys.push(b.name);
            }
        }
    }

    /// Picks the next request: consecutive closed batches, oldest first, that
    /// together stay under `max_bytes`; marks them in flight.
    pub fn take_request(&mut self, max_bytes: usize) -> Vec<u32> {
        let mut keys = Vec::new();
        let mut total = ENVELOPE_BYTES;
        for b in self.batches.iter_mut() {
            if b.in_flight {
                continue;
            }
            if !b.closed || (total + b.wire_bytes > max_bytes && !keys.is_empty()) {
                break;
            }
            b.in_flight = true;
            total += b.wire_bytes;
            keys.push(b.key);
        }
        keys
    }

    pub fn events_of<'a>(&'a self, keys: &'a [u32]) -> impl Iterator<Item = &'a QueuedEvent> + 'a {
        self.batches
            .iter()
            .filter(|b| keys.contains(&b.key))
            .flat_map(|b| b.events.iter())
    }

    /// Marks a request's batches as no longer in flight (it will be retried).
    pub fn release(&mut self, keys: &[u32]) {
        for b in self.batches.iter_mut().filter(|b| keys.contains(&b.key)) {
            b.in_flight = false;
        }
    }

    /// Removes a request's batches (delivered or dropped for good).
    pub fn complete(&mut self, keys: &[u32]) {
        while let Some(i) = self.batches.iter().position(|b| keys.contains(&b.key)) {
            self.remove_batch_at(i);
        }
    }

    /// Removes the given events (indexes into the request's events in order)
    /// from a request's batches and releases the rest for another try.
    pub fn complete_some(&mut self, keys: &[u32], done: &[bool]) {
        let mut index = 0;
        for b in self.batches.iter_mut().filter(|b| keys.contains(&b.key)) {
            let before = b.events.len();
            let mut kept = Vec::with_capacity(before);
            for ev in b.events.drain(..) {
                if done.get(index).copied().unwrap_or(false) {
                    self.events -= 1;
                    self.bytes -= ev.stored_len();
                    b.wire_bytes -= ev.wire_len();
                } else {
                    kept.push(ev);
                }
                index += 1;
            }
            b.events = kept;
            b.in_flight = false;
            if b.events.len() != before {
                b.dirty = true;
            }
        }
        // Batches emptied by this are removed (counts were already adjusted).
        while let Some(i) = self
            .batches
            .iter()
            .position(|b| keys.contains(&b.key) && b.events.is_empty())
        {
            if let Some(b) = remove_at(&mut self.batches, i) {
                if b.stored {
                    self.removed_keys.push(b.name);
                }
            }
        }
    }

    /// Removes everything (opt-out); stored batches are listed for removal.
    pub fn clear(&mut self) {
        while !self.batches.is_empty() {
            self.remove_batch_at(0);
        }
    }
}

/// `Vec::remove` without its panic path (and its formatted message).
fn remove_at<T>(v: &mut Vec<T>, i: usize) -> Option<T> {
    let len = v.len();
    if i >= len {
        return None;
    }
    // SAFETY: i < len; the tail moves down one slot over the element read
    // out, and the length shrinks by one, as `Vec::remove` does.
    unsafe {
        let p = v.as_mut_ptr().add(i);
        let x = core::ptr::read(p);
        core::ptr::copy(p.add(1), p, len - i - 1);
        v.set_len(len - 1);
        Some(x)
    }
}

/// Writes a request body: `{"events":[…],"sent_at":"…","write_key":"…"}`.
pub fn write_body<'a>(
    events: impl Iterator<Item = &'a QueuedEvent>,
    sent_at_ms: u64,
    write_key: &str,
) -> String {
    let mut out = String::with_capacity(MAX_REQUEST_BYTES / 4);
    out.append("{\"events\":[");
    for (i, ev) in events.enumerate() {
        if i > 0 {
            out.push(',');
        }
        ev.write_json(&mut out);
    }
    out.append("],\"sent_at\":\"");
    crate::time::push_rfc3339(&mut out, sent_at_ms);
    out.append("\",\"write_key\":");
    crate::json::push_str(&mut out, write_key);
    out.push('}');
    out
}
