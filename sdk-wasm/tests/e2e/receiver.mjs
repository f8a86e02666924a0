// A small HTTP receiver for the browser tests and the benchmark: serves the
// built package (/sdk/), the demo (/demo/) and test pages (/test/), and records
// every POST /v1/events body. Answers can be planned: 500s, 400s, rejected lists.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const SDK = path.resolve(here, '../..');
const ROOTS = {
  '/sdk/': path.join(SDK, 'pkg'),
  '/demo/': path.join(SDK, 'demo'),
  '/test/': path.join(here, 'pages'),
};
const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm',
  '.html': 'text/html; charset=utf-8', '.json': 'application/json', '.ts': 'text/plain', '.md': 'text/plain' };

export async function startReceiver({ extraRoots = {}, acceptAnyPost = false } = {}) {
  const requests = []; // {url, events, body, text, headers, status, at}
  const plan = []; // answers to give next, in order: {status, body?, headers?, rejected?: [index]}
  const waiters = new Set();
  const roots = { ...ROOTS, ...extraRoots };

  function notify() {
    for (const w of [...waiters]) if (w.check()) { waiters.delete(w); w.resolve(); }
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'POST' && url.pathname === '/v1/events') {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body = null;
        try { body = JSON.parse(text); } catch (e) { /* recorded as null */ }
        const answer = plan.shift() || { status: 200 };
        const events = (body && Array.isArray(body.events)) ? body.events : [];
        const rejected = (answer.rejected || []).map((i) => ({
          index: i, event_id: events[i] && events[i].event_id, error: 'test: rejected',
        }));
        const status = answer.status || 200;
        const payload = answer.body !== undefined ? answer.body
          : status === 200 ? { accepted: events.length - rejected.length, rejected }
            : { error: { code: 'test_' + status, message: 'planned by the test' } };
        requests.push({ url: url.pathname, events, body, text, headers: req.headers, status, at: Date.now() });
        res.writeHead(status, {
          'content-type': 'application/json',
          'access-control-allow-origin': '*',
          'access-control-expose-headers': 'Retry-After',
          ...(answer.headers || {}),
        });
        res.end(JSON.stringify(payload));
        notify();
      });
      return;
    }
    if (req.method === 'POST' && acceptAnyPost) {
      // Other trackers' endpoints (benchmark): record and answer 200.
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        requests.push({ url: url.pathname, events: [], body: null, text, headers: req.headers, status: 200, at: Date.now() });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
        notify();
      });
      return;
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-origin': '*', 'access-control-allow-headers': '*',
        'access-control-allow-methods': 'POST' });
      return res.end();
    }
    for (const [prefix, dir] of Object.entries(roots)) {
      if (!url.pathname.startsWith(prefix)) continue;
      const rel = url.pathname.slice(prefix.length) || 'index.html';
      const file = path.join(dir, rel);
      if (!file.startsWith(dir) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) break;
      const headers = {
        'content-type': TYPES[path.extname(file)] || 'application/octet-stream',
        // Cacheable, so a test can reload the page while the browser is offline.
        'cache-control': 'max-age=600',
      };
      const csp = url.searchParams.get('csp');
      if (csp) headers['content-security-policy'] = csp;
      res.writeHead(200, headers);
      return fs.createReadStream(file).pipe(res);
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${server.address().port}`;

  return {
    origin,
    requests,
    plan,
    /** All events received in 2xx-answered requests, in arrival order. */
    delivered() {
      return requests.filter((r) => r.status >= 200 && r.status < 300).flatMap((r) => r.events);
    },
    /** Resolves once `check()` is true (checked after every request), or rejects after `ms`. */
    waitFor(check, ms = 15000, what = 'condition') {
      if (check()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const w = { check, resolve };
        waiters.add(w);
        setTimeout(() => {
          if (waiters.delete(w)) reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
        }, ms);
      });
    },
    reset() {
      requests.length = 0;
      plan.length = 0;
    },
    close() {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

// `node receiver.mjs` serves on its own (handy with the demo page).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await startReceiver();
  console.log(`receiver on ${r.origin} — ${r.origin}/demo/ (endpoint = origin)`);
}
