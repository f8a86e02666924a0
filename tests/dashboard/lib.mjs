// Shared helpers of the dashboard tests: the stack under test (env set by
// infra/test-dashboard.sh), real ingestion through POST /v1/events, waits,
// and a browser page that records console errors and outside requests.
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from '../../sdk-wasm/tests/e2e/browser.mjs';

export { launch };
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BASE = process.env.DASH_BASE || 'http://127.0.0.1:3000';
export const WRITE_KEY = process.env.DASH_WRITE_KEY || 'wk_dev_demo';
export const READ_KEY = process.env.DASH_READ_KEY || 'rk_dev_demo';
export const EMPTY_READ_KEY = process.env.DASH_EMPTY_READ_KEY || '';
export const OUT = process.env.DASH_OUT || path.join(root, 'target/dashboard');
export const MONITOR_CACHE_MS = 1000 * Number(process.env.DASH_MONITOR_CACHE_SECONDS || 2);
export const DAY_MS = 86_400_000;
mkdirSync(OUT, { recursive: true });

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A UUIDv7 (time-ordered), as the tracker makes them. */
export function uuidv7() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  let t = Date.now();
  for (let i = 5; i >= 0; i--) { b[i] = t % 256; t = Math.floor(t / 256); }
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** GET (or other method) on the query API with a read key; returns {status, body}. */
export async function api(p, { key = READ_KEY, method = 'GET' } = {}) {
  const res = await fetch(BASE + p, { method, headers: { Authorization: `Bearer ${key}` } });
  const text = await res.text();
  let body = text;
  try { body = JSON.parse(text); } catch { /* not JSON (export) */ }
  return { status: res.status, body, headers: res.headers };
}
export async function apiOk(p, opts) {
  const r = await api(p, opts);
  if (r.status !== 200) throw new Error(`${p}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** The real ingestion path: POST /v1/events with the write key (→ SQS → consumer). */
export async function ingest(events) {
  for (let i = 0; i < events.length; i += 100) {
    const res = await fetch(`${BASE}/v1/events`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${WRITE_KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ events: events.slice(i, i + 100) }),
    });
    const body = await res.json();
    if (res.status !== 200 || body.rejected.length || body.accepted !== Math.min(100, events.length - i)) {
      throw new Error(`ingest: HTTP ${res.status} ${JSON.stringify(body)}`);
    }
  }
}

export async function waitFor(what, fn, { timeout = 20000, every = 100 } = {}) {
  const deadline = Date.now() + timeout;
  let error = '';
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { error = ` (last error: ${e.message}${e.cause ? `: ${e.cause.message}` : ''})`; }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}${error}`);
    await sleep(every);
  }
}

/** Waits until the consumer stored every event (GET /v1/events/{id} answers 200). */
export async function waitStored(ids, timeout = 20000) {
  const pending = new Set(ids);
  await waitFor(`${ids.length} events to be stored`, async () => {
    for (const id of [...pending]) if ((await api(`/v1/events/${encodeURIComponent(id)}`)).status === 200) pending.delete(id);
    return pending.size === 0;
  }, { timeout, every: 50 });
  return Date.now();
}

export function seed() {
  return JSON.parse(readFileSync(path.join(OUT, 'seed.json'), 'utf8'));
}

/**
 * A fresh context and page on /dashboard, logged in with `key` through the
 * key form. `page.problems` collects console errors, uncaught exceptions and
 * requests to any origin other than the stack's.
 */
export async function openDashboard(browser, { key = READ_KEY, hash = '' } = {}) {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(`${BASE}/`) && !u.startsWith('blob:') && !u.startsWith('data:')) page.problems.push(`outside request: ${u}`);
  });
  await page.goto(`${BASE}/dashboard${hash}`);
  if (key) {
    await page.locator('#key-input').fill(key);
    await page.locator('#key-form button[type=submit]').click();
  }
  return page;
}

/** Waits until the overview finished loading for `days`. */
export async function overviewLoaded(page, days) {
  await page.waitForSelector(`#cards[data-loaded="true"][data-days="${days}"]:not([aria-busy])`);
}
