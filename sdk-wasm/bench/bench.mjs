// make bench-sdk: shipped size of the package and the cost of track() in
// headless Chromium, side by side with peer trackers from npm, measured the
// same way in the same run: fresh page, batching on, receiver on loopback,
// performance.now() around a loop of 10,000 calls; 5 runs, medians reported.
// Also, for the same burst: all-in main-thread time per event (CDP TaskDuration
// from before the loop until the receiver has everything, or is quiet), JS heap
// after GC, and events that reached the receiver.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { startReceiver } from '../tests/e2e/receiver.mjs';
import { launch } from '../tests/e2e/browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SDK = path.resolve(here, '..');
const ROOT = path.resolve(SDK, '..');
const OUT_DIR = path.join(ROOT, 'target/bench');
const PAGES = path.join(ROOT, 'target/sdk-wasm/bench-pages');
const CALLS = Number(process.env.BENCH_CALLS || 10000);
const RUNS = Number(process.env.BENCH_RUNS || 5);
const ONLY = (process.env.BENCH_TRACKERS || 'pulse,snowplow,posthog,segment').split(',');
const modules = process.env.PULSE_NODE_MODULES || path.join(process.env.HOME, '.cache/pulse/node/sdk-tools/node_modules');
const require = createRequire(path.join(modules, 'noop.js'));
const esbuild = require('esbuild');

const gzip9 = (buf) => zlib.gzipSync(buf, { level: 9 }).length;
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// ---- pages ---------------------------------------------------------------------
// Each page defines benchInit(origin) (async) and benchTrack(i).
const PEERS = {
  snowplow: {
    entry: `
      import { newTracker, trackSelfDescribingEvent } from '@snowplow/browser-tracker';
      window.benchInit = async (origin) => {
        // Its default localStorage queue rewrites the whole queue on every call
        // and crashes the tab on this burst: in-memory queue so it can be measured.
        newTracker('sp', origin, { appId: 'bench', eventMethod: 'post', bufferSize: 20,
          useLocalStorage: false, contexts: { webPage: true } });
      };
      window.benchTrack = (i) => trackSelfDescribingEvent({
        event: { schema: 'iglu:com.example/bench_event/jsonschema/1-0-0', data: { i, plan: 'pro' } } });`,
  },
  posthog: {
    entry: `
      import posthog from 'posthog-js';
      window.benchInit = async (origin) => {
        posthog.init('phc_bench', { api_host: origin, autocapture: false, capture_pageview: false,
          capture_pageleave: false, disable_session_recording: true, advanced_disable_flags: true,
          advanced_disable_decide: true, disable_surveys: true, disable_compression: true,
          opt_out_useragent_filter: true, persistence: 'localStorage', request_batching: true,
          rate_limiting: { events_per_second: 1000000, events_burst_limit: 1000000 } });
      };
      window.benchTrack = (i) => posthog.capture('bench_event', { i, plan: 'pro' });`,
  },
  segment: {
    entry: `
      import { AnalyticsBrowser } from '@segment/analytics-next';
      window.benchInit = async (origin) => {
        const host = origin.replace(/^https?:\\/\\//, '');
        window.analytics = AnalyticsBrowser.load({
          writeKey: 'wk_bench',
          cdnSettings: { integrations: { 'Segment.io': { apiKey: 'wk_bench', apiHost: host + '/v1',
            protocol: 'http', deliveryStrategy: { strategy: 'batching', config: { size: 20, timeout: 3000 } } } } },
        }, { integrations: { 'Segment.io': { apiHost: host + '/v1', protocol: 'http' } } });
        await window.analytics.ready(() => {});
      };
      window.benchTrack = (i) => { window.analytics.track('bench_event', { i, plan: 'pro' }); };`,
  },
};

async function buildPages() {
  fs.mkdirSync(PAGES, { recursive: true });
  const sizes = {};
  const html = (script, type = 'text/javascript') =>
    `<!doctype html><html><head><meta charset="utf-8"><title>bench</title></head><body>` +
    `<h1>bench</h1><script type="${type}" src="${script}"></script></body></html>`;
  fs.writeFileSync(path.join(PAGES, 'pulse.js'),
    `import * as pulse from '/sdk/pulse.js';
     window.benchInit = (origin) => pulse.init({ endpoint: origin, writeKey: 'wk_bench', skipBots: false,
       trackPageViews: false });
     window.benchTrack = (i) => pulse.track('bench_event', { properties: { i, plan: 'pro' } });
     window.benchReady = true;`);
  fs.writeFileSync(path.join(PAGES, 'pulse.html'), html('/bench/pulse.js', 'module'));
  const wasm = fs.readFileSync(path.join(SDK, 'pkg/pulse_bg.wasm'));
  const glue = fs.readFileSync(path.join(SDK, 'pkg/pulse.js'));
  sizes.pulse = { raw: wasm.length + glue.length, gzip: gzip9(wasm) + gzip9(glue),
    detail: { wasm: wasm.length, wasm_gzip: gzip9(wasm), js: glue.length, js_gzip: gzip9(glue) } };
  for (const [name, peer] of Object.entries(PEERS)) {
    if (!ONLY.includes(name)) continue;
    const out = path.join(PAGES, `${name}.js`);
    await esbuild.build({
      stdin: { contents: peer.entry + '\nwindow.benchReady = true;', resolveDir: modules, loader: 'js' },
      bundle: true, minify: true, format: 'iife', target: 'es2018', outfile: out,
      define: { 'process.env.NODE_ENV': '"production"' }, logLevel: 'error', legalComments: 'none',
    });
    const code = fs.readFileSync(out);
    sizes[name] = { raw: code.length, gzip: gzip9(code) };
    fs.writeFileSync(path.join(PAGES, `${name}.html`), html(`/bench/${name}.js`));
  }
  return sizes;
}

// ---- counting what arrived -----------------------------------------------------------

function eventsIn(req) {
  if (req.url === '/v1/events') return req.events.length;
  let text = req.text || '';
  try {
    if (text.startsWith('data=')) text = Buffer.from(decodeURIComponent(text.slice(5)), 'base64').toString();
    const body = JSON.parse(text);
    if (Array.isArray(body)) return body.length;
    if (Array.isArray(body.batch)) return body.batch.length;
    if (Array.isArray(body.data)) return body.data.length;
    return 1;
  } catch (e) {
    return text ? 1 : 0;
  }
}

// ---- one run ---------------------------------------------------------------------

async function runOnce(browser, rx, name) {
  rx.reset();
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${rx.origin}/bench/${name}.html`);
  await page.waitForFunction(() => window.benchReady === true);
  await page.evaluate((origin) => window.benchInit(origin), rx.origin);
  await page.waitForTimeout(300); // let start-up requests settle
  rx.reset();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  const metric = async (key) => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === key).value;
  const taskBefore = await metric('TaskDuration');
  const loopMs = await page.evaluate((calls) => {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) window.benchTrack(i);
    return performance.now() - t0;
  }, CALLS);
  // Wait until everything arrived (Pulse) or the receiver is quiet for 3 s.
  const count = () => rx.requests.reduce((n, r) => n + eventsIn(r), 0);
  const deadline = Date.now() + 60000;
  let last = -1;
  let quietSince = Date.now();
  for (;;) {
    const n = count();
    if (n !== last) { last = n; quietSince = Date.now(); }
    if (n >= CALLS && name === 'pulse') {
      const inQueue = await page.evaluate(() => window.pulseQueue && window.pulseQueue());
      if (!inQueue) break;
    }
    if (Date.now() - quietSince > 3000 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const taskAfter = await metric('TaskDuration');
  await cdp.send('HeapProfiler.enable');
  await cdp.send('HeapProfiler.collectGarbage');
  const heap = await metric('JSHeapUsedSize');
  let unique = null;
  let wasmMemory = null;
  if (name === 'pulse') {
    const ids = rx.requests.filter((r) => r.url === '/v1/events').flatMap((r) => r.events.map((e) => e.event_id));
    unique = new Set(ids).size;
    wasmMemory = await page.evaluate(() => window.pulseWasmMemory && window.pulseWasmMemory());
  }
  await context.close();
  return { loopMs, perCallUs: (loopMs * 1000) / CALLS, allInUs: ((taskAfter - taskBefore) * 1e6) / CALLS,
    heapBytes: heap, received: count(), unique, requests: rx.requests.length, wasmMemory, errors };
}

// ---- main ---------------------------------------------------------------------

const sizes = await buildPages();
fs.appendFileSync(path.join(PAGES, 'pulse.js'),
  `\nwindow.pulseQueue = () => pulse.queueSize();\nwindow.pulseWasmMemory = () => pulse.stats().wasmMemoryBytes;\n`);
const rx = await startReceiver({ extraRoots: { '/bench/': PAGES }, acceptAnyPost: true });
const browser = await launch();
const results = {};
try {
  for (const name of ONLY) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await runOnce(browser, rx, name);
      runs.push(r);
      process.stderr.write(`[bench] ${name} run ${i + 1}/${RUNS}: ${r.perCallUs.toFixed(2)} µs/call, ` +
        `all-in ${r.allInUs.toFixed(1)} µs/event, received ${r.received}` +
        `${r.unique !== null ? ` (${r.unique} unique)` : ''}${r.errors.length ? `, page errors: ${r.errors[0]}` : ''}\n`);
    }
    results[name] = {
      bundle_bytes: sizes[name].raw, bundle_gzip9_bytes: sizes[name].gzip, ...(sizes[name].detail || {}),
      track_us_median: median(runs.map((r) => r.perCallUs)),
      all_in_main_thread_us_per_event_median: median(runs.map((r) => r.allInUs)),
      js_heap_after_gc_bytes_median: median(runs.map((r) => r.heapBytes)),
      events_received_per_run: runs.map((r) => r.received),
      ...(name === 'pulse' ? {
        unique_events_per_run: runs.map((r) => r.unique),
        wasm_memory_bytes: median(runs.map((r) => r.wasmMemory)),
      } : {}),
      runs,
    };
  }
} finally {
  await browser.close();
  await rx.close();
}

const fastestPeer = Object.entries(results).filter(([n]) => n !== 'pulse')
  .sort((a, b) => a[1].track_us_median - b[1].track_us_median)[0];
const summary = {
  calls_per_run: CALLS, runs: RUNS, chromium: '/usr/bin/chromium', results,
  goals: {
    size_gzip_le_17kb: results.pulse ? results.pulse.bundle_gzip9_bytes <= 17 * 1024 : null,
    track_le_half_fastest_peer: results.pulse && fastestPeer
      ? results.pulse.track_us_median <= fastestPeer[1].track_us_median / 2 : null,
    fastest_peer: fastestPeer ? fastestPeer[0] : null,
    all_events_exactly_once: results.pulse
      ? results.pulse.unique_events_per_run.every((u, i) => u === CALLS && results.pulse.events_received_per_run[i] === CALLS)
      : null,
  },
};
fs.mkdirSync(OUT_DIR, { recursive: true });
fs.writeFileSync(path.join(OUT_DIR, 'sdk.json'), JSON.stringify(summary, null, 2));

const kb = (b) => (b / 1024).toFixed(1) + ' KB';
const pad = (s, n) => String(s).padEnd(n);
const lines = [];
lines.push(`track() burst: ${CALLS} calls per run, ${RUNS} runs, medians; Chromium headless, receiver on loopback`);
lines.push(pad('tracker', 10) + pad('size raw', 11) + pad('gzip -9', 10) + pad('track() µs', 12) +
  pad('all-in µs/event', 17) + pad('heap after GC', 15) + 'events received');
for (const [name, r] of Object.entries(results)) {
  lines.push(pad(name, 10) + pad(kb(r.bundle_bytes), 11) + pad(kb(r.bundle_gzip9_bytes), 10) +
    pad(r.track_us_median.toFixed(2), 12) + pad(r.all_in_main_thread_us_per_event_median.toFixed(1), 17) +
    pad(kb(r.js_heap_after_gc_bytes_median), 15) + r.events_received_per_run.join(' / '));
}
if (results.pulse) {
  const p = results.pulse;
  lines.push(`pulse: wasm ${p.wasm} B (gzip ${p.wasm_gzip}), js ${p.js} B (gzip ${p.js_gzip}); ` +
    `wasm memory ${kb(p.wasm_memory_bytes)}; unique events per run ${p.unique_events_per_run.join(' / ')}`);
}
lines.push(`goals: ${JSON.stringify(summary.goals)}`);
lines.push(`written: ${path.relative(ROOT, path.join(OUT_DIR, 'sdk.json'))}`);
console.log(lines.join('\n'));
