// The browser tests' harness: a fresh demo database, the `shian serve` process, headless Debian
// Chromium through playwright-core, and a closed network (any request off the server's origin
// fails the test that made it).

import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const OUT = path.join(ROOT, 'target/e2e');
export const SCREENSHOTS = path.join(OUT, 'screenshots');
export const BIN = process.env.SHIAN_BIN ?? path.join(ROOT, 'target/debug/shian');
export const CHROMIUM = '/usr/bin/chromium';
export const PASSWORD = 'shian-demo-2026';
const DB_FILE = 'target/e2e/e2e.db';
const DB_URL = `sqlite://${DB_FILE}`;

/** Removes the previous run's database and generates the demo province into target/e2e/e2e.db. */
export function prepareDatabase() {
  mkdirSync(SCREENSHOTS, { recursive: true });
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(path.join(ROOT, DB_FILE + suffix), { force: true });
  rmSync(path.join(OUT, 'e2e.truth.json'), { force: true });
  const r = spawnSync(BIN, ['--db', DB_URL, 'demo', '--scale', 'small', '--no-serve'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (r.error) throw new Error(`cannot run ${BIN}: ${r.error.message} (build it with \`cargo build -p shian\`)`);
  assert.equal(r.status, 0, `shian demo failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
}

/**
 * Starts `shian serve` on a free port and resolves to { url, origin, stop } once it printed
 * `食安平台已启动：http://ADDR/`. Its output goes to target/e2e/server.log.
 */
export async function startServer() {
  const log = createWriteStream(path.join(OUT, 'server.log'));
  const child = spawn(BIN, ['--db', DB_URL, 'serve', '--listen', '127.0.0.1:0'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Whatever happens to this process, the server does not outlive it.
  const killOnExit = () => child.kill('SIGKILL');
  const onSignal = (signal) => {
    child.kill('SIGKILL');
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', killOnExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  child.stderr.pipe(log, { end: false });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const stop = async () => {
    process.off('exit', killOnExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    log.end();
  };
  try {
    const first = await new Promise((resolve, reject) => {
      const lines = createInterface({ input: child.stdout });
      const timer = setTimeout(() => reject(new Error('shian serve printed no line within 60 s')), 60_000);
      child.once('error', (e) => reject(new Error(`cannot start ${BIN}: ${e.message}`)));
      exited.then(({ code, signal }) => reject(new Error(`shian serve exited (${code ?? signal}) before it was ready; see target/e2e/server.log`)));
      lines.once('line', (line) => {
        clearTimeout(timer);
        log.write(line + '\n');
        lines.on('line', (l) => log.write(l + '\n')); // keep draining stdout
        resolve(line);
      });
    });
    const m = /^食安平台已启动：(http:\/\/\S+\/)\s*$/.exec(first);
    assert.ok(m, `unexpected first line of shian serve: ${JSON.stringify(first)}`);
    const url = m[1];
    return { url, origin: new URL(url).origin, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * Headless Debian Chromium without background traffic. Playwright starts it with a fresh, empty
 * --user-data-dir of its own (a new temporary directory, removed when the browser closes).
 */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A new browser context (no cookies) in which `fn(page)` runs. Every request its pages make is
 * checked against the server's origin; a full-page screenshot of the page as it ends is saved as
 * target/e2e/screenshots/NAME.png, also when `fn` fails.
 */
export async function session(browser, origin, name, fn) {
  const context = await browser.newContext({
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    viewport: { width: 1366, height: 900 },
    acceptDownloads: true,
  });
  const offOrigin = [];
  context.on('request', (request) => {
    const url = request.url();
    if (/^(data|blob|about):/.test(url)) return; // never leaves the browser
    if (new URL(url).origin !== origin) offOrigin.push(url);
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${name}] page error: ${e.message}`));
  try {
    await fn(page, context);
  } finally {
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true }).catch(() => {});
    await context.close();
  }
  assert.deepEqual(offOrigin, [], `the page requested URLs outside ${origin}`);
}

/** Saves a full-page screenshot of the page now (for a second state within one test). */
export async function screenshot(page, name) {
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Follows a click (or other action) that navigates, and returns the navigation's response. */
export async function navigating(page, action) {
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), action()]);
  return response;
}

/**
 * Opens `url` in the page and checks the answer's status (200 unless told). An error status with
 * an empty body, which Chromium refuses to show, is reported as that status too.
 */
export async function open(page, url, status = 200) {
  let response;
  try {
    response = await page.goto(url);
  } catch (e) {
    const r = await page.request.get(url).catch(() => null);
    throw new Error(`GET ${new URL(url).pathname}${r ? ` answered ${r.status()}` : ''}: ${e.message.split('\n')[0]}`);
  }
  assert.equal(response.status(), status, `GET ${new URL(url).pathname} answered ${response.status()}, not ${status}`);
  return response;
}

/** Opens the login form (at `/`, which sends an anonymous user to it, else at `/login`). */
export async function openLogin(page, base) {
  await page.goto(base);
  if ((await page.locator('input[name="username"]').count()) === 0) await page.goto(new URL('login', base).href);
  await page.locator('input[name="username"]').waitFor();
}

/** Fills and submits the login form; returns the response of the page it lands on. */
export async function login(page, base, username, password = PASSWORD) {
  await openLogin(page, base);
  const form = page.locator('form', { has: page.locator('input[name="username"]') });
  await form.locator('input[name="username"]').fill(username);
  await form.locator('input[name="password"]').fill(password);
  return navigating(page, () => form.locator('button[type="submit"], input[type="submit"], button:not([type])').first().click());
}

/** GET as the page's logged-in session (same cookies), parsed as JSON. */
export async function getJson(page, base, pathAndQuery) {
  const r = await page.request.get(new URL(pathAndQuery, base).href);
  assert.equal(r.status(), 200, `GET ${pathAndQuery}: ${r.status()} ${(await r.text()).slice(0, 300)}`);
  return r.json();
}

/**
 * Waits until a canvas under `selector` has been drawn on (at least `share` of its pixels not
 * transparent) and has stopped changing (ECharts animates for about a second), and returns how
 * many pixels are painted; 0 if none was drawn within `timeout` ms.
 */
export async function canvasPainted(page, selector, { share = 0.01, timeout = 15_000 } = {}) {
  const count = () =>
    page.evaluate(
      ({ selector, share }) => {
        let best = 0;
        for (const c of document.querySelectorAll(`${selector} canvas`)) {
          if (!c.width || !c.height) continue;
          const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let painted = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
          if (painted > c.width * c.height * share) best = Math.max(best, painted);
        }
        return best;
      },
      { selector, share },
    );
  const deadline = Date.now() + timeout;
  let last = -1;
  let same = 0;
  for (;;) {
    const n = await count();
    same = n > 0 && n === last ? same + 1 : 0;
    if (same >= 2) return n; // unchanged over three looks, 300 ms apart
    if (Date.now() > deadline) return 0;
    last = n;
    await page.waitForTimeout(300);
  }
}
