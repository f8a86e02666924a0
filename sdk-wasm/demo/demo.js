// The demo page: the built package served by the dev gateway at /sdk/.
import * as pulse from '/sdk/pulse.js';

const logEl = document.getElementById('log');
const statusEl = document.getElementById('status');
document.getElementById('endpoint').textContent = location.origin + '/v1/events';

function log(msg) {
  const line = `${new Date().toISOString().slice(11, 23)}  ${msg}\n`;
  logEl.textContent = line + logEl.textContent;
}

function showStatus() {
  const s = pulse.stats();
  statusEl.textContent = `state ${s.state} · queued ${s.queued} · dropped ${s.dropped ?? 0}` +
    ` · opted out ${!!s.optedOut} · session ${s.sessionId ?? '-'} · anonymous ${s.anonymousId ?? '-'}` +
    `${s.userId ? ' · user ' + s.userId : ''}${s.disabled ? ' · disabled: ' + s.disabled : ''}`;
}

let clicks = 0;
let route = 0;
const actions = {
  track: () => log(`track button_clicked → ${pulse.track('button_clicked', { properties: { n: ++clicks } })}`),
  track10: () => {
    for (let i = 0; i < 10; i++) pulse.track('burst_event', { properties: { i } });
    log('tracked 10 burst_event');
  },
  immediate: () => log(`track urgent_event immediate → ${pulse.track('urgent_event', { immediate: true })}`),
  page: () => log(`page → ${pulse.page('Demo', { manual: true })}`),
  route: () => {
    history.pushState({}, '', `/demo/?route=${++route}`);
    log(`pushState ?route=${route} (a page view is recorded automatically)`);
  },
  identify: () => log(`identify demo-user → ${pulse.identify('demo-user', { plan: 'demo' })}`),
  timed: () => {
    const t = pulse.timed('demo_task', { entityType: 'task', entityId: 't1' });
    log('timed demo_task started');
    setTimeout(() => log(`timed demo_task complete → ${t.complete({ ok: true })}`), 1200);
  },
  flush: async () => {
    log('flush…');
    log(`flush → ${await pulse.flush()} (queue ${pulse.queueSize()})`);
  },
  optOut: () => { pulse.optOut(); log('opted out (remembered; unsent events discarded)'); },
  optIn: () => { pulse.optIn(); log('opted in'); },
  reset: () => { pulse.reset(); log('reset: new anonymous id and session'); },
};

document.querySelector('.buttons').addEventListener('click', (e) => {
  const action = e.target.closest('button')?.dataset.action;
  if (action) actions[action]();
  showStatus();
});

const ok = await pulse.init({
  endpoint: location.origin,
  writeKey: 'wk_dev_demo',
  batchSize: 5,
  flushIntervalMs: 3000,
  environment: 'development',
  skipBots: false,
  onError: (err) => log(`server refused: ${JSON.stringify(err)}`),
});
log(ok ? 'tracker ready (a page_view was recorded)' : 'tracker failed to start: see the console');
showStatus();
setInterval(showStatus, 1000);
