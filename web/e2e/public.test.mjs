// One code, all public (一码公开) in headless Debian Chromium: the market operator prints the market's
// QR posters, a consumer opens a vendor's code on a phone-sized screen without signing in, sees the
// vendor's real records and files a complaint, and the operator finds it among the market's
// complaints. Screenshots: target/e2e/screenshots/public-*.png.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { SCREENSHOTS, launchBrowser, login, open, prepareDatabase, screenshot, session, startServer } from './harness.mjs';

const PAGE_TIMEOUT = 120_000;
/** A mid-sized phone (CSS pixels). */
const PHONE = { width: 390, height: 844 };

describe('public code', { timeout: 30 * 60_000 }, () => {
  let server;
  let browser;
  let base;
  const run = (name, fn) => session(browser, server.origin, name, fn);

  /** A phone-sized context without cookies; requests off the server's origin fail the test. */
  async function phone(name, fn) {
    const context = await browser.newContext({
      viewport: PHONE,
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      locale: 'zh-CN',
      timezoneId: 'Asia/Shanghai',
    });
    const offOrigin = [];
    context.on('request', (r) => {
      const url = r.url();
      if (!/^(data|blob|about):/.test(url) && new URL(url).origin !== server.origin) offOrigin.push(url);
    });
    const page = await context.newPage();
    try {
      await fn(page);
    } finally {
      await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true }).catch(() => {});
      await context.close();
    }
    assert.deepEqual(offOrigin, [], 'the public page requests nothing outside the server');
  }

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

  /** As the market operator: the posters PDF of its market, and the public path of a vendor with a live code. */
  async function operatorFindsACode(page) {
    await login(page, base, 'operator');
    await open(page, new URL('records/market', base).href);
    const marketHref = await page.locator('table.list a[href^="/record/market/"]').first().getAttribute('href');
    assert.ok(marketHref, 'the operator sees its market');
    await open(page, new URL(marketHref, base).href);
    const posters = page.locator('a.button[href$=".pdf"]').first();
    assert.equal(await posters.count(), 1, 'the market page has the posters button');
    const pdf = await page.request.get(new URL(await posters.getAttribute('href'), base).href);
    assert.equal(pdf.status(), 200);
    const bytes = await pdf.body();
    assert.equal(bytes.subarray(0, 4).toString('latin1'), '%PDF', 'the posters are a PDF');
    assert.match(bytes.toString('latin1'), /\/BaseFont\/[A-Z]{6}\+/, 'with a subset font embedded');

    await open(page, new URL('records/vendor', base).href);
    const vendors = await page.locator('table.list a[href^="/record/vendor/"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    for (const href of vendors) {
      const id = href.split('/').pop();
      await open(page, new URL(`qr/vendor/${id}`, base).href);
      const link = page.locator('a#public-url');
      if ((await link.count()) === 1) return { publicPath: await link.getAttribute('href'), vendorId: id };
    }
    throw new Error('no vendor of the market has a live public code');
  }

  test('posters, a vendor page on a phone, a complaint that reaches the market', { timeout: PAGE_TIMEOUT * 3 }, async () => {
    let found;
    await run('public-operator-code', async (page) => {
      found = await operatorFindsACode(page);
    });
    assert.match(found.publicPath, /^\/q\/[a-z2-7]{26}$/);

    let number;
    await phone('public-complaint-phone', async (page) => {
      await open(page, new URL(found.publicPath, base).href);
      assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
      const name = (await page.locator('#vendor-name').textContent()).trim();
      assert.ok(name.length > 0, 'the vendor is named');
      assert.match((await page.locator('#grade').textContent()).trim(), /^[ABCD]$/, 'a credit grade A–D');
      for (const heading of ['主体承诺', '经营品种', '产地来源', '快速检测', '监督抽检']) {
        assert.ok((await page.getByRole('heading', { name: heading }).count()) === 1, `the page has ${heading}`);
      }
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= PHONE.width, `no sideways scrolling on a phone (${width} px)`);
      const scripts = await page.locator('script').count();
      assert.equal(scripts, 0, 'no script');
      const html = await page.content();
      assert.ok(!/1[3-9]\d{9}/.test(html), 'no phone number');
      assert.ok(!/\d{17}[\dX]/.test(html), 'no ID number');
      await screenshot(page, 'public-vendor-phone');

      await page.locator('#what').fill('在该摊位买的芹菜有刺鼻气味，怀疑农药残留');
      await page.locator('#when').fill('今天上午');
      const [response] = await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.locator('form#complaint button[type="submit"]').click(),
      ]);
      assert.equal(response.status(), 201, 'the complaint is accepted');
      number = (await page.locator('#complaint-no').textContent()).trim();
      assert.match(number, /^QR\d{8}[A-Z2-7]{6}$/);
    });

    await run('public-operator-complaint', async (page) => {
      await login(page, base, 'operator');
      await open(page, new URL(`records/complaint?q=${number}`, base).href);
      assert.ok((await page.locator('table.list').textContent()).includes(number), 'the complaint is among the market\'s complaints');
    });
  });

  test('a revoked code says it is no longer valid (410), on a phone', { timeout: PAGE_TIMEOUT }, async () => {
    let found;
    let csrfOk = false;
    await run('public-operator-reissue', async (page) => {
      found = await operatorFindsACode(page);
      await open(page, new URL(`qr/vendor/${found.vendorId}`, base).href);
      const [response] = await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.locator('form[action$="/reissue"] button').click(),
      ]);
      csrfOk = response.ok();
    });
    assert.ok(csrfOk, 'the reissue went through');
    await phone('public-revoked-phone', async (page) => {
      await open(page, new URL(found.publicPath, base).href, 410);
      assert.equal((await page.locator('#gone').textContent()).trim(), '此二维码已失效');
    });
  });
});
