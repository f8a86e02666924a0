// The overview, explore views, export and error states of /dashboard against
// a stack seeded through the real ingest path (tests/dashboard/seed.mjs).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BASE, EMPTY_READ_KEY, OUT, WRITE_KEY, api, apiOk, launch, openDashboard, overviewLoaded, seed } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const num = (s) => Number(s.replace(/[^0-9.]/g, ''));
/** Loads of a resource that failed with one of these statuses are expected in error-state tests. */
const onlyExpected = (problems, statuses) => problems.filter((p) => !statuses.some((s) => p.includes(`status of ${s}`)));

async function cards(page) {
  return page.$$eval('[data-stat]', (els) => Object.fromEntries(els.map((e) => [e.dataset.stat, { value: e.dataset.value, text: e.textContent }])));
}

test('the cards show exactly what /v1/analytics/summary returns, for every range', async () => {
  const page = await openDashboard(browser);
  for (const days of [7, 1, 30]) {
    await page.locator(`.range button[data-days="${days}"]`).click();
    await overviewLoaded(page, days);
    const s = await apiOk(`/v1/analytics/summary?days=${days}`);
    const shown = await cards(page);
    const expected = {
      total_events: s.total_events,
      unique_users: s.unique_users,
      sessions: s.sessions,
      errors: s.events_by_status.failed ?? 0,
      avg_duration_ms: s.avg_duration_ms,
    };
    for (const [k, v] of Object.entries(expected)) {
      assert.equal(shown[k].value, v == null ? '' : String(v), `${k} for days=${days}`);
      if (k !== 'avg_duration_ms') assert.equal(num(shown[k].text), v, `${k} text for days=${days}`);
    }
    assert.equal(expected.errors, s.errors, 'summary errors and events_by_status.failed agree');
    if (days === 7) {
      assert.ok(s.total_events >= seed().ids.length, 'everything seeded is in the 7-day range');
      assert.ok(s.total_events > 0 && s.sessions > 0 && expected.errors > 0 && s.avg_duration_ms > 0);
      // Bars: every type with its count.
      const types = await page.$$eval('#by-type li', (els) => Object.fromEntries(els.map((e) => [e.dataset.name, Number(e.dataset.count)])));
      assert.deepEqual(types, s.events_by_type);
      const cats = await page.$$eval('#by-category li', (els) => Object.fromEntries(els.map((e) => [e.dataset.name, Number(e.dataset.count)])));
      assert.deepEqual(cats, s.events_by_category);
      // Top users, most active first.
      const top = await apiOk('/v1/analytics/top-users?days=7&limit=10');
      const shownTop = await page.$$eval('#top-users li', (els) => els.map((e) => [e.firstChild.textContent, e.querySelector('.num').textContent]));
      assert.deepEqual(shownTop, top.users.map((u) => [u.user_id ?? `anon ${u.anonymous_id}`, `${u.events} event${u.events === 1 ? '' : 's'}`]));
      // Recent activity: the 20 newest with relative times.
      const recent = await apiOk('/v1/events?limit=20');
      const rows = await page.$$eval('#recent li.ev', (els) => els.map((e) => [e.dataset.eventId, e.querySelector('time').textContent]));
      assert.deepEqual(rows.map((r) => r[0]), recent.events.map((e) => e.event_id));
      for (const [, t] of rows) assert.match(t, /^(just now|\d+ (s|min|h|d) ago)$/);
      await page.screenshot({ path: path.join(OUT, 'dashboard.png'), fullPage: true });
    }
  }
  assert.match(await page.locator('#updated').textContent(), /^Last updated \d/);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('the daily chart has one point per day of the range, with the API counts', async () => {
  const page = await openDashboard(browser);
  for (const days of [30, 1, 7]) {
    await page.locator(`.range button[data-days="${days}"]`).click();
    await overviewLoaded(page, days);
    const daily = await apiOk(`/v1/analytics/daily?days=${days}`);
    const points = await page.$$eval('#daily-chart svg [data-date]', (els) => els.map((e) => ({ date: e.dataset.date, events: Number(e.dataset.events), active_users: Number(e.dataset.activeUsers) })));
    assert.equal(points.length, days, `points for days=${days}`);
    assert.deepEqual(points, daily.days.map((d) => ({ date: d.date, events: d.events, active_users: d.active_users })));
    if (days === 7) {
      assert.ok(points.some((p) => p.events === 0) && points.some((p) => p.events > 0), 'zero days and busy days');
      // Taller bars for busier days.
      const heights = await page.$$eval('#daily-chart rect.events', (els) => els.map((e) => Number(e.getAttribute('height'))));
      const busiest = points.reduce((b, p, i) => (p.events > points[b].events ? i : b), 0);
      assert.equal(Math.max(...heights), heights[busiest]);
    }
  }
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('the conversation view shows the 4-step flow in sequence order as a tree', async () => {
  const { conversation } = seed();
  const page = await openDashboard(browser);
  await overviewLoaded(page, 7);
  // Clicking a conversation id anywhere opens its view.
  await page.locator(`#recent a.conversation[href="#conversation/${conversation.id}"]`).first().click();
  await page.waitForSelector('#explore-view li.node');
  const nodes = await page.$$eval('#explore-view li.node', (els) => els.map((e) => ({
    id: e.dataset.eventId,
    sequence: Number(e.dataset.sequence),
    depth: Number(e.dataset.depth),
    parent: e.parentElement.closest('li.node')?.dataset.eventId ?? null,
    type: e.querySelector('.type').textContent,
  })));
  const [s1, s2, s3, s4] = conversation.steps;
  assert.deepEqual(nodes, [
    { id: s1, sequence: 1, depth: 0, parent: null, type: conversation.types[0] },
    { id: s2, sequence: 2, depth: 1, parent: s1, type: conversation.types[1] },
    { id: s3, sequence: 3, depth: 2, parent: s2, type: conversation.types[2] },
    { id: s4, sequence: 4, depth: 1, parent: s1, type: conversation.types[3] },
  ]);
  const c = await apiOk(`/v1/conversations/${conversation.id}`);
  assert.deepEqual(c.events.map((e) => e.event_id), conversation.steps, 'the API orders by sequence too');
  // The full event is one click away.
  await page.locator(`li.node[data-event-id="${s3}"] > details > summary`).click();
  assert.match(await page.locator(`li.node[data-event-id="${s3}"] > details pre`).textContent(), /"step": 3/);
  await page.screenshot({ path: path.join(OUT, 'conversation.png'), fullPage: true });
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('user timeline and session view open from the ids and list the same events as the API', async () => {
  const { session: sid, conversation } = seed();
  const page = await openDashboard(browser);
  await overviewLoaded(page, 7);
  const user = 'u-alice'; // the conversation's user, the most active one
  await page.locator(`#top-users a.user[href="#user/${user}"]`).click();
  await page.waitForSelector('#explore-view[data-kind="user"] li.ev');
  const api1 = await apiOk(`/v1/users/${encodeURIComponent(user)}/events?limit=100`);
  const shown = await page.$$eval('#explore-view li.ev', (els) => els.map((e) => e.dataset.eventId));
  assert.deepEqual(shown, api1.events.map((e) => e.event_id));
  assert.ok(shown.length > 1);
  // A session id in the timeline opens the session, oldest first.
  await page.locator(`#explore-view a.session[href="#session/${sid}"]`).first().click();
  await page.waitForSelector('#explore-view[data-kind="session"] li.node');
  const session = await apiOk(`/v1/sessions/${sid}/events`);
  const nodes = await page.$$eval('#explore-view li.node', (els) => els.map((e) => e.dataset.eventId));
  assert.deepEqual(new Set(nodes), new Set(session.events.map((e) => e.event_id)));
  assert.deepEqual(nodes, conversation.steps, 'nested by parent_id, in order');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

/** Minimal RFC 4180 reader: rows of fields (quotes, doubled quotes, line breaks in quotes). */
function parseCsv(text) {
  const rows = [];
  let row = [], field = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (ch === '"') quoted = false; else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { row.push(field); field = ''; } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field); rows.push(row); row = []; field = '';
    } else field += ch;
  }
  if (field || row.length) { row.push(field); rows.push(row); }
  return rows;
}

test('export downloads NDJSON and CSV files with every event of the range', async () => {
  const { ids } = seed();
  const page = await openDashboard(browser);
  await overviewLoaded(page, 7);
  const total = (await apiOk('/v1/analytics/summary?days=7')).total_events;
  for (const format of ['ndjson', 'csv']) {
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator(`.export button[data-format="${format}"]`).click()]);
    assert.match(download.suggestedFilename(), new RegExp(`^pulse-7d-\\d{4}-\\d{2}-\\d{2}\\.${format}$`));
    const file = path.join(OUT, `export.${format}`);
    await download.saveAs(file);
    const text = await readFile(file, 'utf8');
    let got;
    if (format === 'ndjson') {
      const lines = text.split('\n').filter(Boolean);
      got = lines.map((l) => JSON.parse(l).event_id);
    } else {
      const [header, ...rows] = parseCsv(text).filter((r) => r.length > 1);
      const col = header.indexOf('event_id');
      assert.ok(col >= 0, 'event_id column');
      for (const r of rows) assert.equal(r.length, header.length);
      got = rows.map((r) => r[col]);
    }
    assert.equal(got.length, total, `${format}: one ${format === 'csv' ? 'row' : 'line'} per event`);
    assert.equal(new Set(got).size, got.length, `${format}: no duplicates`);
    const missing = ids.filter((id) => !got.includes(id));
    assert.deepEqual(missing, [], `${format}: every seeded event`);
    await page.waitForFunction((f) => document.querySelector('#export-status').textContent.includes(`.${f}`), format);
  }
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a wrong key or a write key shows a clear message and the key form again', async () => {
  const page = await openDashboard(browser, { key: 'rk_not_a_real_key' });
  await page.waitForSelector('#key-error:not([hidden])');
  assert.match(await page.locator('#key-error').textContent(), /refused \(401/);
  assert.ok(await page.locator('#login').isVisible());
  assert.ok(await page.locator('#app').isHidden());
  assert.equal(await page.evaluate(() => sessionStorage.getItem('pulse.readKey')), null, 'a refused key is not kept');

  await page.locator('#key-input').fill(WRITE_KEY);
  await page.locator('#key-form button[type=submit]').click();
  await page.waitForFunction(() => /403/.test(document.querySelector('#key-error').textContent));
  assert.match(await page.locator('#key-error').textContent(), /read key/);
  assert.ok(await page.locator('#login').isVisible());

  // The right key opens the dashboard; "Change key" goes back to the form.
  await page.locator('#key-input').fill(process.env.DASH_READ_KEY || 'rk_dev_demo');
  await page.locator('#key-form button[type=submit]').click();
  await overviewLoaded(page, 7);
  assert.ok(await page.locator('#key-error').isHidden());
  await page.reload();
  await overviewLoaded(page, 7);
  assert.ok(await page.locator('#app').isVisible(), 'the key is kept for the tab (sessionStorage)');
  await page.locator('#change-key').click();
  assert.ok(await page.locator('#login').isVisible());
  assert.deepEqual(onlyExpected(page.problems, [401, 403]), []);
  await page.context().close();
});

test('API unreachable shows a banner and recovers by itself', async () => {
  const page = await openDashboard(browser);
  await overviewLoaded(page, 7);
  await page.route('**/v1/**', (route) => route.abort('connectionrefused'));
  await page.locator('#refresh').click();
  await page.waitForSelector('#banner:not([hidden])');
  assert.match(await page.locator('#banner').textContent(), /API unreachable.*retrying/);
  assert.notEqual(await page.locator('[data-stat="total_events"]').textContent(), '', 'the last figures stay');
  await page.unroute('**/v1/**');
  // The retry (every 5 s) reloads the overview: banner and error go away.
  await page.waitForFunction(() => document.querySelector('#banner').hidden && document.querySelector('#overview-error').hidden, null, { timeout: 10000 });
  assert.match(await page.locator('#updated').textContent(), /^Last updated/);
  assert.deepEqual(page.problems.filter((p) => !p.includes('net::ERR_CONNECTION_REFUSED')), []);
  await page.context().close();
});

test('an empty project gets a friendly "no events yet" message', { skip: !EMPTY_READ_KEY && 'DASH_EMPTY_READ_KEY not set' }, async () => {
  const page = await openDashboard(browser, { key: EMPTY_READ_KEY });
  await overviewLoaded(page, 7);
  assert.equal((await apiOk('/v1/analytics/summary?days=7', { key: EMPTY_READ_KEY })).total_events, 0);
  const text = await page.locator('#empty').textContent();
  assert.match(text, /No events yet/);
  assert.match(text, /curl -X POST http:\/\/127\.0\.0\.1:\d+\/v1\/events/);
  assert.equal(await page.locator('[data-stat="total_events"]').getAttribute('data-value'), '0');
  assert.equal(await page.locator('#daily-chart [data-date]').count(), 7);
  assert.match(await page.locator('#recent').textContent(), /No events stored yet/);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('the dashboard is served without a key, small, and unknown assets are 404', async () => {
  let bytes = 0;
  for (const [asset, type] of [['', /text\/html/], ['/app.js', /javascript/], ['/app.css', /text\/css/]]) {
    const r = await fetch(`${BASE}/dashboard${asset}`);
    assert.equal(r.status, 200, asset);
    assert.match(r.headers.get('content-type'), type);
    bytes += (await r.arrayBuffer()).byteLength;
  }
  assert.ok(bytes < 40 * 1024, `page, script and style are ${bytes} bytes (budget 40 KB)`);
  assert.equal((await api('/dashboard/nope.js')).status, 404);
});
