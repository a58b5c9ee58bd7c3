// End-to-end tests of the web platform in headless Debian Chromium: `node --test web/e2e/`
// (scripts/test runs them after `cargo build -p shian`). Screenshots: target/e2e/screenshots/.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ROOT,
  canvasPainted,
  getJson,
  launchBrowser,
  login,
  navigating,
  open,
  prepareDatabase,
  screenshot,
  session,
  startServer,
} from './harness.mjs';

const PAGE_TIMEOUT = 120_000;

describe('web platform', { timeout: 30 * 60_000 }, () => {
  let server;
  let browser;
  let base; // http://127.0.0.1:PORT/
  const run = (name, fn) => session(browser, server.origin, name, fn);

  before(async () => {
    prepareDatabase();
    server = await startServer();
    base = server.url;
    browser = await launchBrowser();
  }, { timeout: 20 * 60_000 });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('county logs in and lands on the dashboard: Chinese, figures, rendered map', { timeout: PAGE_TIMEOUT }, async () => {
    await run('dashboard', async (page) => {
      const response = await login(page, base, 'county');
      assert.equal(response.status(), 200);
      assert.equal(new URL(page.url()).pathname, '/', 'after login the browser is on the dashboard');
      assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');

      for (const name of ['markets', 'vendors', 'orders']) {
        assert.ok((await page.locator(`[data-figure="${name}"]`).count()) >= 1, `[data-figure="${name}"] is on the dashboard`);
      }
      // The figures may be filled in by script: wait until every one shows a number.
      await page
        .waitForFunction(() => [...document.querySelectorAll('[data-figure]')].every((e) => /\d/.test(e.textContent)), null, { timeout: 15_000 })
        .catch(() => {});
      const figures = await page.locator('[data-figure]').evaluateAll((els) => els.map((e) => [e.dataset.figure, e.textContent.trim()]));
      for (const [name, text] of figures) assert.match(text, /\d/, `[data-figure="${name}"] shows a number, not ${JSON.stringify(text)}`);
      const markets = figures.find(([n]) => n === 'markets')[1];
      assert.match(markets, /[1-9]/, `the county has markets (${markets})`);

      // The map: an ECharts canvas inside #map that has actually been drawn on.
      await page.locator('#map canvas').first().waitFor({ timeout: 15_000 });
      assert.ok((await canvasPainted(page, '#map')) > 0, 'the map canvas has been drawn on');
    });
  });

  test('a wrong password shows an error and opens no session', { timeout: PAGE_TIMEOUT }, async () => {
    await run('login-error', async (page, context) => {
      await login(page, base, 'auditor', 'not-the-password');
      const error = page.locator('.error');
      await error.first().waitFor();
      assert.notEqual((await error.first().innerText()).trim(), '', '.error says something');
      assert.ok((await page.locator('input[name="password"]').count()) >= 1, 'the login form is shown again');

      // No session: the dashboard sends back to the login form and the API refuses.
      const other = await context.newPage();
      await other.goto(base);
      assert.ok((await other.locator('input[name="password"]').count()) >= 1, 'the dashboard asks to log in');
      assert.equal(await other.locator('[data-figure]').count(), 0, 'no dashboard figures without a session');
      await other.close();
      const api = await page.request.get(new URL('api/v1/market?limit=1', base).href, { maxRedirects: 0 });
      assert.ok([401, 403].includes(api.status()), `the API answers 401/403 without a session, not ${api.status()}`);
    });
  });

  test('trace: from the nav, a real lot code backward, then forward', { timeout: PAGE_TIMEOUT }, async () => {
    await run('trace-forward', async (page) => {
      await login(page, base, 'county');
      const traceNav = await navigating(page, () => page.locator('nav a[href$="/trace"]').first().click());
      assert.equal(new URL(page.url()).pathname, '/trace');
      assert.equal(traceNav.status(), 200, `/trace answered ${traceNav.status()}`);

      const newest = (await getJson(page, base, 'api/v1/inbound?limit=1')).items?.[0];
      let code = newest?.lot_code;
      assert.ok(code, `/api/v1/inbound gives a lot code: ${JSON.stringify(newest)}`);
      // The newest lot has seldom been sold yet; one received a month earlier has recipients, so
      // that the forward trace (and its screenshot) shows a flow. The newest one does if none.
      const received = Date.parse(newest.received_at);
      if (!Number.isNaN(received)) {
        const to = new Date(received - 30 * 86_400_000).toISOString().slice(0, 10);
        const older = await page.request.get(new URL(`api/v1/inbound?limit=20&to=${to}`, base).href);
        if (older.ok()) code = (await older.json()).items?.find((r) => r.lot_code)?.lot_code ?? code;
      }

      const q = page.locator('input[name="q"]');
      await q.fill(code);
      const back = await navigating(page, () => q.press('Enter'));
      assert.equal(back.status(), 200, `the trace of ${code} answered ${back.status()}`);
      await checkTraceResult(page, code);
      await screenshot(page, 'trace-back');

      // Forward: the form's direction control when there is one, else the URL.
      const form = page.locator('form', { has: page.locator('input[name="q"]') }).first();
      const dir = form.locator('[name="dir"]');
      if ((await dir.count()) > 0) {
        const tag = await dir.first().evaluate((e) => e.tagName.toLowerCase() + ':' + (e.type || ''));
        if (tag.startsWith('select')) await dir.selectOption('forward');
        else await form.locator('[name="dir"][value="forward"]').check();
        await form.locator('input[name="q"]').fill(code);
        const forward = await navigating(page, () => form.locator('input[name="q"]').press('Enter'));
        assert.equal(forward.status(), 200, `the forward trace of ${code} answered ${forward.status()}`);
      } else {
        const url = new URL(page.url());
        url.searchParams.set('dir', 'forward');
        url.searchParams.set('q', code);
        await open(page, url.href);
      }
      assert.equal(new URL(page.url()).searchParams.get('dir'), 'forward', `forward trace URL: ${page.url()}`);
      await checkTraceResult(page, code);
    });
  });

  test('import: a vendor CSV with one bad row reports it with its line and offers it for download', { timeout: PAGE_TIMEOUT }, async () => {
    await run('import', async (page) => {
      await login(page, base, 'county');
      const market = (await getJson(page, base, 'api/v1/market?limit=1')).items?.[0];
      assert.ok(market?.code, 'the county sees a market to add vendors to');

      const example = readFileSync(path.join(ROOT, 'examples/vendor.csv'), 'utf8').replace(/^\uFEFF/, '').split(/\r?\n/);
      const header = example[0];
      const cells = example[1].split(','); // 销售者编码,市场编码,摊位号,销售者名称,…,公示码标识,经营状态
      const row = (vendor, mkt, name, token) => {
        const c = [...cells];
        c[0] = vendor;
        c[1] = mkt;
        c[3] = name;
        c[13] = token;
        return c.join(',');
      };
      const bad = 'M9999999';
      const csv = [
        header,
        row(`${market.code}-E2E01`, market.code, '端到端测试甲', 'e2etoken01'),
        row(`${market.code}-E2E02`, market.code, '端到端测试乙', 'e2etoken02'),
        row(`${bad}-E2E03`, bad, '端到端测试丙', 'e2etoken03'), // line 4: unknown market
        '',
      ].join('\n');

      await open(page, new URL('import', base).href);
      const form = page.locator('form', { has: page.locator('input[name="file"]') }).first();
      await form.locator('select[name="kind"]').selectOption('vendor');
      await form.locator('input[name="file"]').setInputFiles({ name: 'vendors-e2e.csv', mimeType: 'text/csv', buffer: Buffer.from(csv, 'utf8') });
      const response = await navigating(page, () => form.locator('button[type="submit"], input[type="submit"], button:not([type])').first().click());
      assert.equal(response.status(), 200);

      const report = page.locator('#import-report');
      await report.waitFor();
      const rows = await report.locator('tr, li').evaluateAll((els) => els.map((e) => e.innerText));
      const rejected = rows.filter((t) => t.includes(bad));
      assert.ok(rejected.length >= 1, `#import-report lists the row with ${bad}: ${JSON.stringify(rows)}`);
      assert.ok(rejected.some((t) => /(^|\D)4(\D|$)/.test(t.replaceAll(bad, ''))), `the rejected row's line number (4) is shown: ${JSON.stringify(rejected)}`);
      const good = rows.filter((t) => t.includes(`${market.code}-E2E0`));
      assert.deepEqual(good, [], 'the good rows are not reported as rejected');

      const link = page.locator('a#rejected-download');
      await link.waitFor();
      const href = await link.getAttribute('href');
      assert.ok(href, 'a#rejected-download has an href');
      const download = await page.request.get(new URL(href, page.url()).href);
      assert.equal(download.status(), 200);
      const body = (await download.body()).toString('latin1'); // the codes are ASCII whatever the encoding
      assert.ok(body.includes(`${bad}-E2E03`), `the download holds the bad row: ${body.slice(0, 300)}`);
      assert.ok(!body.includes(`${market.code}-E2E01`), 'the download holds only rejected rows');
    });
  });

  test('language: a#lang-toggle switches to English and back', { timeout: PAGE_TIMEOUT }, async () => {
    await run('lang', async (page) => {
      await login(page, base, 'county');
      const where = new URL(page.url()).pathname;
      assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
      await navigating(page, () => page.locator('a#lang-toggle').click());
      assert.equal(await page.getAttribute('html', 'lang'), 'en');
      assert.equal(new URL(page.url()).pathname, where, 'the toggle stays on the same page');
      await screenshot(page, 'lang-en');
      await navigating(page, () => page.locator('a#lang-toggle').click());
      assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
      assert.equal(new URL(page.url()).pathname, where);
    });
  });

  test('scope: a market official sees one market and not another market\'s page', { timeout: PAGE_TIMEOUT }, async () => {
    // Another market of the province, as the province user sees them.
    let markets;
    await run('dashboard-province', async (page) => {
      await login(page, base, 'province');
      markets = (await getJson(page, base, 'api/v1/market?limit=100')).items;
    });
    const id = (m) => encodeURIComponent(m.id ?? m.code);

    await run('scope', async (page) => {
      await login(page, base, 'official');
      const mine = (await getJson(page, base, 'api/v1/market?limit=100')).items;
      assert.equal(mine.length, 1, `the official sees exactly one market: ${mine.map((m) => m.code)}`);
      const own = mine[0];
      const other = markets.find((m) => m.code !== own.code);
      assert.ok(other, 'the province has another market');

      await open(page, new URL(`record/market/${id(own)}`, base).href);
      assert.ok((await page.locator('body').innerText()).includes(own.name), 'the own market page shows its name');

      await open(page, new URL(`record/market/${id(other)}`, base).href, 404);
      const text = await page.locator('body').innerText();
      assert.ok(!text.includes(other.name), 'the 404 page does not show the other market');
      for (const field of ['address', 'operator', 'operator_credit_code']) {
        if (other[field]) assert.ok(!text.includes(other[field]), `the 404 page does not show the other market's ${field}`);
      }
    });
  });

  test('ledger: an official follows a failed sample from the inbox to its entry, sees who received the goods, disposes of it and closes it', { timeout: 4 * PAGE_TIMEOUT }, async () => {
    await run('ledger', async (page) => {
      await login(page, base, 'official');
      const csrf = await page.locator('input[name="csrf"]').first().getAttribute('value');
      // A lot the official's market sold on, sampled and failed (chlorpyrifos 0.2 mg/kg, limit 0.05).
      const sale = (await getJson(page, base, 'api/v1/outbound?limit=200')).items.find((s) => s.lot_code);
      assert.ok(sale, "the official's market sold a lot");
      const vendor = (await getJson(page, base, `api/v1/vendor?code=${encodeURIComponent(sale.vendor)}`)).items[0];
      const sampleNo = `E2E-CJ-${Date.now()}`;
      const post = async (kind, data) => {
        const r = await page.request.post(new URL(`api/v1/${kind}`, base).href, { data, headers: { 'x-csrf-token': csrf } });
        assert.ok([200, 201].includes(r.status()), `POST ${kind}: ${r.status()} ${(await r.text()).slice(0, 300)}`);
      };
      await post('sample', {
        sample_no: sampleNo, subject_kind: 'vendor', subject: sale.vendor, market: vendor.market,
        variety: sale.variety, lot_code: sale.lot_code, sampled_on: '2026-02-03', lab: '河北省食品检验研究院',
      });
      await post('sample_item', { sample: sampleNo, item: '毒死蜱', value: 0.2, unit: 'mg/kg', limit: 0.05, method: 'GB 23200.113-2018' });

      // The notice arrives in the inbox within moments; the badge counts it.
      let notice;
      for (let i = 0; i < 150 && !notice; i++) {
        notice = (await getJson(page, base, 'api/v1/inbox?unread=true&limit=100')).items.find((n) => n.body.includes(sampleNo));
        if (!notice) await page.waitForTimeout(200);
      }
      assert.ok(notice, 'the failed sample was notified to the official');
      await open(page, new URL('inbox', base).href);
      await page.locator('#inbox-badge').waitFor({ state: 'visible', timeout: 10_000 });
      const item = page.locator('#unread li', { hasText: sampleNo });
      await navigating(page, () => item.locator('.title a').click());
      assert.match(new URL(page.url()).pathname, /^\/ledger\/\d+$/, 'the notice leads to its ledger entry');
      assert.equal(await page.locator('#entry-state').getAttribute('data-state'), 'open');

      // Who received the goods: the trace is attached right after the entry is opened.
      for (let i = 0; i < 120 && (await page.locator('#recipients tbody tr').count()) === 0; i++) {
        await page.waitForTimeout(500);
        await page.reload();
      }
      const recipients = await page.locator('#recipients tbody tr').count();
      assert.ok(recipients >= 1, 'the entry lists who received the goods');
      assert.ok((await page.locator('#recall a', { hasText: '召回清单' }).count()) === 1, 'the recall list can be exported');
      await screenshot(page, 'ledger-entry');

      const record = async (action, note, file) => {
        const form = page.locator('#act form');
        await form.locator('select[name="action"]').selectOption(action);
        await form.locator('textarea[name="note"]').fill(note);
        if (file) await form.locator('input[name="evidence"]').setInputFiles(file);
        await navigating(page, () => form.locator('button[type="submit"]').click());
      };
      await record('hold', '现场暂扣封存');
      assert.equal(await page.locator('#entry-state').getAttribute('data-state'), 'in_disposal');
      await record('destroy', '无害化销毁', { name: '销毁记录.txt', mimeType: 'text/plain', buffer: Buffer.from('20 kg 已无害化销毁') });
      assert.equal(await page.locator('#entry-state').getAttribute('data-state'), 'disposed');

      const close = page.locator('#close form');
      await close.locator('textarea[name="note"]').fill('核查无误，办结');
      await navigating(page, () => close.locator('button[type="submit"]').click());
      assert.equal(await page.locator('#entry-state').getAttribute('data-state'), 'verified_closed');
      const timeline = await page.locator('#timeline').innerText();
      for (const step of ['暂扣封存', '销毁', '核查办结', '站内通知']) assert.ok(timeline.includes(step), `the timeline shows ${step}`);
      assert.equal(await page.locator('#timeline a', { hasText: '证据文件' }).count(), 1, 'the evidence file is linked');
    });
  });
});

/** `#trace-result` with at least one hop, mentioning the code, and a canvas in `#trace-graph`. */
async function checkTraceResult(page, code) {
  const result = page.locator('#trace-result');
  await result.waitFor();
  const hops = Math.max(
    await result.locator('[data-hop]').count(),
    await result.locator('tbody tr').count(),
    await result.locator('li').count(),
    await result.locator('.hop').count(),
  );
  assert.ok(hops >= 1, `#trace-result holds at least one hop ([data-hop], table row or list item) on ${page.url()}`);
  assert.ok((await page.locator('body').innerText()).includes(code), 'the page names the code traced');
  await page.locator('#trace-graph canvas').first().waitFor({ timeout: 15_000 });
  // A trace with more than one hop has a flow to draw.
  if (hops > 1) assert.ok((await canvasPainted(page, '#trace-graph', { share: 0.001 })) > 0, 'the trace graph has been drawn on');
}
