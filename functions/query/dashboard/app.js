// Pulse dashboard: one static page over the query API (same origin, read key
// in sessionStorage). No framework, no build step: plain DOM and SVG.
'use strict';
(() => {
  const KEY = 'pulse.readKey', POLL_MS = 2000, REFRESH_MS = 30000, RETRY_MS = 5000, CAP = 500;
  const state = { key: sessionStorage.getItem(KEY), days: Number(sessionStorage.getItem('pulse.days')) || 7,
    tab: 'overview', seq: 0, updated: null, retry: null, down: false };
  const $ = (s) => document.querySelector(s);
  const $$ = (s) => [...document.querySelectorAll(s)];
  const nf = new Intl.NumberFormat('en-US');
  const MONTHS = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split(' ');

  // ---- DOM helpers
  function build(el, attrs, kids) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'text') el.textContent = v;
      else if (k === 'onclick') el.addEventListener('click', v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of kids.flat()) if (c != null && c !== false) el.append(c);
    return el;
  }
  const h = (tag, attrs, ...kids) => build(document.createElement(tag), attrs, kids);
  const svg = (tag, attrs, ...kids) => build(document.createElementNS('http://www.w3.org/2000/svg', tag), attrs, kids);
  const show = (el, on) => { el.hidden = !on; };
  const fill = (el, ...kids) => el.replaceChildren(...kids.flat().filter((k) => k != null));
  const muted = (t) => h('p', { class: 'muted', text: t });
  const down = (err) => err.status === 0 || err.status >= 500;

  // ---- formatting
  function ago(ms) {
    const s = Math.round((Date.now() - ms) / 1000);
    if (s < -60) return 'in the future';
    if (s < 10) return 'just now';
    if (s < 60) return `${s} s ago`;
    return s < 3600 ? `${Math.floor(s / 60)} min ago` : s < 86400 ? `${Math.floor(s / 3600)} h ago` : `${Math.floor(s / 86400)} d ago`;
  }
  const clock = (d) => d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const dayLabel = (iso) => `${MONTHS[Number(iso.slice(5, 7)) - 1]} ${Number(iso.slice(8, 10))}`;
  const duration = (ms) => (ms == null ? '–' : ms < 1000 ? `${nf.format(ms)} ms`
    : ms < 60000 ? `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s` : `${(ms / 60000).toFixed(1)} min`);
  const evTime = (e) => e.timestamp ?? Date.parse(e.timestamp_iso);
  function timeEl(ms) {
    const iso = new Date(ms).toISOString();
    return h('time', { datetime: iso, title: iso, 'data-ts': ms, text: ago(ms) });
  }
  const idLink = (kind, id, label) => (id == null || id === '' ? null
    : h('a', { class: `id ${kind}`, href: `#${kind}/${encodeURIComponent(id)}`, title: `${kind} ${id}`, text: label ?? String(id) }));
  const anon = (id) => h('span', { class: 'id anon', title: 'anonymous id', text: `anon ${id}` });

  // ---- API
  class ApiError extends Error {
    constructor(status, message, parameter) { super(message); this.status = status; this.parameter = parameter; }
  }
  async function api(path, { method = 'GET', raw = false } = {}) {
    const key = state.key;
    if (!key) throw new ApiError(401, 'no key');
    let res;
    try {
      res = await fetch(path, { method, headers: { Authorization: `Bearer ${key}` }, cache: 'no-store' });
    } catch {
      unreachable('network error');
      throw new ApiError(0, 'API unreachable');
    }
    if (res.status >= 500) {
      unreachable(`HTTP ${res.status}`);
      throw new ApiError(res.status, 'API unreachable');
    }
    reachable();
    if (res.ok) return raw ? res : res.json();
    const body = await res.json().catch(() => ({}));
    const err = new ApiError(res.status, body.error?.message || `HTTP ${res.status}`, body.error?.parameter);
    // Several requests share a key: only the first refusal (of the key in use) asks again.
    if ((res.status === 401 || res.status === 403) && state.key === key) needKey(err);
    throw err;
  }
  function unreachable(why) {
    state.down = true;
    $('#banner').textContent = `API unreachable (${why}), retrying every ${RETRY_MS / 1000} s…`;
    show($('#banner'), true);
    state.retry ??= setTimeout(() => { state.retry = null; refreshCurrent(); }, RETRY_MS);
  }
  function reachable() {
    if (state.down) { state.down = false; show($('#banner'), false); }
  }
  function needKey(err) {
    forgetKey();
    $('#key-error').textContent = err.status === 403
      ? `This key cannot read (403: ${err.message}). The dashboard needs the project's read key (rk_…), not its write key.`
      : `The key was refused (401: ${err.message}). Enter the project's read key.`;
    show($('#key-error'), true);
    showLogin();
  }
  function forgetKey() {
    state.key = null;
    sessionStorage.removeItem(KEY);
    stopTimers();
  }
  const fail = (el, err) => {
    if (err.status !== 401 && err.status !== 403) fill(el, h('p', { class: 'error', role: 'alert', text: down(err) ? 'API unreachable, retrying…' : `Error ${err.status}: ${err.message}` }));
  };

  // ---- key form
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
  $('#change-key').addEventListener('click', () => { forgetKey(); show($('#key-error'), false); showLogin(); });

  // ---- overview
  function setRange(days) {
    state.days = days;
    sessionStorage.setItem('pulse.days', String(days));
    for (const b of $$('.range button')) b.setAttribute('aria-pressed', String(Number(b.dataset.days) === days));
  }
  for (const b of $$('.range button')) {
    b.addEventListener('click', () => {
      setRange(Number(b.dataset.days));
      if (state.tab === 'overview') loadOverview(); else location.hash = '#overview';
    });
  }
  $('#refresh').addEventListener('click', () => refreshCurrent());

  async function loadOverview() {
    if (!state.key) return;
    const days = state.days, seq = ++state.seq, cards = $('#cards');
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
      renderDaily(daily.days);
      renderBars($('#by-category'), summary.events_by_category, 'category');
      renderBars($('#by-type'), summary.events_by_type, 'type');
      renderTop(top.users);
      fill($('#recent'), recent.events.length ? h('ol', { class: 'feed' }, recent.events.map((e) => eventRow(e))) : muted('No events stored yet.'));
      renderEmpty(summary.total_events, recent.events.length);
      state.updated = new Date();
      cards.dataset.days = String(days);
      cards.dataset.loaded = 'true';
      $('#updated').textContent = `Last updated ${clock(state.updated)} · auto-refresh 30 s`;
    } catch (err) {
      if (seq !== state.seq || err.status === 401 || err.status === 403) return;
      $('#updated').textContent = state.updated ? `Last updated ${clock(state.updated)} (refresh failed)` : 'Not loaded';
      $('#overview-error').textContent = down(err) ? 'The API is unreachable; the figures below may be stale. Retrying…' : `Could not load the overview: ${err.message}`;
      show($('#overview-error'), true);
    } finally {
      if (seq === state.seq) cards.removeAttribute('aria-busy');
    }
  }
  function renderCards(s) {
    const values = { total_events: s.total_events, unique_users: s.unique_users, sessions: s.sessions,
      errors: s.events_by_status?.failed ?? s.errors ?? 0, avg_duration_ms: s.avg_duration_ms };
    for (const [k, v] of Object.entries(values)) {
      const el = $(`[data-stat="${k}"]`);
      el.dataset.value = v == null ? '' : String(v);
      el.textContent = k === 'avg_duration_ms' ? duration(v) : nf.format(v ?? 0);
    }
  }
  function renderEmpty(total, recent) {
    const box = $('#empty');
    show(box, total === 0);
    if (total > 0) return;
    const cmd = `curl -X POST ${location.origin}/v1/events \\\n  -H 'Authorization: Bearer <your write key>' -H 'Content-Type: application/json' \\\n  -d '{"type":"hello_world","user_id":"u-1"}'`;
    fill(box, recent === 0
      ? [h('p', { text: 'No events yet — send one with curl, then press Refresh:' }), h('pre', { text: cmd })]
      : h('p', { text: 'No events in this range. Try a longer range; the most recent activity is listed below.' }));
  }

  function niceMax(v) {
    const p = 10 ** Math.floor(Math.log10(v));
    return v <= 5 ? 5 : [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
  }
  function renderDaily(days) {
    const box = $('#daily-chart');
    if (!days.length) return fill(box, muted('No days in this range.'));
    const W = 960, H = 240, L = 44, R = 12, T = 12, B = 28, pw = W - L - R, ph = H - T - B, n = days.length;
    const max = niceMax(Math.max(1, ...days.map((d) => Math.max(d.events, d.active_users))));
    const x = (i) => (L + (pw * (i + 0.5)) / n).toFixed(1);
    const y = (v) => (T + ph - (ph * v) / max).toFixed(1);
    const bw = Math.max(2, Math.min(40, (pw / n) * 0.6));
    const total = days.reduce((a, d) => a + d.events, 0);
    const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'daily', 'aria-label': `Daily events and active users, ${n} days, ${total} events` });
    for (const v of [0, max / 2, max]) {
      chart.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }),
        svg('text', { x: L - 6, y: +y(v) + 4, 'text-anchor': 'end', class: 'axis' }, nf.format(v)));
    }
    const every = Math.ceil(n / 10);
    days.forEach((d, i) => {
      if (i % every === 0 || i === n - 1) chart.append(svg('text', { x: x(i), y: H - 8, 'text-anchor': 'middle', class: 'axis' }, dayLabel(d.date)));
    });
    if (n > 1) chart.append(svg('polyline', { class: 'users', points: days.map((d, i) => `${x(i)},${y(d.active_users)}`).join(' ') }));
    days.forEach((d, i) => chart.append(svg('g', { class: 'pt', tabindex: 0, 'data-date': d.date, 'data-events': d.events, 'data-active-users': d.active_users },
      svg('title', {}, `${d.date}: ${d.events} events, ${d.active_users} active users, ${d.sessions} sessions, ${d.errors} errors`),
      svg('rect', { class: 'events', x: (x(i) - bw / 2).toFixed(1), y: y(d.events), width: bw.toFixed(1), height: (T + ph - y(d.events)).toFixed(1) }),
      svg('circle', { class: 'users', cx: x(i), cy: y(d.active_users), r: n > 40 ? 2 : 3.5 }))));
    const row = (cells, tag) => h('tr', {}, cells.map((t) => h(tag, { text: t })));
    fill(box, chart, h('details', {}, h('summary', { text: 'Show as a table' }), h('table', { class: 'data' },
      h('thead', {}, row(['Day', 'Events', 'Active users', 'Sessions', 'Errors', 'Avg duration'], 'th')),
      h('tbody', {}, days.slice().reverse().map((d) => row([d.date, ...[d.events, d.active_users, d.sessions, d.errors].map(nf.format), duration(d.avg_duration_ms)], 'td'))))));
  }
  function renderBars(box, counts, what) {
    const rows = Object.entries(counts || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    if (!rows.length) return fill(box, muted(`No events by ${what} in this range.`));
    const shown = rows.slice(0, 12);
    fill(box, h('ul', { class: 'bars' }, shown.map(([name, n]) => {
      const bar = h('span', { class: 'fill' });
      bar.style.width = `${Math.max(1, (100 * n) / rows[0][1])}%`;
      return h('li', { 'data-name': name, 'data-count': n }, h('span', { class: 'label', title: name, text: name }), h('span', { class: 'bar' }, bar), h('span', { class: 'num', text: nf.format(n) }));
    })), rows.length > shown.length ? muted(`and ${rows.length - shown.length} more`) : null);
  }
  function renderTop(users) {
    fill($('#top-users'), users.length ? h('ol', { class: 'top-list' }, users.map((u) => h('li', {},
      u.user_id != null ? idLink('user', u.user_id) : anon(u.anonymous_id), h('span', { class: 'num', text: `${nf.format(u.events)} event${u.events === 1 ? '' : 's'}` }))))
      : muted('No users in this range.'));
  }

  // ---- event rows (every list)
  function eventRow(e, full, at = evTime(e)) {
    const parts = [
      timeEl(at),
      h('span', { class: 'type', text: e.type }),
      e.status && h('span', { class: `status ${e.status}`, text: e.status }),
      e.duration_ms != null && h('span', { class: 'muted', text: duration(e.duration_ms) }),
      e.user_id != null ? idLink('user', e.user_id) : e.anonymous_id != null && anon(e.anonymous_id),
      idLink('session', e.session_id, `session ${e.session_id}`),
      idLink('conversation', e.conversation_id, `conversation ${e.conversation_id}${e.sequence != null ? ` #${e.sequence}` : ''}`),
    ];
    return h('li', { class: 'ev', 'data-event-id': e.event_id, 'data-type': e.type },
      full ? h('details', {}, h('summary', {}, parts), h('pre', { class: 'json', text: JSON.stringify(e, null, 2) })) : parts);
  }

  // ---- explore: user timeline, session, conversation
  async function openView(kind, id) {
    $('#explore-kind').value = kind;
    $('#explore-id').value = id;
    const box = $('#explore-view'), enc = encodeURIComponent(id);
    Object.assign(box.dataset, { kind, id });
    fill(box, muted('Loading…'));
    try {
      if (kind === 'conversation') {
        const c = await api(`/v1/conversations/${enc}`);
        return fill(box, h('h2', { text: `Conversation ${id}` }), muted(`${c.events.length} events in sequence order`), flowTree(c.events, c.tree, c.orphans));
      }
      const path = `/v1/${kind === 'user' ? 'users' : 'sessions'}/${enc}/events?limit=100`;
      let r = await api(path);
      if (kind === 'user') {
        const list = h('ol', { class: 'feed' }, r.events.map((e) => eventRow(e, true)));
        const more = h('button', { type: 'button', text: 'Load older events', hidden: !r.next_cursor });
        more.addEventListener('click', async () => {
          try {
            r = await api(`${path}&cursor=${encodeURIComponent(r.next_cursor)}`);
            list.append(...r.events.map((e) => eventRow(e, true)));
            more.hidden = !r.next_cursor;
          } catch (err) { fail(box, err); }
        });
        return fill(box, h('h2', { text: `User ${id}` }), muted(r.events.length ? 'Newest first; open a row for all its properties.' : 'No events for this user.'), list, more);
      }
      const events = r.events;
      while (r.next_cursor && events.length < 1000) events.push(...(r = await api(`${path}&cursor=${encodeURIComponent(r.next_cursor)}`)).events);
      events.sort((a, b) => evTime(a) - evTime(b));
      fill(box, h('h2', { text: `Session ${id}` }), events.length
        ? [muted(`${events.length} events, oldest first, nested by parent_id`), flowTree(events, buildTree(events), [])] : muted('No events in this session.'));
    } catch (err) {
      if (err.status === 404) fill(box, h('p', { class: 'error', text: `No ${kind} ${id}: ${err.message}` })); else fail(box, err);
    }
  }
  function buildTree(events) {
    const ids = new Set(events.map((e) => e.event_id)), kids = new Map(), roots = [], seen = new Set();
    for (const e of events) {
      if (ids.has(e.parent_id) && e.parent_id !== e.event_id) kids.set(e.parent_id, [...(kids.get(e.parent_id) || []), e.event_id]);
      else roots.push(e.event_id);
    }
    const node = (id) => { seen.add(id); return { event_id: id, children: (kids.get(id) || []).filter((k) => !seen.has(k)).map(node) }; };
    const tree = roots.map(node);
    for (const e of events) if (!seen.has(e.event_id)) tree.push(node(e.event_id));
    return tree;
  }
  function flowTree(events, tree, orphans) {
    const byId = new Map(events.map((e, i) => [e.event_id, { e, i }]));
    const rank = (n) => { const x = byId.get(n.event_id); return [x?.e.sequence ?? Infinity, x?.i ?? 0]; };
    const order = (a, b) => { const [s, i] = rank(a), [t, j] = rank(b); return s - t || i - j; };
    const render = (nodes, depth) => h('ol', { class: depth ? 'tree sub' : 'tree' }, nodes.slice().sort(order).map((n) => {
      const e = byId.get(n.event_id)?.e || { event_id: n.event_id, type: '(not loaded)' };
      return h('li', { class: 'node', 'data-event-id': n.event_id, 'data-sequence': e.sequence ?? '', 'data-depth': depth },
        h('div', { class: 'step' },
          h('span', { class: 'seq', text: e.sequence != null ? `#${e.sequence}` : '•' }),
          h('span', { class: 'type', text: e.type }),
          e.status && h('span', { class: `status ${e.status}`, text: e.status }),
          e.duration_ms != null && h('span', { class: 'muted', text: duration(e.duration_ms) }),
          e.timestamp != null && timeEl(evTime(e)),
          idLink('user', e.user_id),
          orphans?.includes(n.event_id) && h('span', { class: 'status failed', text: 'parent cycle' })),
        h('details', {}, h('summary', { text: 'properties' }), h('pre', { class: 'json', text: JSON.stringify(e, null, 2) })),
        n.children?.length ? render(n.children, depth + 1) : null);
    }));
    return render(tree || [], 0);
  }
  $('#explore-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = $('#explore-id').value.trim();
    if (id) location.hash = `#${$('#explore-kind').value}/${encodeURIComponent(id)}`;
  });

  // ---- polled streams: live tail and the monitored user's events
  /** Adds events (oldest first) at the top of `list`, once each, keeping CAP rows. */
  function prepend(list, seen, events, hide) {
    for (const e of events) {
      if (seen.has(e.event_id)) continue;
      seen.add(e.event_id);
      const li = eventRow(e, true, e.received_at ?? evTime(e));
      li.hidden = hide(li);
      list.prepend(li);
    }
    while (list.children.length > CAP) {
      seen.delete(list.lastElementChild.dataset.eventId);
      list.lastElementChild.remove();
    }
  }
  const since = (cursor) => (cursor ? `&since=${encodeURIComponent(cursor)}` : '');

  const live = { cursor: null, paused: false, timer: null, busy: false, seen: new Set(), types: new Set(), last: null };
  const filtered = (li) => !li.dataset.type.toLowerCase().includes($('#live-filter').value.trim().toLowerCase());
  function liveStatus(note) {
    const n = $('#live-list').children.length, shown = $$('#live-list > li:not([hidden])').length;
    $('#live-status').textContent = [live.paused ? 'paused' : `polling every ${POLL_MS / 1000} s`,
      live.last && `last poll ${clock(live.last)}`, `${n} events${shown !== n ? `, ${shown} shown` : ''}`, note].filter(Boolean).join(' · ');
  }
  async function livePoll() {
    live.timer = null;
    if (live.busy || live.paused || state.tab !== 'live' || !state.key) return;
    live.busy = true;
    const started = Date.now();
    let note = '';
    try {
      for (let round = 0; round < 10; round++) {
        const r = await api(`/v1/live?limit=500${since(live.cursor)}`);
        live.cursor = r.next_cursor || live.cursor;
        prepend($('#live-list'), live.seen, r.events, filtered);
        for (const e of r.events) if (!live.types.has(e.type)) { live.types.add(e.type); $('#live-types').append(h('option', { value: e.type })); }
        if (!r.more) break;
      }
      live.last = new Date();
    } catch (err) {
      if (err.parameter === 'since') live.cursor = null;
      note = down(err) ? 'API unreachable, retrying' : `error: ${err.message}`;
    }
    live.busy = false;
    liveStatus(note);
    liveSchedule(Math.max(0, POLL_MS - (Date.now() - started)));
  }
  function liveSchedule(ms) {
    if (!live.timer && !live.paused && state.tab === 'live' && state.key) live.timer = setTimeout(livePoll, ms);
  }
  $('#live-toggle').addEventListener('click', () => {
    live.paused = !live.paused;
    $('#live-toggle').textContent = live.paused ? 'Resume' : 'Pause';
    $('#live-toggle').setAttribute('aria-pressed', String(live.paused));
    clearTimeout(live.timer);
    live.timer = null;
    liveSchedule(0);
    liveStatus();
  });
  $('#live-filter').addEventListener('input', () => {
    for (const li of $$('#live-list > li')) li.hidden = filtered(li);
    liveStatus();
  });

  const dbg = { user: null, cursor: null, timer: null, busy: false, seen: new Set(), listAt: 0, gen: 0 };
  const watch = (user) => { location.hash = `#debug/${encodeURIComponent(user)}`; };
  async function loadMonitored() {
    dbg.listAt = Date.now();
    try {
      const { users } = await api('/v1/monitoring/users');
      fill($('#monitored'), users.length ? h('ul', { class: 'monitored' }, users.map((u) => h('li', { 'data-user': u.user_id, class: u.user_id === dbg.user ? 'selected' : null },
        h('button', { type: 'button', class: 'link', text: u.user_id, title: 'Watch this user', onclick: () => watch(u.user_id) }),
        h('span', { class: 'muted', title: u.until, text: `until ${clock(new Date(u.until_ms ?? u.until))}` }),
        h('button', { type: 'button', class: 'stop', text: 'Stop', 'aria-label': `Stop monitoring ${u.user_id}`, onclick: () => stopMonitoring(u.user_id) }))))
        : muted('Nobody is monitored. Start with the form above.'));
    } catch (err) { fail($('#monitored'), err); }
  }
  async function stopMonitoring(user) {
    try {
      await api(`/v1/monitoring/users/${encodeURIComponent(user)}`, { method: 'DELETE' });
      if (user === dbg.user) $('#stream-status').textContent = `Monitoring of ${user} stopped; earlier events stay listed.`;
    } catch (err) { $('#stream-status').textContent = `Could not stop: ${err.message}`; }
    loadMonitored();
  }
  $('#monitor-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const user = $('#monitor-user').value.trim(), ttl = $('#monitor-ttl').value.trim() || '24';
    try {
      await api(`/v1/monitoring/users/${encodeURIComponent(user)}?ttl_hours=${encodeURIComponent(ttl)}`, { method: 'POST' });
      await loadMonitored();
      if (dbg.user === user) debugSchedule(0); else watch(user);
    } catch (err) { $('#stream-status').textContent = `Cannot start monitoring: ${err.message}`; }
  });
  function selectDebugUser(user) {
    if (user !== dbg.user) {
      dbg.gen++;
      Object.assign(dbg, { user, cursor: null, seen: new Set() });
      $('#debug-stream').replaceChildren();
      $('#debug-stream').dataset.user = user;
      $('#stream-title').textContent = `Events of ${user}`;
      for (const li of $$('#monitored li[data-user]')) li.classList.toggle('selected', li.dataset.user === user);
    }
    debugSchedule(0);
  }
  async function debugPoll() {
    dbg.timer = null;
    if (dbg.busy || state.tab !== 'debug' || !state.key) return;
    const started = Date.now(), gen = dbg.gen, status = $('#stream-status');
    dbg.busy = true;
    try {
      if (Date.now() - dbg.listAt > 10000) await loadMonitored();
      if (dbg.user) {
        const r = await api(`/v1/monitoring/users/${encodeURIComponent(dbg.user)}/events?limit=500${since(dbg.cursor)}`);
        if (gen === dbg.gen) {
          dbg.cursor = r.next_cursor || dbg.cursor;
          prepend($('#debug-stream'), dbg.seen, r.events, () => false);
          status.textContent = `${r.monitoring ? `Monitoring until ${clock(new Date(r.until))} · polling every ${POLL_MS / 1000} s`
            : 'Not monitored now (never started, stopped or expired): start monitoring above to record new events.'} · ${$('#debug-stream').children.length} events, newest first`;
          $('#debug-stream').dataset.monitoring = String(!!r.monitoring);
        }
      }
    } catch (err) {
      if (dbg.user && err.status !== 401 && err.status !== 403) status.textContent = down(err) ? 'API unreachable, retrying…' : `Error: ${err.message}`;
    }
    dbg.busy = false;
    debugSchedule(Math.max(0, POLL_MS - (Date.now() - started)));
  }
  function debugSchedule(ms) {
    clearTimeout(dbg.timer);
    dbg.timer = state.tab === 'debug' && state.key ? setTimeout(debugPoll, ms) : null;
  }

  // ---- export
  for (const b of $$('.export button')) {
    b.addEventListener('click', async () => {
      const format = b.dataset.format, status = $('#export-status');
      status.textContent = `Preparing ${format.toUpperCase()}…`;
      b.disabled = true;
      try {
        // Big exports come in parts (X-Pulse-Next-Cursor): fetch them all; a
        // CSV part after the first repeats the header line, which is dropped.
        const parts = [];
        let path = `/v1/export?days=${state.days}&format=${format}`;
        while (path) {
          const res = await api(path, { raw: true });
          let text = await res.text();
          if (parts.length && format === 'csv') text = text.slice(text.indexOf('\n') + 1);
          parts.push(text);
          const next = res.headers.get('x-pulse-next-cursor');
          path = next && `/v1/export?format=${format}&cursor=${encodeURIComponent(next)}`;
          if (next) status.textContent = `Preparing ${format.toUpperCase()}… (part ${parts.length + 1})`;
        }
        const blob = new Blob(parts, { type: format === 'csv' ? 'text/csv' : 'application/x-ndjson' });
        const name = `pulse-${state.days === 1 ? 'today' : `${state.days}d`}-${new Date().toISOString().slice(0, 10)}.${format}`;
        const a = h('a', { href: URL.createObjectURL(blob), download: name, hidden: true });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(a.href), 60000);
        status.textContent = `Downloaded ${name} (${nf.format(blob.size)} bytes)`;
      } catch (err) {
        status.textContent = `Export failed: ${err.message}`;
      }
      b.disabled = false;
    });
  }

  // ---- routing and timers
  function stopTimers() {
    clearTimeout(live.timer);
    clearTimeout(dbg.timer);
    live.timer = dbg.timer = null;
  }
  function route() {
    if (!state.key) return showLogin();
    const [name, ...rest] = (location.hash.slice(1) || 'overview').split('/');
    const arg = rest.length ? decodeURIComponent(rest.join('/')) : null;
    const views = ['user', 'session', 'conversation'];
    const tab = views.includes(name) ? 'explore' : ['explore', 'live', 'debug'].includes(name) ? name : 'overview';
    const was = state.tab;
    state.tab = tab;
    for (const s of $$('.tab')) show(s, s.id === `tab-${tab}`);
    for (const a of $$('.tabs a')) a.removeAttribute('aria-current');
    $(`.tabs a[data-tab="${tab}"]`).setAttribute('aria-current', 'page');
    stopTimers();
    if (tab === 'overview' && (was !== 'overview' || !state.updated || Date.now() - state.updated > REFRESH_MS)) loadOverview();
    if (views.includes(name) && arg) openView(name, arg);
    if (tab === 'live') { liveStatus(); liveSchedule(0); }
    if (tab === 'debug') {
      dbg.listAt = 0;
      if (arg != null) selectDebugUser(arg); else debugSchedule(0);
    }
  }
  function refreshCurrent() {
    if (!state.key) return;
    const box = $('#explore-view');
    if (state.tab === 'overview') loadOverview();
    if (state.tab === 'explore' && box.dataset.id) openView(box.dataset.kind, box.dataset.id);
    if (state.tab === 'live') { stopTimers(); liveSchedule(0); }
    if (state.tab === 'debug') { dbg.listAt = 0; debugSchedule(0); }
  }
  window.addEventListener('hashchange', route);
  setInterval(() => {
    for (const t of $$('time[data-ts]')) t.textContent = ago(Number(t.dataset.ts));
    if (state.key && state.tab === 'overview' && !document.hidden && state.updated && Date.now() - state.updated >= REFRESH_MS) loadOverview();
  }, 5000);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) refreshCurrent(); });

  setRange(state.days);
  if (state.key) showApp(); else showLogin();
})();
