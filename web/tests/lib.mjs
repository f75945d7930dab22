// Shared by the browser tests: the gateway's address and keys from the environment, REST
// helpers, the browser, screenshots, and a step log that says where a failure happened.
//
// Environment: GATEWAY_URL (http://127.0.0.1:PORT), GATEWAY_ADMIN_KEY, ARTIFACTS_DIR
// (screenshots), CHROMIUM (default /usr/bin/chromium).

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const BASE = process.env.GATEWAY_URL;
export const ADMIN_KEY = process.env.GATEWAY_ADMIN_KEY;
const ARTIFACTS = process.env.ARTIFACTS_DIR || 'test-results';
/** How long any single wait for the page may take. */
export const WAIT_MS = 20000;
/** The whole script's budget: a hung browser fails the test instead of hanging it. */
const SCRIPT_MS = 180000;

if (!BASE || !ADMIN_KEY) {
  console.error('GATEWAY_URL and GATEWAY_ADMIN_KEY must be set');
  process.exit(2);
}
mkdirSync(ARTIFACTS, { recursive: true });

const started = Date.now();
export function step(text) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${text}`);
}

/** A REST call; throws with the body on an unexpected status. */
export async function api(method, path, token, body, expect = [200, 201, 204]) {
  const res = await fetch(BASE + path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!expect.includes(res.status)) {
    throw new Error(`${method} ${path}: expected ${expect}, got ${res.status}: ${text}`);
  }
  return { status: res.status, headers: res.headers, data: text ? JSON.parse(text) : null };
}

/** A new agent with every skill; returns { id, token, name }. */
export async function createAgent(name) {
  const skills = ['zh', 'en', 'presales', 'orders', 'logistics', 'aftersales', 'complaints', 'vip'];
  const r = await api('POST', '/v1/agents', ADMIN_KEY, { name, skills, max_concurrent: 5, role: 'agent' });
  return { id: r.data.agent.id, token: r.data.token, name };
}

/** A knowledge-base article the demo shop answers (category, locale). */
export async function demoArticle(category, locale) {
  const r = await api('GET', `/v1/kb/articles?limit=1000&locale=${locale}`, ADMIN_KEY);
  const a = r.data.items.find((x) => x.category === category && x.enabled !== false);
  if (!a) throw new Error(`no demo article for ${category} ${locale}`);
  return a;
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // The tests run as root in CI containers, where Chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

/** A browser context whose page errors and console errors are kept for the failure report. */
export async function newContext(browser, name, options = {}) {
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 800 }, ...options });
  context.on('page', (page) => watch(page, name));
  return context;
}

const problems = [];
function watch(page, name) {
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => {
    // An HTTP error answer is logged by the browser too; the pages handle those themselves.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) {
      problems.push(`${name}: console error: ${m.text()}`);
    }
  });
}
/** Console and page errors seen so far (a CSP violation shows up here). */
export function pageProblems() {
  return problems.slice();
}

export async function shot(page, name) {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  step(`screenshot ${path}`);
}

export function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

/** Waits until `locator` (first match) shows `text`. */
export async function waitText(locator, text, timeout = WAIT_MS) {
  await locator.filter({ hasText: text }).first().waitFor({ state: 'visible', timeout });
}

/** Runs a test body with a browser; on failure saves a screenshot of every open page. */
export async function run(name, body) {
  const timer = setTimeout(() => {
    console.error(`${name}: gave up after ${SCRIPT_MS / 1000}s`);
    process.exit(1);
  }, SCRIPT_MS);
  const browser = await launch();
  try {
    await body(browser);
    step(`${name}: passed`);
  } catch (e) {
    console.error(`${name}: FAILED: ${e && e.stack ? e.stack : e}`);
    let i = 0;
    for (const context of browser.contexts()) {
      for (const page of context.pages()) {
        await page.screenshot({ path: join(ARTIFACTS, `${name}-failure-${i++}.png`) }).catch(() => {});
      }
    }
    if (problems.length) console.error('page problems:\n  ' + problems.join('\n  '));
    process.exitCode = 1;
  } finally {
    clearTimeout(timer);
    await browser.close();
  }
}
