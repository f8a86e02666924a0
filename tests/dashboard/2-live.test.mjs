// The live tail: a new event ingested through the real path shows up within
// one poll interval of being readable from /v1/live; pause, filter, dedupe.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { OUT, apiOk, ingest, launch, openDashboard, uuidv7, waitFor, waitStored } from './lib.mjs';

const INTERVAL_MS = 2000;
// Request and render time on top of the interval (a poll is one GET /v1/live).
const SLACK_MS = 1000;
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Records in the page when each live row first appears (same clock as node). */
async function watchRows(page) {
  await page.evaluate(() => {
    window.rowSeenAt = {};
    const list = document.querySelector('#live-list');
    new MutationObserver(() => {
      for (const li of list.children) window.rowSeenAt[li.dataset.eventId] ??= Date.now();
    }).observe(list, { childList: true });
  });
}
const seenAt = (page, id) => page.evaluate((i) => window.rowSeenAt[i] ?? null, id);

/** Resolves with the time /v1/live first returns `id`, polling after `cursor`. */
function whenLive(cursor, id) {
  return waitFor(`${id} in /v1/live`, async () => {
    const r = await apiOk(`/v1/live?limit=500&since=${encodeURIComponent(cursor)}`);
    const at = Date.now();
    if (r.next_cursor) cursor = r.next_cursor;
    return r.events.some((e) => e.event_id === id) ? at : null;
  }, { every: 50, timeout: 20000 });
}

test('live tail: new events within one poll interval, pause/resume, type filter, no duplicates', async () => {
  const page = await openDashboard(browser, { hash: '#live' });
  await page.waitForFunction(() => /last poll/.test(document.querySelector('#live-status').textContent));
  assert.match(await page.locator('#live-status').textContent(), /polling every 2 s/);
  await watchRows(page);

  // 1. A new event: ingest, then measure from "stored" and from "readable in /v1/live".
  const probe = { event_id: uuidv7(), type: 'live_probe', user_id: 'u-live', properties: { n: 1 } };
  const cursor = (await apiOk('/v1/live?limit=1')).next_cursor;
  const sent = Date.now();
  await ingest([probe]);
  const [stored, live] = await Promise.all([waitStored([probe.event_id]), whenLive(cursor, probe.event_id)]);
  const shown = await waitFor('the row in the live tail', () => seenAt(page, probe.event_id), { timeout: 10000, every: 20 });
  const fromLive = shown - live, fromStored = shown - stored;
  console.log(`live tail: ingest→stored ${stored - sent} ms, stored→readable in /v1/live ${live - stored} ms, readable→on screen ${fromLive} ms, stored→on screen ${fromStored} ms (poll interval ${INTERVAL_MS} ms)`);
  assert.ok(fromLive <= INTERVAL_MS + SLACK_MS, `on screen ${fromLive} ms after /v1/live had it (interval ${INTERVAL_MS} ms)`);
  assert.ok(fromStored <= 2 * INTERVAL_MS + SLACK_MS, `on screen ${fromStored} ms after it was stored`);

  // 2. Type filter: only matching rows stay visible.
  const before = await page.locator('#live-list > li').count();
  await page.locator('#live-filter').fill('live_pro');
  const visible = await page.$$eval('#live-list > li:not([hidden])', (els) => els.map((e) => e.dataset.type));
  assert.ok(visible.length >= 1 && visible.every((t) => t === 'live_probe'), JSON.stringify(visible));
  if (before > visible.length) assert.match(await page.locator('#live-status').textContent(), /, \d+ shown/);
  await page.locator('#live-filter').fill('');
  assert.equal(await page.locator('#live-list > li:not([hidden])').count(), await page.locator('#live-list > li').count());

  // 3. Paused: nothing new is shown; resumed: it comes within one interval.
  await page.locator('#live-toggle').click();
  assert.match(await page.locator('#live-status').textContent(), /paused/);
  assert.equal(await page.locator('#live-toggle').getAttribute('aria-pressed'), 'true');
  const late = { event_id: uuidv7(), type: 'live_probe_paused', anonymous_id: 'a-live' };
  const cursor2 = (await apiOk('/v1/live?limit=1')).next_cursor;
  await ingest([late]);
  await whenLive(cursor2, late.event_id);
  await new Promise((r) => setTimeout(r, INTERVAL_MS + 500));
  assert.equal(await seenAt(page, late.event_id), null, 'no rows while paused');
  const resumed = Date.now();
  await page.locator('#live-toggle').click();
  const lateShown = await waitFor('the row after resume', () => seenAt(page, late.event_id), { timeout: 10000, every: 20 });
  assert.ok(lateShown - resumed <= INTERVAL_MS + SLACK_MS, `shown ${lateShown - resumed} ms after resume`);

  // 4. Newest first, and every event once after several polls.
  await new Promise((r) => setTimeout(r, 2 * INTERVAL_MS + 200));
  const ids = await page.$$eval('#live-list > li', (els) => els.map((e) => e.dataset.eventId));
  assert.equal(new Set(ids).size, ids.length, 'no duplicate rows');
  assert.equal(ids[0], late.event_id, 'newest at the top');
  assert.ok(ids.indexOf(probe.event_id) > 0);
  await page.screenshot({ path: path.join(OUT, 'live.png') });
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
