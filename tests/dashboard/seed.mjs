// Seeds the stack for the dashboard tests through the real path (POST
// /v1/events with the write key → SQS → consumer → DynamoDB), then waits
// until the summary API counts every event. Writes target/dashboard/seed.json
// (ids, conversation, users) for the tests. Run by infra/test-dashboard.sh.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { DAY_MS, OUT, apiOk, ingest, uuidv7, waitFor } from './lib.mjs';

const started = Date.now();
const now = Date.now();
const users = ['u-alice', 'u-bob', 'u-carol', 'u-dave', 'u-erin'];
const types = ['page_view', 'project_created', 'tool_call', 'message_sent', 'Order Completed', 'page_view'];
// Events per day, today first; day 3 is empty (the chart zero-fills it).
const perDay = [8, 5, 12, 0, 6, 3];
const events = [];
perDay.forEach((n, day) => {
  for (let j = 0; j < n; j++) {
    const k = events.length;
    const e = {
      event_id: uuidv7(),
      type: types[k % types.length],
      timestamp: new Date(now - day * DAY_MS - (j + 1) * 60_000).toISOString(),
      session_id: `s-${day}-${j % 2}`,
      environment: 'test',
      properties: { index: k, note: k % 4 === 0 ? 'comma, "quoted"\nand a new line' : `plain ${k}` },
      context: { page: { path: `/p/${k % 3}` } },
    };
    if (k % 7 === 6) e.anonymous_id = `anon-${k}`;
    else e.user_id = users[(k * 3 + day) % users.length];
    if (k % 5 === 0) e.status = 'failed';
    else if (k % 3 === 0) e.status = 'success';
    if (k % 2 === 0) e.duration_ms = 100 + k * 37;
    events.push(e);
  }
});

// A 4-step conversation: 1 → 2 → 3, and 4 answering 1 (a tree, not a chain).
const run = Date.now().toString(36);
const conversation = `conv-${run}`;
const session = `s-conv-${run}`;
const ids = [uuidv7(), uuidv7(), uuidv7(), uuidv7()];
const steps = [
  { type: 'message_received', parent: null },
  { type: 'tool_call', parent: 0 },
  { type: 'tool_result', parent: 1 },
  { type: 'message_sent', parent: 0 },
].map((s, i) => ({
  event_id: ids[i],
  type: s.type,
  user_id: 'u-alice',
  session_id: session,
  conversation_id: conversation,
  sequence: i + 1,
  parent_id: s.parent == null ? undefined : ids[s.parent],
  status: 'success',
  duration_ms: 50 * (i + 1),
  timestamp: new Date(now - 30_000 + i * 1000).toISOString(),
  properties: { step: i + 1 },
}));
// Sent out of order: the view must order by sequence, not by arrival.
events.push(steps[3], steps[1], steps[0], steps[2]);

const baseline = (await waitFor('the query API', () => apiOk('/v1/analytics/summary?days=30'))).total_events;
await ingest(events);
const summary = await waitFor(`the summary to count all ${events.length} events`, async () => {
  const s = await apiOk('/v1/analytics/summary?days=30');
  return s.total_events >= baseline + events.length ? s : null;
}, { timeout: 60000, every: 250 });
if (summary.total_events !== baseline + events.length) {
  throw new Error(`the summary counts ${summary.total_events} events, expected ${baseline} + ${events.length}`);
}
writeFileSync(path.join(OUT, 'seed.json'), JSON.stringify({
  ids: events.map((e) => e.event_id),
  session,
  conversation: { id: conversation, steps: ids, types: ['message_received', 'tool_call', 'tool_result', 'message_sent'] },
  users,
  baseline,
}, null, 1));
console.log(`seeded ${events.length} events through POST /v1/events; summary counts ${summary.total_events} after ${Date.now() - started} ms`);
