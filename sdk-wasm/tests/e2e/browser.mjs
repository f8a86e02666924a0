// Launches Debian's chromium through playwright-core (no downloaded browsers).
import { createRequire } from 'node:module';
import path from 'node:path';

const modules = process.env.PULSE_NODE_MODULES
  || path.join(process.env.HOME, '.cache/pulse/node/sdk-tools/node_modules');
const require = createRequire(path.join(modules, 'noop.js'));
export const { chromium } = require('playwright-core');

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--disable-sync'];

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
}

/** Opens the test page and waits for the module to be loaded. */
export async function openTestPage(context, origin, query = '') {
  const page = await context.newPage();
  page.on('pageerror', (e) => { (page.thrown ||= []).push(e); });
  page.on('console', (m) => { (page.consoleLines ||= []).push(`${m.type()}: ${m.text()}`); });
  await page.goto(`${origin}/test/index.html${query}`);
  await page.waitForFunction(() => window.pulseReady === true);
  return page;
}

/** Standard options for tests: batching by count off unless asked, no bot skip. */
export function initOptions(origin, extra = {}) {
  return { endpoint: origin, writeKey: 'wk_test', skipBots: false, trackPageViews: false,
    batchSize: 1000, flushIntervalMs: 60000, ...extra };
}

export async function init(page, options) {
  const ok = await page.evaluate(async (o) => {
    o.onError = (e) => window.pulseErrors.push(e);
    return window.pulse.init(o);
  }, options);
  if (!ok) throw new Error('pulse.init returned false: ' + (page.consoleLines || []).join('\n'));
}
