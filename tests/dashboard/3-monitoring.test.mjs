// The "User flow debug" tab: monitoring turned on for user A shows A's events
// (all properties) and never B's; a short TTL ends the recording by itself.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { MONITOR_CACHE_MS, OUT, api, apiOk, ingest, launch, openDashboard, sleep, uuidv7, waitFor, waitStored } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const run = Date.now().toString(36);
const streamIds = (page) => page.$$eval('#debug-stream > li', (els) => els.map((e) => e.dataset.eventId));

async function startMonitoring(page, user, ttlHours) {
  await page.locator('#monitor-user').fill(user);
  await page.locator('#monitor-ttl').fill(String(ttlHours));
  await page.locator('#monitor-form button[type=submit]').click();
  await page.waitForSelector(`#monitored li[data-user="${user}"]`);
  await page.waitForFunction((u) => document.querySelector('#debug-stream').dataset.user === u && document.querySelector('#debug-stream').dataset.monitoring === 'true', user);
  // The consumer refreshes its list of monitored users every MONITOR_CACHE_SECONDS.
  await sleep(MONITOR_CACHE_MS + 500);
}

test('monitoring user A shows A\'s events with all properties, and not B\'s', async () => {
  const A = `mon-a-${run}`, B = `mon-b-${run}`;
  const page = await openDashboard(browser, { hash: '#debug' });
  await page.waitForSelector('#monitored :is(ul, p)');
  await startMonitoring(page, A, 1);
  const listed = await apiOk('/v1/monitoring/users');
  const entry = listed.users.find((u) => u.user_id === A);
  assert.ok(entry, 'A is monitored');
  const hours = (entry.until_ms - Date.now()) / 3_600_000;
  assert.ok(hours > 0.9 && hours <= 1, `window of about 1 h, got ${hours}`);

  const aEvents = [
    { event_id: uuidv7(), type: 'checkout_started', user_id: A, properties: { cart: { items: [{ sku: 'sku-1', qty: 2 }], total: 19.9 }, coupon: 'DEBUG-ME' } },
    { event_id: uuidv7(), type: 'checkout_failed', user_id: A, status: 'failed', properties: { reason: 'card declined' } },
    { event_id: uuidv7(), type: 'page_view', anonymous_id: A, properties: { path: '/help' } },
  ];
  const bEvents = [
    { event_id: uuidv7(), type: 'checkout_started', user_id: B, properties: { secret: 'not for A' } },
    { event_id: uuidv7(), type: 'page_view', user_id: B },
  ];
  await ingest([aEvents[0], bEvents[0], aEvents[1], bEvents[1], aEvents[2]]);
  await waitStored([...aEvents, ...bEvents].map((e) => e.event_id));
  const stored = Date.now();
  await waitFor('A\'s events in the debug stream', async () => {
    const ids = await streamIds(page);
    return aEvents.every((e) => ids.includes(e.event_id));
  }, { timeout: 15000 });
  console.log(`monitoring: A's events on screen ${Date.now() - stored} ms after they were stored`);
  await sleep(2500); // one more poll: B's must still be absent
  const ids = await streamIds(page);
  assert.deepEqual(bEvents.filter((e) => ids.includes(e.event_id)), [], 'no event of B');
  assert.equal(ids.length, aEvents.length, 'exactly A\'s events');
  const recorded = await apiOk(`/v1/monitoring/users/${A}/events`);
  assert.equal(recorded.monitoring, true);
  assert.deepEqual(ids, recorded.events.map((e) => e.event_id).reverse(), 'the API\'s order, newest at the top');
  // Full properties, pretty-printed, behind a click.
  const row = page.locator(`#debug-stream li[data-event-id="${aEvents[0].event_id}"]`);
  assert.ok(await row.locator('pre').isHidden());
  await row.locator('summary').click();
  const json = JSON.parse(await row.locator('pre').textContent());
  assert.deepEqual(json.properties, aEvents[0].properties);
  await page.screenshot({ path: path.join(OUT, 'debug.png'), fullPage: true });
  assert.match(await page.locator('#stream-status').textContent(), /Monitoring until .* polling every 2 s/);
  // The API agrees: B is not monitored and has nothing recorded.
  const b = await apiOk(`/v1/monitoring/users/${B}/events`);
  assert.equal(b.monitoring, false);
  assert.deepEqual(b.events, []);

  // Stop: A leaves the list.
  await page.locator(`#monitored li[data-user="${A}"] button.stop`).click();
  await page.waitForSelector(`#monitored li[data-user="${A}"]`, { state: 'detached' });
  assert.ok(!(await apiOk('/v1/monitoring/users')).users.some((u) => u.user_id === A));
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('monitoring with a short TTL ends by itself: later events are not recorded', async () => {
  const C = `mon-c-${run}`;
  const ttlHours = 0.002; // 7.2 s
  const page = await openDashboard(browser, { hash: '#debug' });
  await startMonitoring(page, C, ttlHours);
  const { until_ms: until } = (await apiOk('/v1/monitoring/users')).users.find((u) => u.user_id === C);
  const during = { event_id: uuidv7(), type: 'during_window', user_id: C };
  await ingest([during]);
  await waitFor('the in-window event in the stream', async () => (await streamIds(page)).includes(during.event_id), { timeout: 15000 });

  await sleep(Math.max(0, until - Date.now()) + 500);
  await page.locator('#refresh').click();
  await page.waitForSelector(`#monitored li[data-user="${C}"]`, { state: 'detached' });
  await page.waitForFunction(() => document.querySelector('#debug-stream').dataset.monitoring === 'false');
  assert.match(await page.locator('#stream-status').textContent(), /Not monitored now/);
  const afterEnd = { event_id: uuidv7(), type: 'after_window', user_id: C };
  await ingest([afterEnd]);
  await waitStored([afterEnd.event_id]);
  await sleep(2500);
  assert.ok(!(await streamIds(page)).includes(afterEnd.event_id), 'nothing recorded after the TTL');
  const r = await api(`/v1/monitoring/users/${C}/events`);
  assert.equal(r.status, 200);
  assert.equal(r.body.monitoring, false);
  assert.ok(!r.body.events.some((e) => e.event_id === afterEnd.event_id));
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
