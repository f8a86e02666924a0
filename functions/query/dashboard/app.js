// Pulse dashboard: one static page over the query API (same origin, read key
// in sessionStorage). No framework and no build step: plain DOM and SVG.
'use strict';
(() => {
  const KEY = 'pulse.readKey';
  const LIVE_MS = 2000;
  const DEBUG_MS = 2000;
  const REFRESH_MS = 30000;
  const RETRY_MS = 5000;
  const LIVE_CAP = 500;
  const state = { key: sessionStorage.getItem(KEY), days: Number(sessionStorage.getItem('pulse.days')) || 7,
    tab: 'overview', seq: 0, updated: null, retry: null, down: false };
  const $ = (s, r = document) => r.querySelector(s);
  const $$ = (s, r = document) => [...r.querySelectorAll(s)];
  const nf = new Intl.NumberFormat('en-US');
  const MONTHS = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split(' ');

  // ---- DOM helpers ---------------------------------------------------------
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of kids.flat()) if (c != null && c !== false) el.append(c);
    return el;
  }
  function svg(tag, attrs, ...kids) {
    const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v != null) el.setAttribute(k, v);
    for (const c of kids.flat()) if (c != null) el.append(c);
    return el;
  }
  const show = (el, on) => { el.hidden = !on; };
  const fill = (el, ...kids) => { el.replaceChildren(...kids.flat().filter((k) => k != null)); };
  const muted = (t) => h('p', { class: 'muted', text: t });

  // ---- formatting ----------------------------------------------------------
  function ago(ms) {
    const s = Math.round((Date.now() - ms) / 1000);
    if (s < -60) return 'in the future';
    if (s < 10) return 'just now';
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return `${Math.floor(s / 86400)} d ago`;
  }
  const clock = (d) => d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const dayLabel = (iso) => `${MONTHS[Number(iso.slice(5, 7)) - 1]} ${Number(iso.slice(8, 10))}`;
  function duration(ms) {
    if (ms == null) return '–';
    if (ms < 1000) return `${nf.format(ms)} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
    return `${(ms / 60000).toFixed(1)} min`;
  }
  const evTime = (e) => e.timestamp ?? Date.parse(e.timestamp_iso);
  function timeEl(ms) {
    const iso = new Date(ms).toISOString();
    return h('time', { datetime: iso, title: iso, 'data-ts': ms, text: ago(ms) });
  }
  function idLink(kind, id, label) {
    if (id == null || id === '') return null;
    return h('a', { class: `id ${kind}`, href: `#${kind}/${encodeURIComponent(id)}`, 'data-kind': kind, title: `${kind} ${id}`, text: label ?? String(id) });
  }

  // ---- API -----------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, message, parameter) { super(message); this.status = status; this.parameter = parameter; }
  }
  async function api(path, { method = 'GET', raw = false } = {}) {
    if (!state.key) throw new ApiError(401, 'no key');
    let res;
    try {
      res = await fetch(path, { method, headers: { Authorization: `Bearer ${state.key}` }, cache: 'no-store' });
    } catch {
      unreachable('network error');
      throw new ApiError(0, 'API unreachable');
    }
    if (res.status >= 500) {
      unreachable(`HTTP ${res.status}`);
      throw new ApiError(res.status, 'API unreachable');
    }
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      const err = new ApiError(res.status, body.error?.message || res.statusText || `HTTP ${res.status}`, body.error?.parameter);
      if (res.status === 401 || res.status === 403) needKey(err);
      else reachable();
      throw err;
    }
    reachable();
    return raw ? res : res.json();
  }
  function unreachable(why) {
    state.down = true;
    const b = $('#banner');
    b.textContent = `API unreachable (${why}), retrying every ${RETRY_MS / 1000} s…`;
    show(b, true);
    if (!state.retry) state.retry = setTimeout(() => { state.retry = null; if (state.key) refreshCurrent(); }, RETRY_MS);
  }
  function reachable() {
    if (!state.down) return;
    state.down = false;
    show($('#banner'), false);
  }
  function needKey(err) {
    state.key = null;
    sessionStorage.removeItem(KEY);
    stopTimers();
    const msg = err.status === 403
      ? `This key cannot read (403: ${err.message}). The dashboard needs the project's read key (rk_…), not the write key.`
      : `The key was refused (401: ${err.message}). Check it and enter the project's read key.`;
    const e = $('#key-error');
    e.textContent = msg;
    show(e, true);
    showLogin();
  }
  const fail = (el, err) => {
    if (err.status === 401 || err.status === 403) return;
    fill(el, h('p', { class: 'error', role: 'alert', text: err.status === 0 || err.status >= 500 ? 'API unreachable, retrying…' : `Error ${err.status}: ${err.message}` }));
  };

  // ---- key form ------------------------------------------------------------
  function showLogin() {
    show($('#booting'), false);
    show($('#app'), false);
    show($('#login'), true);
    $('#key-input').value = '';
    $('#key-input').focus();
  }
  function showApp() {
    show($('#booting'), false);
    show($('#login'), false);
    show($('#app'), true);
    route();
  }
  $('#key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const key = $('#key-input').value.trim();
    if (!key) return;
    state.key = key;
    sessionStorage.setItem(KEY, key);
    show($('#key-error'), false);
    state.updated = null;
    showApp();
  });
  $('#change-key').addEventListener('click', () => {
    state.key = null;
    sessionStorage.removeItem(KEY);
    stopTimers();
    show($('#key-error'), false);
    showLogin();
  });

  // ---- overview ------------------------------------------------------------
  function setRange(days) {
    state.days = days;
    sessionStorage.setItem('pulse.days', String(days));
    for (const b of $$('.range button')) b.setAttribute('aria-pressed', String(Number(b.dataset.days) === days));
  }
  for (const b of $$('.range button')) {
    b.addEventListener('click', () => {
      setRange(Number(b.dataset.days));
      if (state.tab !== 'overview') location.hash = '#overview';
      else loadOverview();
    });
  }
  $('#refresh').addEventListener('click', () => refreshCurrent());

  async function loadOverview() {
    if (!state.key) return;
    const days = state.days;
    const seq = ++state.seq;
    const cards = $('#cards');
    cards.setAttribute('aria-busy', 'true');
    $('#updated').textContent = 'Loading…';
    try {
      const [summary, daily, top, recent] = await Promise.all([
        api(`/v1/analytics/summary?days=${days}`),
        api(`/v1/analytics/daily?days=${days}`),
        api(`/v1/analytics/top-users?days=${days}&limit=10`),
        api('/v1/events?limit=20'),
      ]);
      if (seq !== state.seq) return;
      show($('#overview-error'), false);
      renderCards(summary);
      renderDaily(daily.days || []);
      renderBars($('#by-category'), summary.events_by_category, 'category');
      renderBars($('#by-type'), summary.events_by_type, 'type');
      renderTop(top.users || []);
      renderFeed($('#recent'), recent.events || [], 'No events stored yet.');
      renderEmpty(summary.total_events, (recent.events || []).length);
      state.updated = new Date();
      cards.dataset.days = String(days);
      cards.dataset.loaded = 'true';
      updatedText();
    } catch (err) {
      if (seq !== state.seq) return;
      if (err.status !== 401 && err.status !== 403) {
        $('#updated').textContent = state.updated ? `Last updated ${clock(state.updated)} (refresh failed)` : 'Not loaded';
        const e = $('#overview-error');
        e.textContent = err.status === 0 || err.status >= 500 ? 'The API is unreachable; the figures below may be stale. Retrying…' : `Could not load the overview: ${err.message}`;
        show(e, true);
      }
    } finally {
      cards.removeAttribute('aria-busy');
    }
  }
  function updatedText() {
    if (state.updated) $('#updated').textContent = `Last updated ${clock(state.updated)} · auto-refresh 30 s`;
  }
  function renderCards(s) {
    const errors = s.events_by_status?.failed ?? s.errors ?? 0;
    const values = { total_events: s.total_events, unique_users: s.unique_users, sessions: s.sessions, errors, avg_duration_ms: s.avg_duration_ms };
    for (const [k, v] of Object.entries(values)) {
      const el = $(`[data-stat="${k}"]`);
      el.dataset.value = v == null ? '' : String(v);
      el.textContent = k === 'avg_duration_ms' ? duration(v) : nf.format(v ?? 0);
      el.title = v == null ? 'no timed events' : String(v);
    }
  }
  function renderEmpty(total, recent) {
    const box = $('#empty');
    if (total > 0) return show(box, false);
    const cmd = `curl -X POST ${location.origin}/v1/events \\\n  -H 'Authorization: Bearer <your write key>' -H 'Content-Type: application/json' \\\n  -d '{"type":"hello_world","user_id":"u-1"}'`;
    fill(box, recent === 0
      ? [h('p', { text: 'No events yet — send one with curl, then press Refresh:' }), h('pre', { text: cmd })]
      : [h('p', { text: 'No events in this range. Try a longer range; the most recent activity is listed below.' })]);
    show(box, true);
  }

  function niceMax(v) {
    if (v <= 5) return 5;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return v;
  }
  function renderDaily(days) {
    const box = $('#daily-chart');
    if (!days.length) return fill(box, muted('No days in this range.'));
    const W = 720, H = 220, L = 44, R = 12, T = 12, B = 28;
    const pw = W - L - R, ph = H - T - B, n = days.length;
    const max = niceMax(Math.max(1, ...days.map((d) => Math.max(d.events, d.active_users))));
    const x = (i) => L + (pw * (i + 0.5)) / n;
    const y = (v) => T + ph - (ph * v) / max;
    const bw = Math.max(2, Math.min(40, (pw / n) * 0.6));
    const total = days.reduce((a, d) => a + d.events, 0);
    const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Daily events and active users, ${n} days, ${total} events`, class: 'daily' });
    for (const v of [0, max / 2, max]) {
      chart.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }),
        svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, nf.format(v)));
    }
    const every = Math.ceil(n / 8);
    days.forEach((d, i) => {
      if (i % every === 0 || i === n - 1) chart.append(svg('text', { x: x(i), y: H - 8, 'text-anchor': 'middle', class: 'axis' }, dayLabel(d.date)));
    });
    if (n > 1) chart.append(svg('polyline', { class: 'users', points: days.map((d, i) => `${x(i).toFixed(1)},${y(d.active_users).toFixed(1)}`).join(' ') }));
    days.forEach((d, i) => {
      const tip = `${d.date}: ${d.events} events, ${d.active_users} active users, ${d.sessions} sessions, ${d.errors} errors`;
      chart.append(svg('g', { class: 'pt', 'data-date': d.date, 'data-events': d.events, 'data-active-users': d.active_users, tabindex: 0 },
        svg('title', {}, tip),
        svg('rect', { class: 'events', x: (x(i) - bw / 2).toFixed(1), y: y(d.events).toFixed(1), width: bw.toFixed(1), height: (T + ph - y(d.events)).toFixed(1) }),
        svg('circle', { class: 'users', cx: x(i).toFixed(1), cy: y(d.active_users).toFixed(1), r: n > 40 ? 2 : 3.5 })));
    });
    const table = h('table', { class: 'data' },
      h('thead', {}, h('tr', {}, ['Day', 'Events', 'Active users', 'Sessions', 'Errors', 'Avg duration'].map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, days.slice().reverse().map((d) => h('tr', {}, [d.date, nf.format(d.events), nf.format(d.active_users), nf.format(d.sessions), nf.format(d.errors), duration(d.avg_duration_ms)].map((t) => h('td', { text: t }))))));
    fill(box, chart, h('details', {}, h('summary', { text: 'Show as a table' }), table));
  }
  function renderBars(box, counts, what) {
    const rows = Object.entries(counts || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    if (!rows.length) return fill(box, muted(`No events by ${what} in this range.`));
    const max = rows[0][1];
    const shown = rows.slice(0, 12);
    fill(box, h('ul', { class: 'bars' }, shown.map(([name, n]) => {
      const bar = h('span', { class: 'fill' });
      bar.style.width = `${Math.max(1, (100 * n) / max)}%`;
      return h('li', { 'data-name': name, 'data-count': n }, h('span', { class: 'label', title: name, text: name }), h('span', { class: 'bar' }, bar), h('span', { class: 'num', text: nf.format(n) }));
    })), rows.length > shown.length ? muted(`and ${rows.length - shown.length} more`) : null);
  }
  function renderTop(users) {
    const box = $('#top-users');
    if (!users.length) return fill(box, muted('No users in this range.'));
    fill(box, h('ol', { class: 'top-list' }, users.map((u) => h('li', {},
      u.user_id != null ? idLink('user', u.user_id) : h('span', { class: 'id anon', title: 'anonymous id', text: `anonymous ${u.anonymous_id}` }),
      h('span', { class: 'num', text: `${nf.format(u.events)} events` })))));
  }

  // ---- event rows (shared by every list) ----------------------------------
  function eventRow(e, { full = false } = {}) {
    const status = e.status ? h('span', { class: `status ${e.status}`, text: e.status }) : null;
    const who = e.user_id != null ? idLink('user', e.user_id) : e.anonymous_id != null ? h('span', { class: 'id anon', title: 'anonymous id', text: `anon ${e.anonymous_id}` }) : null;
    const main = [
      timeEl(evTime(e)),
      h('span', { class: 'type', text: e.type }),
      status,
      e.duration_ms != null ? h('span', { class: 'muted', text: duration(e.duration_ms) }) : null,
      who,
      e.session_id != null ? idLink('session', e.session_id, `session ${e.session_id}`) : null,
      e.conversation_id != null ? idLink('conversation', e.conversation_id, `conversation ${e.conversation_id}${e.sequence != null ? ` #${e.sequence}` : ''}`) : null,
    ];
    const li = h('li', { class: 'ev', 'data-event-id': e.event_id, 'data-type': e.type });
    if (full) {
      li.append(h('details', {}, h('summary', {}, main), h('pre', { class: 'json', text: JSON.stringify(e, null, 2) })));
    } else li.append(...main.filter(Boolean));
    return li;
  }
  function renderFeed(box, events, emptyText) {
    fill(box, events.length ? h('ol', { class: 'feed' }, events.map((e) => eventRow(e))) : muted(emptyText));
  }

  // ---- explore: user timeline, session, conversation -----------------------
  async function openView(kind, id) {
    $('#explore-kind').value = kind;
    $('#explore-id').value = id;
    const box = $('#explore-view');
    fill(box, muted('Loading…'));
    box.dataset.kind = kind;
    box.dataset.id = id;
    const enc = encodeURIComponent(id);
    try {
      if (kind === 'conversation') {
        const c = await api(`/v1/conversations/${enc}`);
        return fill(box, h('h2', { text: `Conversation ${id}` }), muted(`${c.events.length} events in sequence order`), flowTree(c.events, c.tree, c.orphans));
      }
      const path = kind === 'user' ? `/v1/users/${enc}/events` : `/v1/sessions/${enc}/events`;
      const events = [];
      let cursor = null;
      const list = h('ol', { class: 'feed' });
      const more = h('button', { type: 'button', text: 'Load older events', hidden: true });
      const page = async () => {
        const r = await api(`${path}?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        cursor = r.next_cursor;
        events.push(...r.events);
        more.hidden = !cursor;
        return r.events;
      };
      more.addEventListener('click', async () => { try { for (const e of await page()) list.append(eventRow(e, { full: true })); } catch (err) { fail(box, err); } });
      await page();
      if (kind === 'user') {
        for (const e of events) list.append(eventRow(e, { full: true }));
        return fill(box, h('h2', { text: `User ${id}` }), muted(events.length ? 'Newest first; open a row for all its properties.' : 'No events for this user.'), list, more);
      }
      while (cursor && events.length < 1000) await page();
      events.sort((a, b) => evTime(a) - evTime(b));
      fill(box, h('h2', { text: `Session ${id}` }), events.length ? [muted(`${events.length} events, oldest first, nested by parent_id`), flowTree(events, buildTree(events), [])] : muted('No events in this session.'));
    } catch (err) {
      if (err.status === 404) fill(box, h('p', { class: 'error', text: `No ${kind} ${id}: ${err.message}` }));
      else fail(box, err);
    }
  }
  function buildTree(events) {
    const ids = new Set(events.map((e) => e.event_id));
    const kids = new Map();
    const roots = [];
    for (const e of events) {
      if (e.parent_id != null && ids.has(e.parent_id) && e.parent_id !== e.event_id) {
        if (!kids.has(e.parent_id)) kids.set(e.parent_id, []);
        kids.get(e.parent_id).push(e.event_id);
      } else roots.push(e.event_id);
    }
    const seen = new Set();
    const node = (id) => { seen.add(id); return { event_id: id, children: (kids.get(id) || []).filter((k) => !seen.has(k)).map(node) }; };
    const tree = roots.map(node);
    for (const e of events) if (!seen.has(e.event_id)) tree.push(node(e.event_id));
    return tree;
  }
  function flowTree(events, tree, orphans) {
    const byId = new Map(events.map((e, i) => [e.event_id, { e, i }]));
    const order = (a, b) => {
      const x = byId.get(a.event_id), y = byId.get(b.event_id);
      const sx = x?.e.sequence ?? Infinity, sy = y?.e.sequence ?? Infinity;
      return sx - sy || (x?.i ?? 0) - (y?.i ?? 0);
    };
    const orphan = new Set(orphans || []);
    const render = (nodes, depth) => h('ol', { class: depth ? 'tree sub' : 'tree' }, nodes.slice().sort(order).map((n) => {
      const e = byId.get(n.event_id)?.e || { event_id: n.event_id, type: '(not loaded)' };
      const li = h('li', { class: 'node', 'data-event-id': n.event_id, 'data-sequence': e.sequence ?? '', 'data-depth': depth },
        h('div', { class: 'step' },
          h('span', { class: 'seq', text: e.sequence != null ? `#${e.sequence}` : '•' }),
          h('span', { class: 'type', text: e.type }),
          e.status ? h('span', { class: `status ${e.status}`, text: e.status }) : null,
          e.duration_ms != null ? h('span', { class: 'muted', text: duration(e.duration_ms) }) : null,
          e.timestamp != null ? timeEl(evTime(e)) : null,
          e.user_id != null ? idLink('user', e.user_id) : null,
          orphan.has(n.event_id) ? h('span', { class: 'status failed', text: 'parent cycle' }) : null),
        h('details', {}, h('summary', { text: 'properties' }), h('pre', { class: 'json', text: JSON.stringify(e, null, 2) })));
      if (n.children?.length) li.append(render(n.children, depth + 1));
      return li;
    }));
    return render(tree || [], 0);
  }
  $('#explore-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = $('#explore-id').value.trim();
    if (id) location.hash = `#${$('#explore-kind').value}/${encodeURIComponent(id)}`;
  });

  // ---- live tail -----------------------------------------------------------
  const live = { cursor: null, paused: false, timer: null, busy: false, seen: new Set(), types: new Set(), last: null };
  function liveMatches(li) {
    const f = $('#live-filter').value.trim().toLowerCase();
    return !f || li.dataset.type.toLowerCase().includes(f);
  }
  function liveStatus(extra) {
    const n = $('#live-list').children.length;
    const shown = $$('#live-list > li:not([hidden])').length;
    const poll = live.paused ? 'paused' : `polling every ${LIVE_MS / 1000} s`;
    $('#live-status').textContent = `${poll}${live.last ? ` · last poll ${clock(live.last)}` : ''} · ${n} events${shown !== n ? `, ${shown} shown` : ''}${extra ? ` · ${extra}` : ''}`;
  }
  function liveAdd(events) {
    const list = $('#live-list');
    for (const e of events) {
      if (live.seen.has(e.event_id)) continue;
      live.seen.add(e.event_id);
      const li = eventRow(e, { full: true });
      li.hidden = !liveMatches(li);
      list.prepend(li);
      if (!live.types.has(e.type)) { live.types.add(e.type); $('#live-types').append(h('option', { value: e.type })); }
    }
    while (list.children.length > LIVE_CAP) list.lastElementChild.remove();
    if (live.seen.size > 20 * LIVE_CAP) live.seen = new Set($$('#live-list > li').map((li) => li.dataset.eventId));
  }
  async function livePoll() {
    live.timer = null;
    if (live.busy || live.paused || state.tab !== 'live' || !state.key) return;
    live.busy = true;
    const started = Date.now();
    let note = '';
    try {
      for (let round = 0; round < 10; round++) {
        const r = await api(`/v1/live?limit=500${live.cursor ? `&since=${encodeURIComponent(live.cursor)}` : ''}`);
        if (r.next_cursor) live.cursor = r.next_cursor;
        liveAdd(r.events || []);
        if (!r.more) break;
      }
      live.last = new Date();
    } catch (err) {
      if (err.status === 400 && err.parameter === 'since') live.cursor = null;
      note = err.status === 0 || err.status >= 500 ? 'API unreachable, retrying' : `error: ${err.message}`;
    } finally {
      live.busy = false;
    }
    liveStatus(note);
    liveSchedule(Math.max(0, LIVE_MS - (Date.now() - started)));
  }
  function liveSchedule(ms) {
    if (live.timer || live.paused || state.tab !== 'live' || !state.key) return;
    live.timer = setTimeout(livePoll, ms);
  }
  $('#live-toggle').addEventListener('click', () => {
    live.paused = !live.paused;
    const b = $('#live-toggle');
    b.textContent = live.paused ? 'Resume' : 'Pause';
    b.setAttribute('aria-pressed', String(live.paused));
    if (live.paused) { clearTimeout(live.timer); live.timer = null; } else liveSchedule(0);
    liveStatus();
  });
  $('#live-filter').addEventListener('input', () => {
    for (const li of $$('#live-list > li')) li.hidden = !liveMatches(li);
    liveStatus();
  });

  // ---- user flow debug (monitoring) ----------------------------------------
  const dbg = { user: null, cursor: null, timer: null, busy: false, seen: new Set(), listAt: 0, gen: 0 };
  async function loadMonitored() {
    const box = $('#monitored');
    dbg.listAt = Date.now();
    try {
      const r = await api('/v1/monitoring/users');
      if (!r.users.length) return fill(box, muted('Nobody is monitored. Start with the form above.'));
      fill(box, h('ul', { class: 'monitored' }, r.users.map((u) => h('li', { 'data-user': u.user_id, class: u.user_id === dbg.user ? 'selected' : null },
        h('button', { type: 'button', class: 'link', text: u.user_id, title: 'Watch this user', onclick: () => { location.hash = `#debug/${encodeURIComponent(u.user_id)}`; } }),
        h('span', { class: 'muted', title: u.until, text: `until ${clock(new Date(u.until_ms ?? Date.parse(u.until)))}` }),
        h('button', { type: 'button', class: 'stop', text: 'Stop', 'aria-label': `Stop monitoring ${u.user_id}`, onclick: () => stopMonitoring(u.user_id) })))));
    } catch (err) { fail(box, err); }
  }
  async function stopMonitoring(user) {
    try {
      await api(`/v1/monitoring/users/${encodeURIComponent(user)}`, { method: 'DELETE' });
      if (user === dbg.user) $('#stream-status').textContent = `Monitoring of ${user} stopped. Earlier events stay listed.`;
    } catch (err) { $('#stream-status').textContent = `Could not stop: ${err.message}`; }
    loadMonitored();
  }
  $('#monitor-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const user = $('#monitor-user').value.trim();
    const ttl = $('#monitor-ttl').value.trim() || '24';
    if (!user) return;
    try {
      await api(`/v1/monitoring/users/${encodeURIComponent(user)}?ttl_hours=${encodeURIComponent(ttl)}`, { method: 'POST' });
      await loadMonitored();
      if (dbg.user === user) debugSchedule(0); else location.hash = `#debug/${encodeURIComponent(user)}`;
    } catch (err) {
      $('#stream-status').textContent = err.status === 400 ? `Cannot start monitoring: ${err.message}` : `Cannot start monitoring (${err.message})`;
    }
  });
  function selectDebugUser(user) {
    if (user === dbg.user) return debugSchedule(0);
    dbg.gen++;
    clearTimeout(dbg.timer);
    dbg.timer = null;
    dbg.user = user;
    dbg.cursor = null;
    dbg.seen = new Set();
    $('#debug-stream').replaceChildren();
    $('#stream-title').textContent = user ? `Events of ${user}` : 'Event stream';
    $('#debug-stream').dataset.user = user || '';
    for (const li of $$('#monitored li[data-user]')) li.classList.toggle('selected', li.dataset.user === user);
    debugSchedule(0);
  }
  async function debugPoll() {
    dbg.timer = null;
    if (dbg.busy || state.tab !== 'debug' || !state.key) return;
    const started = Date.now();
    const gen = dbg.gen;
    dbg.busy = true;
    try {
      if (Date.now() - dbg.listAt > 10000) await loadMonitored();
      if (dbg.user) {
        const r = await api(`/v1/monitoring/users/${encodeURIComponent(dbg.user)}/events?limit=500${dbg.cursor ? `&since=${encodeURIComponent(dbg.cursor)}` : ''}`);
        if (gen === dbg.gen) {
          if (r.next_cursor) dbg.cursor = r.next_cursor;
          const list = $('#debug-stream');
          for (const e of r.events || []) {
            if (dbg.seen.has(e.event_id)) continue;
            dbg.seen.add(e.event_id);
            list.prepend(eventRow(e, { full: true }));
          }
          while (list.children.length > LIVE_CAP) list.lastElementChild.remove();
          const n = list.children.length;
          $('#stream-status').textContent = (r.monitoring
            ? `Monitoring until ${clock(new Date(r.until))} · polling every ${DEBUG_MS / 1000} s`
            : 'Not monitored now (never started, stopped or expired); start monitoring above to record new events.') + ` · ${n} events, newest first`;
          $('#debug-stream').dataset.monitoring = String(!!r.monitoring);
        }
      }
    } catch (err) {
      if (dbg.user && err.status !== 401 && err.status !== 403) $('#stream-status').textContent = err.status === 0 || err.status >= 500 ? 'API unreachable, retrying…' : `Error: ${err.message}`;
    } finally {
      dbg.busy = false;
    }
    debugSchedule(Math.max(0, DEBUG_MS - (Date.now() - started)));
  }
  function debugSchedule(ms) {
    if (state.tab !== 'debug' || !state.key) return;
    clearTimeout(dbg.timer);
    dbg.timer = setTimeout(debugPoll, ms);
  }

  // ---- export ---------------------------------------------------------------
  for (const b of $$('.export button')) {
    b.addEventListener('click', async () => {
      const format = b.dataset.format;
      const status = $('#export-status');
      status.textContent = `Preparing ${format.toUpperCase()}…`;
      b.disabled = true;
      try {
        const res = await api(`/v1/export?days=${state.days}&format=${format}`, { raw: true });
        const blob = await res.blob();
        const name = `pulse-${state.days === 1 ? 'today' : `${state.days}d`}-${new Date().toISOString().slice(0, 10)}.${format}`;
        const url = URL.createObjectURL(blob);
        const a = h('a', { href: url, download: name, hidden: true });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60000);
        status.textContent = `Downloaded ${name} (${nf.format(blob.size)} bytes)`;
      } catch (err) {
        status.textContent = `Export failed: ${err.message}`;
      } finally {
        b.disabled = false;
      }
    });
  }

  // ---- routing and timers ----------------------------------------------------
  function stopTimers() {
    clearTimeout(live.timer); live.timer = null;
    clearTimeout(dbg.timer); dbg.timer = null;
  }
  function route() {
    if (!state.key) return showLogin();
    const [name, ...rest] = (location.hash.slice(1) || 'overview').split('/');
    const arg = rest.length ? decodeURIComponent(rest.join('/')) : null;
    const tab = ['user', 'session', 'conversation'].includes(name) ? 'explore' : ['overview', 'explore', 'live', 'debug'].includes(name) ? name : 'overview';
    const was = state.tab;
    state.tab = tab;
    for (const s of $$('.tab')) show(s, s.id === `tab-${tab}`);
    for (const a of $$('.tabs a')) {
      if (a.dataset.tab === tab) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    stopTimers();
    if (tab === 'overview' && (was !== 'overview' || !state.updated || Date.now() - state.updated > REFRESH_MS)) loadOverview();
    if (tab === 'explore' && arg) openView(name, arg);
    if (tab === 'live') { liveStatus(); liveSchedule(0); }
    if (tab === 'debug') {
      dbg.listAt = 0;
      if (name === 'debug' && arg != null) selectDebugUser(arg); else debugSchedule(0);
    }
  }
  function refreshCurrent() {
    if (!state.key) return;
    if (state.tab === 'overview') loadOverview();
    else if (state.tab === 'explore') { const b = $('#explore-view'); if (b.dataset.id) openView(b.dataset.kind, b.dataset.id); }
    else if (state.tab === 'live') { clearTimeout(live.timer); live.timer = null; liveSchedule(0); }
    else if (state.tab === 'debug') { dbg.listAt = 0; debugSchedule(0); }
  }
  window.addEventListener('hashchange', route);
  setInterval(() => {
    for (const t of $$('time[data-ts]')) t.textContent = ago(Number(t.dataset.ts));
    if (state.key && state.tab === 'overview' && !document.hidden && state.updated && Date.now() - state.updated >= REFRESH_MS) loadOverview();
  }, 5000);
  document.addEventListener('visibilitychange', () => { if (!document.hidden && state.key) refreshCurrent(); });

  setRange(state.days);
  if (state.key) showApp(); else showLogin();
})();
