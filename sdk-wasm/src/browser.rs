//! Thin bindings to the browser: the few calls web-sys would make bulky are
//! small inline JS functions (fetch with a text body, beacons, Web Locks,
//! history hooks); everything they report goes back into Rust.
use alloc::string::String;
use alloc::vec::Vec;
use js_sys::Function;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
export function post(url, body, keepalive, cb) {
  fetch(url, { method: 'POST', body, keepalive, credentials: 'omit',
               headers: { 'content-type': 'text/plain;charset=UTF-8' } })
    .then(r => r.text().then(t => cb(r.status, t, r.headers.get('retry-after') || ''),
                             () => cb(r.status, '', r.headers.get('retry-after') || '')),
          e => cb(0, String(e), ''));
}
export function beacon(url, body) {
  try {
    if (typeof navigator.sendBeacon != 'function') return 2;
    return navigator.sendBeacon(url, body) ? 1 : 0;
  } catch (e) { return 2; }
}
export function hold_lock(name, cb) {
  if (!(navigator.locks && navigator.locks.request)) return false;
  navigator.locks.request(name, () => { cb(name); return new Promise(() => {}); })
    .catch(() => {});
  return true;
}
export function hook_history(cb) {
  const h = history;
  for (const m of ['pushState', 'replaceState']) {
    const orig = h[m];
    h[m] = function () { const r = orig.apply(this, arguments); cb(); return r; };
  }
  addEventListener('popstate', () => cb());
  addEventListener('hashchange', () => cb());
}
export function listen(target, type, cb) { target.addEventListener(type, cb); }
export function now_ms() { return Date.now(); }
export function log(level, msg, detail) {
  const c = console;
  detail === undefined ? c[level]('[pulse] ' + msg) : c[level]('[pulse] ' + msg, detail);
}
export function json_parse(s) { try { return JSON.parse(s); } catch (e) { return undefined; } }
export function json_stringify(v) { try { const s = JSON.stringify(v); return typeof s == 'string' ? s : undefined; } catch (e) { return undefined; } }
export function call(f, arg) { try { return f(arg); } catch (e) { console.error('[pulse] callback threw', e); return arg; } }
export function timezone() { try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { return ''; } }
export function storage_keys(s, prefix) {
  const out = [];
  for (let i = 0; i < s.length; i++) { const k = s.key(i); if (k && k.startsWith(prefix)) out.push(k); }
  return out;
}
export function is_quota_error(e) { return !!e && (e.name == 'QuotaExceededError' || e.code == 22); }
"#)]
extern "C" {
    /// POSTs `body` as text/plain; `cb(status, text, retry_after)`, status 0 on network error.
    pub fn post(url: &str, body: &str, keepalive: bool, cb: &Function);
    /// 1 accepted, 0 refused (too big or over the beacon quota), 2 unavailable.
    pub fn beacon(url: &str, body: &str) -> u32;
    /// Requests the Web Lock `name`, calls `cb(name)` once granted and holds it
    /// until the document goes away. False when Web Locks are unavailable.
    pub fn hold_lock(name: &str, cb: &Function) -> bool;
    pub fn hook_history(cb: &Function);
    pub fn listen(target: &JsValue, kind: &str, cb: &Function);
    pub fn now_ms() -> f64;
    pub fn log(level: &str, msg: &str, detail: &JsValue);
    pub fn json_parse(s: &str) -> JsValue;
    pub fn json_stringify(v: &JsValue) -> Option<String>;
    /// Calls a user callback; returns `arg` unchanged if it throws.
    pub fn call(f: &Function, arg: &JsValue) -> JsValue;
    pub fn timezone() -> String;
    pub fn storage_keys(storage: &JsValue, prefix: &str) -> Vec<String>;
    pub fn is_quota_error(e: &JsValue) -> bool;
}

pub fn now() -> u64 {
    now_ms() as u64
}

pub fn warn(msg: &str) {
    log("warn", msg, &JsValue::UNDEFINED);
}
