// Reliability: the tracker offline for an hour. 1,000 events are tracked
// while the browser is offline (Playwright's context.setOffline), spread over
// one simulated hour; then the browser comes back online and the receiver
// must get every event exactly once.
//
// The hour is simulated with Playwright's clock (page.clock): the tracker
// takes time from Date.now() (js_sys::Date::now in the wasm, see
// sdk-wasm/src/browser.rs) and schedules its flushes and retries with
// setTimeout from the JS front (js/pulse.js), both of which the clock
// replaces, so the wasm sees the hour pass and its flush timer keeps firing
// through it as it would (each time finding the browser offline).
// Network I/O stays real. Bounded: a few seconds of real time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startReceiver } from './receiver.mjs';
import { launch, initOptions, init } from './browser.mjs';

const EVENTS = 1000;
const HOUR_MS = 3600 * 1000;
const STEPS = 100; // 10 events, then 36 simulated seconds, 100 times

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

test(`${EVENTS} events tracked during a simulated offline hour arrive exactly once`, { timeout: 30000 }, async () => {
  const context = await browser.newContext();
  try {
    // Installed, then paused: time moves only when the test says so.
    const start = Date.parse('2026-11-22T09:00:00Z');
    await context.clock.install({ time: start - 1000 });
    await context.clock.pauseAt(start);
    const page = await context.newPage();
    page.on('pageerror', (e) => { (page.thrown ||= []).push(e); });
    await page.goto(`${rx.origin}/test/index.html`);
    await page.waitForFunction(() => window.pulseReady === true);
    // Default batching: 20 events or 3 s.
    await init(page, initOptions(rx.origin, { batchSize: 20, flushIntervalMs: 3000 }));
    assert.equal(await page.evaluate(() => Date.now()), start, 'the page runs on the simulated clock');

    await context.setOffline(true);
    const per = EVENTS / STEPS;
    for (let step = 0; step < STEPS; step++) {
      await page.evaluate(([from, n]) => {
        for (let i = from; i < from + n; i++) window.pulse.track('offline_hour', { properties: { mark: i } });
      }, [step * per, per]);
      await page.clock.runFor(HOUR_MS / STEPS);
    }
    const simulated = (await page.evaluate(() => Date.now())) - start;
    assert.equal(simulated, HOUR_MS, 'one hour passed on the page');
    assert.equal(rx.requests.length, 0, 'nothing reached the receiver while offline');
    assert.equal(await page.evaluate(() => window.pulse.queueSize()), EVENTS, 'every event is queued');

    await context.setOffline(false);
    // Let the clock move while the sends (real network) complete.
    const deadline = Date.now() + 20000;
    while (rx.delivered().length < EVENTS && Date.now() < deadline) {
      await page.clock.runFor(500);
      await new Promise((r) => setTimeout(r, 25));
    }
    // A further simulated minute: nothing is sent again.
    await page.clock.runFor(60000);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await page.evaluate(() => window.pulse.queueSize()), 0, 'the queue is empty');

    const delivered = rx.delivered();
    const ids = new Map();
    for (const e of delivered) ids.set(e.event_id, (ids.get(e.event_id) || 0) + 1);
    const twice = [...ids].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], 'event ids received more than once');
    assert.equal(ids.size, EVENTS, 'distinct event ids received');
    const marks = new Set(delivered.map((e) => e.properties && e.properties.mark));
    assert.equal(marks.size, EVENTS);
    for (let i = 0; i < EVENTS; i++) assert.ok(marks.has(i), `event ${i} arrived`);

    // The events carry the simulated times: an hour apart from first to last.
    const times = delivered.map((e) => Date.parse(e.timestamp)).sort((a, b) => a - b);
    assert.ok(times[0] >= start && times[0] < start + HOUR_MS / STEPS, `first event at ${delivered[0].timestamp}`);
    assert.ok(times[times.length - 1] - times[0] >= HOUR_MS - 2 * HOUR_MS / STEPS, 'events span the hour');
    // Tracked every 3.6 s: one session (30 min idle timeout) for the hour.
    assert.equal(new Set(delivered.map((e) => e.session_id)).size, 1, 'one session');
    // Every request says when it was sent (clock-skew correction): after the hour.
    for (const r of rx.requests) {
      assert.ok(Date.parse(r.body.sent_at) >= start + HOUR_MS, `sent_at ${r.body.sent_at}`);
    }
    assert.deepEqual(page.thrown || [], [], 'no error thrown into the page');
    console.log(`offline hour: ${EVENTS} events, ${rx.requests.length} requests after going online, `
      + `${twice.length} duplicates`);
  } finally {
    await context.close();
  }
});
