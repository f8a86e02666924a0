// End-to-end tests: the built package (sdk-wasm/pkg) in headless Chromium
// against a real HTTP receiver. Run: node --test sdk-wasm/tests/e2e/
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startReceiver } from './receiver.mjs';
import { launch, openTestPage, initOptions, init } from './browser.mjs';

let browser;
let rx;

before(async () => {
  browser = await launch();
  rx = await startReceiver();
});
after(async () => {
  await browser?.close();
  await rx?.close();
});
beforeEach(() => rx.reset());

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const RFC3339_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function ids(events) {
  return events.map((e) => e.event_id);
}

/** Asserts every expected marker arrived exactly once (and nothing else). */
function assertExactlyOnce(delivered, expectedMarks) {
  const marks = delivered.map((e) => e.properties && e.properties.mark);
  const counts = new Map();
  for (const m of marks) counts.set(m, (counts.get(m) || 0) + 1);
  const dupes = [...counts].filter(([, n]) => n > 1);
  assert.deepEqual(dupes, [], 'events delivered more than once');
  assert.deepEqual([...counts.keys()].sort(), [...expectedMarks].sort());
  assert.equal(new Set(ids(delivered)).size, delivered.length, 'duplicate event ids');
}

async function withContext(fn) {
  const context = await browser.newContext();
  try {
    return await fn(context);
  } finally {
    await context.close();
  }
}

test('a batch is sent when it reaches batchSize, with the wire format the back end expects', () =>
  withContext(async (context) => {
    const page = await openTestPage(context, rx.origin);
    await init(page, initOptions(rx.origin, { batchSize: 5, environment: 'test' }));
    await page.evaluate(() => {
      for (let i = 0; i < 7; i++) {
        window.pulse.track('item_viewed', { entityType: 'item', entityId: 'i' + i, properties: { mark: i, q: 'a"b\n' } });
      }
    });
    await rx.waitFor(() => rx.requests.length >= 1, 10000, 'the first batch');
    const [req] = rx.requests;
    assert.equal(req.events.length, 5);
    assert.match(req.headers['content-type'], /^text\/plain/);
    assert.equal(req.body.write_key, 'wk_test');
    assert.match(req.body.sent_at, RFC3339_MS);
    const e = req.events[0];
    assert.match(e.event_id, UUID_V7);
    assert.match(e.timestamp, RFC3339_MS);
    assert.equal(e.type, 'item_viewed');
    assert.equal(e.entity_type, 'item');
    assert.equal(e.entity_id, 'i0');
    assert.equal(e.environment, 'test');
    assert.deepEqual(e.properties, { mark: 0, q: 'a"b\n' });
    assert.match(e.anonymous_id, UUID_V7);
    assert.match(e.session_id, UUID_V7);
    assert.equal(e.context.library.name, 'pulse-wasm');
    assert.equal(e.context.device_type, 'desktop');
    assert.equal(e.context.page.path, '/test/index.html');
    assert.equal(e.context.page.title, 'pulse test page');
    assert.ok(e.context.user_agent.length > 10);
    assert.equal(typeof e.context.screen.width, 'number');
    // Ids increase (UUIDv7 ordering) and all events share one session.
    assert.deepEqual(ids(req.events), [...ids(req.events)].sort());
    assert.equal(new Set(req.events.map((x) => x.session_id)).size, 1);
    // The 2 left over wait for the interval: still queued (once the browser
    // has seen the answer to the first batch, which the receiver may have
    // recorded a moment before).
    await page.waitForFunction(() => !window.pulse.stats().inFlight);
    assert.equal(await page.evaluate(() => window.pulse.queueSize()), 2);
    assert.equal(rx.requests.length, 1);
  }));

test('a batch is sent when the flush interval passes', () =>
  withContext(async (context) => {
    const page = await openTestPage(context, rx.origin);
    await init(page, initOptions(rx.origin, { batchSize: 100, flushIntervalMs: 300 }));
    await page.evaluate(() => {
      for (let i = 0; i < 3; i++) window.pulse.track('tick', { properties: { mark: i } });
    });
    await rx.waitFor(() => rx.delivered().length >= 3, 10000, 'the interval batch');
    assert.equal(rx.requests.length, 1);
    assertExactlyOnce(rx.delivered(), [0, 1, 2]);
  }));

test('pagehide delivers the queue with sendBeacon (text/plain)', () =>
  withContext(async (context) => {
    const page = await openTestPage(context, rx.origin);
    await init(page, initOptions(rx.origin));
    await page.evaluate(() => {
      for (let i = 0; i < 4; i++) window.pulse.track('before_leaving', { properties: { mark: i } });
    });
    assert.equal(rx.requests.length, 0);
    await page.goto('about:blank');
    await rx.waitFor(() => rx.delivered().length >= 4, 10000, 'the beacon');
    const [req] = rx.requests;
    assert.equal(req.headers['sec-fetch-mode'], 'no-cors', 'sent by sendBeacon, not fetch');
    assert.match(req.headers['content-type'], /^text\/plain/);
    assertExactlyOnce(rx.delivered(), [0, 1, 2, 3]);
  }));

test('visibilitychange to hidden delivers the queue with sendBeacon', () =>
  withContext(async (context) => {
    const page = await openTestPage(context, rx.origin);
    await init(page, initOptions(rx.origin));
    await page.evaluate(() => {
      for (let i = 0; i < 3; i++) window.pulse.track('tab_hidden', { properties: { mark: i } });
      Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await rx.waitFor(() => rx.delivered().length >= 3, 10000, 'the beacon');
    assert.equal(rx.requests[0].headers['sec-fetch-mode'], 'no-cors');
    assertExactlyOnce(rx.delivered(), [0, 1, 2]);
    assert.equal(await page.evaluate(() => window.pulse.queueSize()), 0);
  }));

test('a big queue is beaconed in chunks of at most 64 KiB', () =>
  withContext(async (context) => {
    const page = await openTestPage(context, rx.origin);
    await init(page, initOptions(rx.origin));
    const n = await page.evaluate(() => {
      const pad = 'x'.repeat(2000);
      for (let i = 0; i < 60; i++) window.pulse.track('big', { properties: { mark: i, pad } });
      return window.pulse.queueSize();
    });
    assert.equal(n, 60);
    // The first ~60 KB closed a batch by bytes and went out by fetch; let it
    // finish (a request still in flight at unload may be sent twice: the
    // server dedupes by event_id, this test counts exact deliveries).
    await rx.waitFor(() => rx.requests.length >= 1, 10000, 'the batch closed by bytes');
    await page.waitForFunction(() => !window.pulse.stats().inFlight);
    assert.ok(rx.requests[0].events.length < 30);
    await page.goto('about:blank');
    // The beacon quota (64 KiB in flight) lets only part go now; what was not
    // accepted stays stored and goes out on the next visit.
    await rx.waitFor(() => rx.requests.length >= 1, 10000, 'a beacon');
    for (const r of rx.requests) assert.ok(Buffer.byteLength(r.text) <= 65536, 'chunk over 64 KiB');
    const page2 = await openTestPage(context, rx.origin);
    await init(page2, initOptions(rx.origin));
    await page2.evaluate(() => window.pulse.flush());
    await rx.waitFor(() => rx.delivered().length >= 60, 10000, 'all 60 events');
    for (const r of rx.requests) assert.ok(Buffer.byteLength(r.text) <= 65536, 'chunk over 64 KiB');
    assertExactlyOnce(rx.delivered(), [...Array(60).keys()]);
  }));

test('200 events tracked offline arrive exactly once after going online', () =>
  withContext(async (context) => {
    const page = await openTestPage(context, rx.origin);
    await init(page, initOptions(rx.origin, { batchSize: 20, flushIntervalMs: 200 }));
    await context.setOffline(true);
    const queued = await page.evaluate(() => {
      for (let i = 0; i < 200; i++) window.pulse.track('offline_event', { properties: { mark: i } });
      return window.pulse.queueSize();
    });
    assert.equal(queued, 200);
    // Give the interval timers a chance to try (and find the browser offline).
    await page.waitForTimeout(500);
    assert.equal(rx.requests.length, 0, 'nothing can be sent offline');
    await context.setOffline(false);
    await rx.waitFor(() => rx.delivered().length >= 200, 20000, '200 events');
    await page.evaluate(() => window.pulse.flush(2000));
    assertExactlyOnce(rx.delivered(), [...Array(200).keys()]);
  }));

test('200 events tracked offline survive a reload and arrive exactly once', () =>
  withContext(async (context) => {
    const page = await openTestPage(context, rx.origin);
    await init(page, initOptions(rx.origin, { batchSize: 20, flushIntervalMs: 200 }));
    await context.setOffline(true);
    await page.evaluate(() => {
      for (let i = 0; i < 200; i++) window.pulse.track('offline_event', { properties: { mark: i } });
    });
    // Reload while still offline (the page and the package come from the HTTP cache).
    await page.goto(`${rx.origin}/test/index.html`);
    await page.waitForFunction(() => window.pulseReady === true);
    await init(page, initOptions(rx.origin, { batchSize: 20, flushIntervalMs: 200 }));
    await page.waitForFunction(() => window.pulse.queueSize() === 200, null, { timeout: 10000 });
    assert.equal(rx.requests.length, 0);
    await context.setOffline(false);
    await rx.waitFor(() => rx.delivered().length >= 200, 20000, '200 events');
    await page.evaluate(() => window.pulse.flush(2000));
    assertExactlyOnce(rx.delivered(), [...Array(200).keys()]);
    // Nothing of the queue is left in storage.
    const left = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('pulse:q:')));
    assert.deepEqual(left, []);
  }));

test('two tabs on one origin deliver every event exactly once, including a closed tab\'s queue', () =>
  withContext(async (context) => {
    const opts = initOptions(rx.origin, { batchSize: 10, flushIntervalMs: 200 });
    const a = await openTestPage(context, rx.origin);
    const b = await openTestPage(context, rx.origin);
    await init(a, opts);
    await init(b, opts);
    // Both online: each sends its own.
    await a.evaluate(() => { for (let i = 0; i < 30; i++) window.pulse.track('t', { properties: { mark: 'a' + i } }); });
    await b.evaluate(() => { for (let i = 0; i < 30; i++) window.pulse.track('t', { properties: { mark: 'b' + i } }); });
    await rx.waitFor(() => rx.delivered().length >= 60, 10000, '60 events');
    // Offline: tab A queues 50 and is closed; tab B takes its queue over and,
    // once online, sends it along with its own 20.
    await context.setOffline(true);
    await a.evaluate(() => { for (let i = 30; i < 80; i++) window.pulse.track('t', { properties: { mark: 'a' + i } }); });
    await b.evaluate(() => { for (let i = 30; i < 50; i++) window.pulse.track('t', { properties: { mark: 'b' + i } }); });
    await a.close({ runBeforeUnload: true });
    await b.waitForFunction(() => window.pulse.queueSize() === 70, null, { timeout: 10000 });
    await context.setOffline(false);
    await rx.waitFor(() => rx.delivered().length >= 130, 20000, '130 events');
    await b.evaluate(() => window.pulse.flush(2000));
    // A third tab opened now finds nothing left to send.
    const c = await openTestPage(context, rx.origin);
    await init(c, opts);
    await c.evaluate(() => window.pulse.flush(1000));
    assert.equal(await c.evaluate(() => window.pulse.queueSize()), 0);
    const expected = [...Array(80).keys()].map((i) => 'a' + i).concat([...Array(50).keys()].map((i) => 'b' + i));
    assertExactlyOnce(rx.delivered(), expected);
  }));

test('a 500 is retried with the same events; a 400 is dropped, reported and not retried', () =>
  withContext(async (context) => {
    const page = await openTestPage(context, rx.origin);
    await init(page, initOptions(rx.origin));
    rx.plan.push({ status: 500 }, { status: 503, headers: { 'retry-after': '1' } });
    await page.evaluate(() => window.pulse.track('will_retry', { properties: { mark: 'r' }, immediate: true }));
    await rx.waitFor(() => rx.requests.length >= 3, 15000, 'two retries');
    assert.deepEqual(rx.requests.map((r) => r.status), [500, 503, 200]);
    assert.deepEqual(rx.requests.map((r) => r.events[0].event_id),
      Array(3).fill(rx.requests[0].events[0].event_id));
    assert.equal(rx.requests[2].events.length, 1);

    rx.reset();
    rx.plan.push({ status: 400 });
    await page.evaluate(() => window.pulse.track('bad', { properties: { mark: 'bad' }, immediate: true }));
    await rx.waitFor(() => rx.requests.length >= 1, 10000, 'the 400');
    await page.evaluate(() => window.pulse.track('good', { properties: { mark: 'good' }, immediate: true }));
    await rx.waitFor(() => rx.requests.length >= 2, 10000, 'the next request');
    assert.deepEqual(rx.requests.map((r) => r.events.map((e) => e.type)), [['bad'], ['good']]);
    const errors = await page.evaluate(() => window.pulseErrors);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].status, 400);
    assert.equal(errors[0].events, 1);
    assert.equal(await page.evaluate(() => window.pulse.flush()), true);
  }));

test('a rejected list drops only the rejected events (the rest count as delivered)', () =>
  withContext(async (context) => {
    const page = await openTestPage(context, rx.origin);
    await init(page, initOptions(rx.origin, { batchSize: 5 }));
    rx.plan.push({ status: 200, rejected: [1, 3] });
    await page.evaluate(() => { for (let i = 0; i < 5; i++) window.pulse.track('r', { properties: { mark: i } }); });
    await rx.waitFor(() => rx.requests.length >= 1, 10000, 'the batch');
    await page.evaluate(() => window.pulse.track('after', { properties: { mark: 'after' }, immediate: true }));
    await rx.waitFor(() => rx.requests.length >= 2, 10000, 'the next request');
    // Nothing from the first batch is sent again.
    assert.deepEqual(rx.requests[1].events.map((e) => e.properties.mark), ['after']);
    const errors = await page.evaluate(() => window.pulseErrors);
    assert.deepEqual(errors.map((e) => e.eventId), [rx.requests[0].events[1].event_id, rx.requests[0].events[3].event_id]);
    assert.ok(errors.every((e) => e.code === 'rejected'));
    assert.equal(await page.evaluate(() => window.pulse.flush()), true);
    assert.equal(rx.requests.length, 2);
  }));

test('SPA route changes are page views, once each; identify, timed, beforeSend and limits', () =>
  withContext(async (context) => {
    const page = await openTestPage(context, rx.origin);
    await page.evaluate((origin) => {
      window.pulse.init({
        endpoint: origin, writeKey: 'wk_test', skipBots: false, batchSize: 1000, flushIntervalMs: 60000,
        beforeSend: (e) => {
          if (e.type === 'secret') return null;
          e.properties = Object.assign({}, e.properties, { seen: true });
          return e;
        },
      });
    }, rx.origin);
    const refusedBig = await page.evaluate(async () => {
      await window.pulse.init(); // resolves the same load
      history.pushState({}, '', '/test/route-a');
      history.pushState({}, '', '/test/route-a'); // same URL: no second page view
      history.replaceState({}, '', '/test/route-a#section'); // anchor only: same page
      history.pushState({}, '', '/test/route-b');
      history.back(); // popstate → route-a#section… only a new page if the page changed
      await new Promise((r) => setTimeout(r, 100));
      window.pulse.identify('user-42', { plan: 'pro' });
      window.pulse.track('secret');
      const t = window.pulse.timed('upload', { entityType: 'file', entityId: 'f1' });
      await new Promise((r) => setTimeout(r, 30));
      t.complete({ size: 3 });
      t.complete({ size: 4 }); // only the first counts
      window.pulse.timed('abandoned').cancel();
      window.pulse.trackBatch([{ type: 'b1' }, { type: 'b2', properties: { x: 1 } }]);
      return window.pulse.track('too_big', { properties: { pad: 'x'.repeat(33 * 1024) } });
    });
    assert.equal(refusedBig, false, 'an event over 32 KiB is refused');
    await page.evaluate(() => window.pulse.flush());
    const events = rx.delivered();
    const types = events.map((e) => e.type);
    assert.deepEqual(types, ['page_view', 'page_view', 'page_view', 'page_view', 'identify', 'upload', 'b1', 'b2']);
    assert.deepEqual(events.slice(0, 4).map((e) => e.context.page.path),
      ['/test/index.html', '/test/route-a', '/test/route-b', '/test/route-a']);
    assert.equal(events[1].context.page.referrer, `${rx.origin}/test/index.html`);
    const identify = events[4];
    assert.equal(identify.user_id, 'user-42');
    assert.ok(identify.anonymous_id, 'identify carries the anonymous id to link');
    assert.deepEqual(identify.properties, { plan: 'pro', seen: true });
    const upload = events[5];
    assert.equal(upload.user_id, 'user-42');
    assert.ok(upload.duration_ms >= 25 && Number.isInteger(upload.duration_ms), `duration ${upload.duration_ms}`);
    assert.deepEqual(upload.properties, { size: 3, seen: true });
    assert.equal(upload.entity_id, 'f1');
  }));

test('opt-out is remembered, reset gives a new identity, bots are skipped unless allowed', () =>
  withContext(async (context) => {
    const page = await openTestPage(context, rx.origin);
    await init(page, initOptions(rx.origin));
    const before = await page.evaluate(() => window.pulse.stats());
    await page.evaluate(() => {
      window.pulse.track('kept', { properties: { mark: 1 } });
      window.pulse.optOut();
      window.pulse.track('not_kept');
    });
    assert.equal(await page.evaluate(() => window.pulse.queueSize()), 0, 'opt-out discards the queue');
    // A new page load remembers the opt-out.
    const page2 = await openTestPage(context, rx.origin);
    await init(page2, initOptions(rx.origin));
    assert.equal(await page2.evaluate(() => window.pulse.track('still_out')), false);
    await page2.evaluate(() => { window.pulse.optIn(); window.pulse.identify('u1'); window.pulse.reset(); });
    const after = await page2.evaluate(() => window.pulse.stats());
    assert.notEqual(after.anonymousId, before.anonymousId);
    assert.equal(after.userId, undefined);
    await page2.evaluate(() => window.pulse.track('back_in', { immediate: true }));
    await rx.waitFor(() => rx.delivered().length >= 2, 10000, 'events after opt-in');
    assert.deepEqual(rx.delivered().map((e) => e.type), ['identify', 'back_in']);
    assert.equal(rx.delivered()[1].anonymous_id, after.anonymousId);
    // Playwright sets navigator.webdriver: skipped by default.
    const page3 = await openTestPage(context, rx.origin);
    const ok = await page3.evaluate((origin) => window.pulse.init({ endpoint: origin, writeKey: 'wk_test' }), rx.origin);
    assert.equal(ok, true);
    assert.equal(await page3.evaluate(() => window.pulse.track('from_a_bot')), false);
    assert.match(await page3.evaluate(() => window.pulse.stats().disabled), /bot/);
  }));

test('a CSP without wasm-unsafe-eval gives one clear console message and no exception', () =>
  withContext(async (context) => {
    const csp = encodeURIComponent("script-src 'self'; connect-src 'self'");
    const page = await openTestPage(context, rx.origin, `?csp=${csp}`);
    const result = await page.evaluate(async (origin) => {
      const ok = await window.pulse.init({ endpoint: origin, writeKey: 'wk_test', skipBots: false });
      return { ok, tracked: window.pulse.track('x'), flushed: await window.pulse.flush(100) };
    }, rx.origin);
    assert.deepEqual(result, { ok: false, tracked: false, flushed: false });
    const messages = (page.consoleLines || []).filter((l) => l.includes('wasm-unsafe-eval'));
    assert.equal(messages.length, 1, (page.consoleLines || []).join('\n'));
    assert.deepEqual(page.thrown || [], []);
  }));

test('the demo page works against the endpoint with its buttons', () =>
  withContext(async (context) => {
    const page = await context.newPage();
    await page.goto(`${rx.origin}/demo/`);
    await page.waitForFunction(() => document.getElementById('log').textContent.includes('tracker ready'));
    for (const action of ['track', 'identify', 'route', 'flush']) await page.click(`[data-action=${action}]`);
    await rx.waitFor(() => rx.delivered().length >= 4, 10000, 'the demo events');
    assert.deepEqual(rx.delivered().map((e) => e.type), ['page_view', 'button_clicked', 'identify', 'page_view']);
    assert.equal(rx.requests[0].body.write_key, 'wk_dev_demo');
    assert.equal(rx.delivered()[0].environment, 'development');
  }));
