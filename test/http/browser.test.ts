/**
 * A real browser against a live server: Debian's Chromium, headless, driven by puppeteer-core
 * (no browser download). It lists a folder, downloads a file through the page's link, and
 * uploads one through the page's form; the page fits a phone's width. Set
 * TCPSEND_SCREENSHOT=FILE to keep a screenshot of the phone-width page.
 */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytesFrom } from '../helpers/seeded-random.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let srv: TestServer;
let browser: Browser;
let work: string;
let base: string;
const blob = randomBytesFrom(31, 1024 * 1024 + 11);

beforeAll(async () => {
  srv = await startServer({ allowUpload: true });
  base = `http://127.0.0.1:${srv.port}`;
  work = await tempDir('tcpsend-browser-');
  await fsp.writeFile(path.join(srv.root, 'blob.bin'), blob);
  await fsp.writeFile(path.join(srv.root, 'a rather long file name that would not fit on one line of a phone.txt'), 'long\n');
  await fsp.writeFile(path.join(srv.root, '<b>not bold</b>'.replace('/', '')), 'markup\n');
  await fsp.mkdir(path.join(srv.root, 'photos'));
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: path.join(work, 'profile'),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${path.join(work, 'profile')}`,
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await srv?.close();
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

describe('headless Chromium', () => {
  it('lists the folder: every name as text, folders first, and a link per entry', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    const names = await page.$$eval('li .name', (spans) => spans.map((s) => s.textContent));
    expect(names).toEqual(['photos/', '<b>not bold<b>', 'a rather long file name that would not fit on one line of a phone.txt', 'blob.bin']);
    // The markup stayed text: no <b> element was made from a name.
    expect(await page.$$eval('li b', (els) => els.length)).toBe(0);
    await page.close();
  });

  it('downloads a file by clicking its link, byte for byte', async () => {
    const page = await browser.newPage();
    const downloads = path.join(work, 'downloads');
    await fsp.mkdir(downloads);
    const cdp = await page.createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
    await page.goto(`${base}/`);
    await page.click('a[href="blob.bin"]');
    const target = path.join(downloads, 'blob.bin');
    for (let i = 0; i < 200; i++) {
      const done = await fsp.readFile(target).catch(() => null);
      if (done && done.length === blob.length) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(sha256(await fsp.readFile(target))).toBe(sha256(blob));
    await page.close();
  });

  it('asks for a range, as a resuming browser does, and gets those bytes', async () => {
    const page = await browser.newPage();
    // A page of this origin that allows fetch (the folder pages' policy allows no script).
    await page.goto(`${base}/no-such-page`);
    // Chromium's own network stack sends the Range request; the page reports what came back.
    const got = (await page.evaluate(`(async () => {
      const res = await fetch('blob.bin', { headers: { Range: 'bytes=1000-' } });
      const body = new Uint8Array(await res.arrayBuffer());
      return { status: res.status, range: res.headers.get('content-range'), bytes: Array.from(body.subarray(0, 64)), length: body.length };
    })()`)) as { status: number; range: string; bytes: number[]; length: number };
    expect(got.status).toBe(206);
    expect(got.range).toBe(`bytes 1000-${blob.length - 1}/${blob.length}`);
    expect(got.length).toBe(blob.length - 1000);
    expect(Buffer.from(got.bytes).equals(blob.subarray(1000, 1064))).toBe(true);
    await page.close();
  });

  it('uploads a file through the page\'s form', async () => {
    const upload = randomBytesFrom(32, 300_000);
    const local = path.join(work, 'from-browser.bin');
    await fsp.writeFile(local, upload);
    const page = await browser.newPage();
    await page.goto(`${base}/photos/`);
    const input = await page.$('input[type=file]');
    await input!.uploadFile(local);
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    expect(await page.$eval('li', (li) => li.textContent)).toContain(`from-browser.bin: 300000 bytes, sha256 ${sha256(upload)}`);
    expect(sha256(await fsp.readFile(path.join(srv.root, 'photos', 'from-browser.bin')))).toBe(sha256(upload));
    // Back to the folder: the new file is listed.
    await Promise.all([page.waitForNavigation(), page.click('a[href="./"]')]);
    expect(await page.$$eval('li .name', (spans) => spans.map((s) => s.textContent))).toContain('from-browser.bin');
    await page.close();
  });

  it('fits a phone: nothing wider than the screen, tap targets at least 40 px tall', async () => {
    const page = await browser.newPage();
    await page.setViewport({ width: 360, height: 740, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    await page.goto(`${base}/`);
    // (A string: it runs in the page, where document and window are; the tests have no DOM types.)
    const { scrollWidth, innerWidth, heights } = (await page.evaluate(`({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      heights: [...document.querySelectorAll('li a')].map((a) => a.getBoundingClientRect().height),
    })`)) as { scrollWidth: number; innerWidth: number; heights: number[] };
    expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
    expect(Math.min(...heights)).toBeGreaterThanOrEqual(40);
    const shot = process.env.TCPSEND_SCREENSHOT;
    if (shot) await page.screenshot({ path: shot as `${string}.png`, fullPage: true });
    await page.close();
  });
});
