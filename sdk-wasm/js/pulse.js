// Pulse browser tracker: the public API. The work (events, ids, sessions, the
// queue, batching, persistence, sending and retries) happens in WebAssembly
// (Rust, src/); this file loads it, queues calls made before it is loaded,
// makes sure no call ever throws into the host page, and does what is
// smaller in JS than across the wasm boundary: it is the wasm's `Host` (fetch,
// beacons, timers, storage, console; see src/browser.rs), reads the browser
// context (device type, bot, Do Not Track), wires page events, and runs the
// tab hand-over with Web Locks.
import * as wasm from './glue/pulse_glue.js';

const PENDING_MAX = 1000;
let state = 'idle'; // idle | loading | ready | failed
let loading = null;
let pending = [];
let broken = false;
let memory = null;
let onError = null;
let out = ''; // the last string the tracker handed over (Host.out)
// Set once the page is being unloaded for good (pagehide, not into the
// back-forward cache): its queue is stored then and its Web Lock may already
// be released, so another tab may be sending it; this page sends nothing more.
let gone = false;

function say(level, msg, detail) {
  try { console[level]('[pulse] ' + msg, detail === undefined ? '' : detail); } catch (e) { /* console gone */ }
}

function report(msg, err) {
  say('error', msg, err);
}

// Commands of the wasm export pulse_do (see src/lib.rs): 0 flush, 1 queue
// size, 2 opt out, 3 opt in, 4 reset, 5 timer, 6 online, 7 hide, 8 another tab
// opted out, 9 route change.

// Runs a wasm export; once the module has trapped its state cannot be trusted,
// so it is switched off with one message instead of failing on every call.
function run(f, args, fallback) {
  if (broken) return fallback;
  try {
    return f(...args);
  } catch (err) {
    broken = true;
    report('internal error; tracking is off for this page', err);
    return fallback;
  }
}

function call(f, args, fallback) {
  if (state === 'ready') return run(f, args, fallback);
  if (state === 'loading' || state === 'idle') {
    if (pending.length < PENDING_MAX) pending.push([f, args]);
    return fallback;
  }
  return fallback;
}

function json(value) {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    report('properties must be a plain object; ignored', value);
    return undefined;
  }
  try {
    return JSON.stringify(value);
  } catch (err) {
    report('properties could not be serialized (cycle or BigInt?); ignored', err);
    return undefined;
  }
}

// Without \x01, the separator of pulse_track's fields.
function clean(s) {
  return s.indexOf('\x01') < 0 ? s : s.split('\x01').join('');
}

function str(value) {
  return value === undefined || value === null ? undefined : clean(String(value));
}

const EXTRA_FIELDS = [
  ['status', 'status'],
  ['conversationId', 'conversation_id'],
  ['sequence', 'sequence'],
  ['parentId', 'parent_id'],
];

function trackArgs(type, opts) {
  const o = opts && typeof opts === 'object' ? opts : {};
  let extra;
  for (const [from, to] of EXTRA_FIELDS) {
    if (o[from] !== undefined && o[from] !== null) (extra || (extra = {}))[to] = o[from];
  }
  const duration = typeof o.durationMs === 'number' && o.durationMs >= 0 ? Math.round(o.durationMs) : -1;
  // One string for wasm (see pulse_track in src/lib.rs): \x01 separates,
  // \x02 marks a value that is given (JSON text never holds a raw \x01).
  const given = (v) => (v === undefined ? '' : '\x02' + v);
  const fields = [clean(String(type)), given(json(o.properties)), given(str(o.entityType)),
    given(str(o.entityId)), given(extra && JSON.stringify(extra))].join('\x01');
  return [fields, duration, !!o.immediate];
}

function parse(text) {
  try { return JSON.parse(text); } catch (e) { return undefined; }
}

// Reports to the console and to the `onError` option.
function refused(msg, detail) {
  say('warn', msg, detail);
  if (onError) {
    try { onError(detail); } catch (err) { report('onError threw', err); }
  }
}

// The answer to a request: the tracker decides what it means, the front
// reports what the server refused (the whole request, or single events).
function answered(status, text, retryAfter) {
  const n = run(wasm.pulse_response, [status, retryAfter], -1);
  if (n === -2 && text.indexOf('"rejected"') >= 0) {
    const rejected = (parse(text) || {}).rejected;
    for (const item of Array.isArray(rejected) ? rejected : []) {
      refused('event rejected by the server',
        { code: 'rejected', message: item && item.error, status: 200, eventId: item && item.event_id, index: item && item.index });
    }
  } else if (n >= 0) {
    const error = (parse(text) || {}).error || {};
    refused('events dropped: the server refused them',
      { code: error.code, message: error.message, status, events: n });
  }
}

// What the tracker (wasm) asks of the browser: see src/browser.rs.
function makeHost(opts) {
  return {
    post(url, body, keepalive) {
      const headers = { 'content-type': 'text/plain;charset=UTF-8' };
      fetch(url, { method: 'POST', body, keepalive, credentials: 'omit', headers })
        .then((r) => {
          const ra = r.headers.get('retry-after') || '';
          return r.text().then((t) => answered(r.status, t, ra), () => answered(r.status, '', ra));
        }, () => answered(0, '', ''));
    },
    beacon(url, body) {
      try {
        if (typeof navigator.sendBeacon != 'function') return 2;
        return navigator.sendBeacon(url, body) ? 1 : 0;
      } catch (e) { return 2; }
    },
    timer: (kind, ms) => setTimeout(() => gone || run(wasm.pulse_do, [5, kind]), ms),
    clear: (id) => clearTimeout(id),
    page: () => [location.href, location.pathname, document.title, document.referrer]
      .map((v) => String(v || '').replace(/\n/g, ' ')).join('\n'),
    online: () => navigator.onLine !== false,
    fill(buf) {
      try { crypto.getRandomValues(buf); } catch (e) {
        for (let i = 0; i < buf.length; i++) buf[i] = Math.random() * 256;
      }
    },
    storage() {
      try { return localStorage; } catch (e) { return undefined; }
    },
    quota: (e) => !!e && (e.name == 'QuotaExceededError' || e.code == 22),
    log: say,
    out: (s) => { out = s; },
    hook(json) {
      let result;
      try {
        result = opts.beforeSend(JSON.parse(json));
      } catch (err) {
        report('beforeSend threw', err);
        return json;
      }
      if (result === null || result === undefined || result === false) return undefined;
      try {
        const s = JSON.stringify(result);
        return typeof s == 'string' ? s : undefined;
      } catch (e) { return undefined; }
    },
  };
}

const num = (v) => (typeof v == 'number' ? v : NaN);
const flag = (v, dflt) => (typeof v == 'boolean' ? v : dflt);

// The browser part of every event's context, and why tracking is off (a bot,
// Do Not Track), if it is.
function environment(opts) {
  const n = navigator;
  const ua = String(n.userAgent || '');
  let tz = '';
  try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { /* no Intl */ }
  const s = typeof screen == 'object' && screen ? screen : {};
  const has = (re) => re.test(ua);
  const device = has(/ipad|tablet|kindle|silk\//i) || (has(/android/i) && !has(/mobile/i))
    || (has(/macintosh/i) && n.maxTouchPoints > 1) ? 'tablet'
    : has(/mobi|iphone|ipod|android/i) ? 'mobile' : 'desktop';
  const env = JSON.stringify({ user_agent: ua, device_type: device, locale: String(n.language || ''),
    timezone: tz, screen: { width: s.width > 0 ? s.width : 0, height: s.height > 0 ? s.height : 0 } });
  const dnt = n.doNotTrack == '1' || n.doNotTrack == 'yes' || window.doNotTrack == '1';
  const disabled = flag(opts.skipBots, true) && (n.webdriver || has(/bot|crawl|spider|slurp|headlesschrome|lighthouse|phantomjs/i))
    ? 'bot or automated browser detected (set skipBots: false to track anyway)'
    : flag(opts.respectDoNotTrack, false) && dnt ? 'Do Not Track is on' : undefined;
  return [env, disabled];
}

// Each tab holds the Web Lock `pulse:tab:<id>` while it lives. A tab that
// finds another tab's queue in storage waits for that tab's lock: it is
// granted only when that tab is gone, to exactly one waiter, which then hands
// the orphaned batches to the tracker and keeps the lock so no one else does.
function tabs(tab) {
  const TAB = 'pulse:tab:';
  const watched = new Set([tab]);
  const locks = navigator.locks && navigator.locks.request ? navigator.locks : null;
  const safe = (f) => (...a) => { try { f(...a); } catch (err) { report('storage', err); } };
  const keys = (prefix) => {
    const out = [];
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k && k.startsWith(prefix)) out.push(k);
    }
    return out;
  };
  const hold = (name, f) => locks.request(name, () => { f(); return new Promise(() => {}); }).catch(() => {});
  const adopt = safe((id) => {
    const prefix = 'pulse:q:' + id + ':';
    const parts = [];
    keys(prefix).map((k) => [k.slice(prefix.length), k]).filter(([n]) => /^\d{1,18}$/.test(n))
      .sort((a, b) => a[0] - b[0]).forEach(([, k]) => {
        const text = localStorage.getItem(k);
        if (text !== null) parts.push(k, text);
      });
    localStorage.removeItem(TAB + id);
    if (parts.length) run(wasm.pulse_adopt, [parts.join('\x01')]);
  });
  const watch = (id) => {
    if (!id || watched.has(id)) return;
    watched.add(id);
    // No Web Locks: assume one tab at a time and take the queue now.
    if (locks) hold(TAB + id, () => adopt(id)); else adopt(id);
  };
  const scan = safe(() => {
    for (const k of keys('pulse:')) {
      watch(k.startsWith(TAB) ? k.slice(TAB.length) : k.startsWith('pulse:q:') ? k.slice(8).split(':')[0] : '');
    }
  });
  if (locks) hold(TAB + tab, safe(() => { localStorage.setItem(TAB + tab, '1'); scan(); })); else scan();
  return [scan, watch];
}


function start(opts) {
  onError = typeof opts.onError == 'function' ? opts.onError : null;
  const flags = (flag(opts.trackPageViews, true) ? 1 : 0) | (flag(opts.optOutByDefault, false) ? 2 : 0)
    | (typeof opts.beforeSend == 'function' ? 16 : 0) | (flag(opts.debug, false) ? 32 : 0);
  const text = (v) => (typeof v == 'string' ? v.replace(/\n/g, ' ') : '');
  const [env, disabled] = environment(opts);
  if (disabled) say('info', 'tracking disabled: ' + disabled);
  out = '';
  const strings = [text(opts.endpoint), text(opts.writeKey), text(opts.environment), env, disabled || ''].join('\n');
  if (!run(wasm.pulse_init, [makeHost(opts), strings, num(opts.batchSize), num(opts.flushIntervalMs),
    num(opts.maxQueueEvents), num(opts.maxQueueBytes), flags], false) || !out) return false;
  const [scan, watch] = tabs(out);
  addEventListener('online', () => { if (!gone) { scan(); run(wasm.pulse_do, [6, 0]); } });
  addEventListener('pagehide', (e) => { run(wasm.pulse_do, [7, 1]); gone = !e.persisted; });
  addEventListener('pageshow', () => { gone = false; });
  document.addEventListener('visibilitychange', () => run(wasm.pulse_do, [7, document.visibilityState == 'hidden' ? 1 : 0]));
  addEventListener('storage', (e) => {
    const k = e.key || '';
    if (k.startsWith('pulse:tab:')) {
      if (e.newValue !== null) watch(k.slice(10));
    } else if (k == 'pulse:optout') {
      run(wasm.pulse_do, [8, e.newValue == '1' ? 1 : 0]);
    }
  });
  const route = () => run(wasm.pulse_do, [9, 0]);
  for (const m of ['pushState', 'replaceState']) {
    const orig = history[m];
    history[m] = function () { const r = orig.apply(this, arguments); route(); return r; };
  }
  addEventListener('popstate', route);
  addEventListener('hashchange', route);
  return true;
}

function isCspError(err) {
  const text = String(err && (err.message || err));
  return /unsafe-eval|Content Security Policy|CSP/i.test(text);
}

/**
 * Loads the WebAssembly module and starts tracking. Resolves to true when the
 * tracker runs, false when it cannot (the console says why). Never rejects.
 */
export function init(options) {
  if (loading) return loading;
  state = 'loading';
  const opts = Object.assign({}, options);
  loading = (async () => {
    try {
      const url = opts.wasmUrl || new URL('./pulse_bg.wasm', import.meta.url);
      // Compiled here and instantiated with the glue's initSync: its async
      // loader is a kilobyte of options this package does not need.
      let module;
      try {
        module = await WebAssembly.compileStreaming(fetch(url));
      } catch (err) {
        // Served without the application/wasm type, or no compileStreaming.
        if (isCspError(err)) throw err;
        module = await WebAssembly.compile(await (await fetch(url)).arrayBuffer());
      }
      memory = wasm.initSync({ module }).memory;
    } catch (err) {
      state = 'failed';
      pending = [];
      if (isCspError(err)) {
        report("WebAssembly is blocked by this page's Content-Security-Policy: add 'wasm-unsafe-eval' " +
          'to script-src to enable Pulse. Tracking is off; the page is not affected.');
      } else {
        report('could not load the tracker; tracking is off', err);
      }
      return false;
    }
    let ok = false;
    try {
      ok = start(opts);
    } catch (err) {
      report('could not start the tracker; tracking is off', err);
    }
    state = ok ? 'ready' : 'failed';
    const queued = pending;
    pending = [];
    if (ok) for (const [f, args] of queued) run(f, args);
    return ok;
  })();
  return loading;
}

/** Records an event. Returns false if it was refused (opted out, too big, …). */
export function track(type, options) {
  try {
    return call(wasm.pulse_track, trackArgs(type, options), false);
  } catch (err) {
    report('track failed', err);
    return false;
  }
}

/** Records a page view of the current URL (name and properties optional). */
export function page(name, properties) {
  try {
    let props = properties;
    if (name && typeof name === 'object') props = name;
    else if (name !== undefined && name !== null) props = Object.assign({ name: String(name) }, properties);
    return call(wasm.pulse_page, [json(props) || ''], false);
  } catch (err) {
    report('page failed', err);
    return false;
  }
}

/** Sets the user id for later events and records an `identify` event with the traits. */
export function identify(userId, traits) {
  try {
    return call(wasm.pulse_identify, [String(userId), json(traits) || ''], false);
  } catch (err) {
    report('identify failed', err);
    return false;
  }
}

/**
 * Starts timing an action: `complete(properties)` records it with duration_ms,
 * `cancel()` forgets it. Only the first of the two counts.
 */
export function timed(type, options) {
  const started = typeof performance !== 'undefined' ? performance.now() : Date.now();
  let done = false;
  return {
    complete(properties) {
      if (done) return false;
      done = true;
      try {
        const o = Object.assign({}, options);
        if (properties) o.properties = Object.assign({}, o.properties, properties);
        const ended = typeof performance !== 'undefined' ? performance.now() : Date.now();
        o.durationMs = ended - started;
        return track(type, o);
      } catch (err) {
        report('timed.complete failed', err);
        return false;
      }
    },
    cancel() {
      done = true;
    },
  };
}

/** Records several events: `[{type, ...trackOptions}]`. Returns how many were accepted. */
export function trackBatch(events) {
  let accepted = 0;
  try {
    for (const e of Array.isArray(events) ? events : []) {
      if (e && track(e.type, e)) accepted++;
    }
  } catch (err) {
    report('trackBatch failed', err);
  }
  return accepted;
}

/**
 * Sends what is queued now. Resolves to true once the queue is empty, false if
 * it is not empty after `timeoutMs` (offline, server down, …). Never rejects.
 */
export async function flush(timeoutMs = 5000) {
  try {
    if (loading) await loading;
    if (state !== 'ready') return false;
    run(wasm.pulse_do, [0, 0]);
    const until = Date.now() + timeoutMs;
    while (run(wasm.pulse_do, [1, 0], 0) > 0) {
      if (Date.now() > until) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  } catch (err) {
    report('flush failed', err);
    return false;
  }
}

/** Events waiting to be sent (including those in flight). */
export function queueSize() {
  if (state !== 'ready') return pending.length;
  return run(wasm.pulse_do, [1, 0], 0);
}

/** Counters and ids, for debugging: queued, dropped, inFlight, sessionId, … */
export function stats() {
  if (state !== 'ready') return { queued: pending.length, state };
  out = '{}';
  run(wasm.pulse_stats, []);
  return Object.assign({ state }, parse(out),
    { wasmMemoryBytes: memory && memory.buffer.byteLength });
}

/** Stops tracking on this browser (remembered) and discards unsent events. */
export function optOut() {
  try { call(wasm.pulse_do, [2, 0]); } catch (err) { report('optOut failed', err); }
}

/** Resumes tracking on this browser (remembered). */
export function optIn() {
  try { call(wasm.pulse_do, [3, 0]); } catch (err) { report('optIn failed', err); }
}

/** Forgets the user: new anonymous id, new session, no user id (e.g. on logout). */
export function reset() {
  try { call(wasm.pulse_do, [4, 0]); } catch (err) { report('reset failed', err); }
}

export default { init, track, page, identify, timed, trackBatch, flush, queueSize, stats, optOut, optIn, reset };
