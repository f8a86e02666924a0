// Pulse browser tracker: the public API. The work happens in WebAssembly
// (Rust, src/); this file loads it, queues calls made before it is loaded,
// and makes sure no call ever throws into the host page.
import loadWasm, * as wasm from './glue/pulse_glue.js';

const PENDING_MAX = 1000;
let state = 'idle'; // idle | loading | ready | failed
let loading = null;
let pending = [];
let broken = false;

function report(msg, err) {
  try { console.error('[pulse] ' + msg, err === undefined ? '' : err); } catch (e) { /* console gone */ }
}

// Runs a wasm export; once the module has trapped its state cannot be trusted,
// so it is switched off with one message instead of failing on every call.
function run(name, args, fallback) {
  if (broken) return fallback;
  try {
    return wasm[name](...args);
  } catch (err) {
    broken = true;
    report('internal error; tracking is off for this page', err);
    return fallback;
  }
}

function call(name, args, fallback) {
  if (state === 'ready') return run(name, args, fallback);
  if (state === 'loading' || state === 'idle') {
    if (pending.length < PENDING_MAX) pending.push([name, args]);
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

function str(value) {
  return value === undefined || value === null ? undefined : String(value);
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
  return [String(type), json(o.properties), str(o.entityType), str(o.entityId), duration,
    extra && JSON.stringify(extra), !!o.immediate];
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
      await loadWasm({ module_or_path: url });
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
    const ok = run('pulse_init', [opts], false);
    state = ok ? 'ready' : 'failed';
    const queued = pending;
    pending = [];
    if (ok) for (const [name, args] of queued) run(name, args);
    return ok;
  })();
  return loading;
}

/** Records an event. Returns false if it was refused (opted out, too big, …). */
export function track(type, options) {
  try {
    return call('pulse_track', trackArgs(type, options), false);
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
    return call('pulse_page', [json(props)], false);
  } catch (err) {
    report('page failed', err);
    return false;
  }
}

/** Sets the user id for later events and records an `identify` event with the traits. */
export function identify(userId, traits) {
  try {
    return call('pulse_identify', [String(userId), json(traits)], false);
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
    run('pulse_flush', []);
    const until = Date.now() + timeoutMs;
    while (run('pulse_queue_size', [], 0) > 0) {
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
  return run('pulse_queue_size', [], 0);
}

/** Counters and ids, for debugging: queued, dropped, inFlight, sessionId, … */
export function stats() {
  if (state !== 'ready') return { queued: pending.length, state };
  return Object.assign({ state }, run('pulse_stats', [], {}));
}

/** Stops tracking on this browser (remembered) and discards unsent events. */
export function optOut() {
  try { call('pulse_opt_out', []); } catch (err) { report('optOut failed', err); }
}

/** Resumes tracking on this browser (remembered). */
export function optIn() {
  try { call('pulse_opt_in', []); } catch (err) { report('optIn failed', err); }
}

/** Forgets the user: new anonymous id, new session, no user id (e.g. on logout). */
export function reset() {
  try { call('pulse_reset', []); } catch (err) { report('reset failed', err); }
}

export default { init, track, page, identify, timed, trackBatch, flush, queueSize, stats, optOut, optIn, reset };
