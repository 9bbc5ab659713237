// Firefox for the browser tests: Debian's firefox-esr driven by puppeteer-core
// over WebDriver BiDi (playwright-core cannot drive a stock Firefox), with a
// fake camera and microphone. A Firefox user has the surface the shared
// helpers use of a Chromium one (lib/browser.mjs): page.evaluate, $eval,
// getByRole and getByTestId with click, count and textContent, so that
// waitForStatus, expectFramesGrow, expectSound and goLive work on either.
//
// Firefox's autoplay policy is left at its default (audible media waits for
// a click), as real users have it; Chromium's tests run with no such policy.

import { accessSync, constants } from 'node:fs';
import puppeteer from 'puppeteer-core';
import { User, recordPeerConnections } from './browser.mjs';
import { needs } from './ci.mjs';

/** The Firefox under test: $FIREFOX, or Debian's /usr/bin/firefox-esr. */
export const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';

export const FIREFOX_PREFS = {
  // A fake camera (1280×720 where asked for, a changing colour) and
  // microphone (a steady tone), allowed without asking.
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'permissions.default.camera': 1,
  'permissions.default.microphone': 1,
  // Offer 127.0.0.1 candidates, as addresses rather than mDNS names.
  'media.peerconnection.ice.loopback': true,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  // Timers of pages in other contexts must not be throttled.
  'dom.min_background_timeout_value': 4,
  'dom.timeout.enable_budget_timer_throttling': false,
};

/** Why Firefox cannot run here, or null when it can. */
export function firefoxProblem() {
  try {
    accessSync(FIREFOX, constants.X_OK);
    return null;
  } catch {
    return `Firefox not found or not executable at ${FIREFOX} (scripts/ensure-firefox.sh installs it; or set FIREFOX=/path/to/firefox)`;
  }
}

/**
 * For test(): skips a Firefox test (saying why) when Firefox is missing,
 * except under CI, where it fails. Call .check() first in the body.
 */
export const firefoxNeeded = () => needs('Firefox test', firefoxProblem());

/** Launches headless Firefox; fails with what to do when it is missing. */
export async function launchFirefox() {
  const problem = firefoxProblem();
  if (problem) throw new Error(problem);
  return puppeteer.launch({
    browser: 'firefox',
    protocol: 'webDriverBiDi',
    executablePath: FIREFOX,
    headless: true,
    extraPrefsFirefox: FIREFOX_PREFS,
    timeout: 30_000,
  });
}

// Runs in the page: the elements a locator's description matches.
function findAll(d) {
  if (d.testId !== undefined) return [...document.querySelectorAll(`[data-testid="${d.testId}"]`)];
  if (d.label !== undefined) {
    return [...document.querySelectorAll('input, select, textarea')].filter(
      (el) => el.getAttribute('aria-label') === d.label || [...(el.labels ?? [])].some((l) => l.textContent.trim() === d.label),
    );
  }
  const sel = d.role === 'button' ? 'button, [role="button"]' : `[role="${d.role}"]`;
  const label = (el) => (el.getAttribute('aria-label') ?? el.textContent ?? '').trim();
  return [...document.querySelectorAll(sel)].filter((el) => {
    if (d.name === undefined) return true;
    const l = label(el);
    return d.exact ? l === d.name : l.toLowerCase().includes(d.name.toLowerCase());
  });
}

/** A locator in the manner of playwright's: { testId } or { role, name, exact }. */
class Locator {
  constructor(raw, desc, what) {
    this.raw = raw;
    this.desc = desc;
    this.what = what;
  }

  first() {
    return this;
  }

  /** Runs fn(elements) in the page. */
  async #with(fn) {
    const all = await this.raw.evaluateHandle(findAll, this.desc);
    try {
      return await all.evaluate(fn);
    } finally {
      await all.dispose();
    }
  }

  count() {
    return this.#with((els) => els.length);
  }

  /** The first element's text, once there is one (within timeout ms). */
  async textContent({ timeout = 15_000 } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const text = await this.#with((els) => (els.length ? els[0].textContent : undefined));
      if (text !== undefined) return text;
      if (Date.now() >= deadline) throw new Error(`${this.what}: not found within ${timeout} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The first element's attribute name (null when it has none). */
  async getAttribute(name) {
    await this.textContent();
    return this.#with((els) => els.map((el) => [...el.attributes].map((a) => [a.name, a.value]))).then(
      ([attrs]) => new Map(attrs).get(name) ?? null,
    );
  }

  /** Types value into the first element, an empty text field. */
  async fill(value) {
    await this.textContent();
    const all = await this.raw.evaluateHandle(findAll, this.desc);
    const el = (await all.evaluateHandle((els) => els[0])).asElement();
    await all.dispose();
    await el.evaluate((e) => e.select?.());
    await el.type(value);
    await el.dispose();
  }

  /** Clicks the first enabled element (a real, trusted click) once there is one. */
  async click({ timeout = 15_000 } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const all = await this.raw.evaluateHandle(findAll, this.desc);
      const handle = await all.evaluateHandle((els) => els.find((el) => !el.disabled) ?? null);
      await all.dispose();
      const el = handle.asElement();
      if (el) {
        await el.click();
        await handle.dispose();
        return;
      }
      await handle.dispose();
      if (Date.now() >= deadline) throw new Error(`${this.what}: nothing to click within ${timeout} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A puppeteer page with the few playwright Page methods the shared helpers call. */
class FirefoxPage {
  constructor(raw) {
    this.raw = raw;
  }

  evaluate(fn, arg) {
    return this.raw.evaluate(fn, arg);
  }

  evaluateHandle(fn, ...args) {
    return this.raw.evaluateHandle(fn, ...args);
  }

  $eval(selector, fn, arg) {
    return this.raw.$eval(selector, fn, arg);
  }

  url() {
    return this.raw.url();
  }

  /** playwright's page.on: console and page errors; other events do not exist here. */
  on(event, fn) {
    if (event === 'console' || event === 'pageerror') this.raw.on(event, fn);
  }

  async getAttribute(selector, name) {
    return this.raw.$eval(selector, (el, name) => el.getAttribute(name), name);
  }

  getByTestId(testId) {
    return new Locator(this.raw, { testId }, `[data-testid="${testId}"]`);
  }

  getByLabel(label) {
    return new Locator(this.raw, { label }, `field "${label}"`);
  }

  getByRole(role, { name, exact = false } = {}) {
    return new Locator(this.raw, { role, name, exact }, `${role} "${name}"`);
  }

  setViewportSize({ width, height }) {
    return this.raw.setViewport({ width, height });
  }

  screenshot({ path }) {
    return this.raw.screenshot({ path });
  }
}

/** One simulated person in Firefox: a browser context (user context) of its own with one page. */
export class FirefoxUser extends User {
  constructor(label, context, raw) {
    super(label, context, new FirefoxPage(raw));
    this.browserName = 'firefox';
  }

  async goto(url) {
    await this.page.raw.goto(url, { waitUntil: 'load', timeout: 15_000 });
  }

  /** Runs fn in every page this user opens from now on, before the page's own scripts. */
  addInitScript(fn) {
    return this.page.raw.evaluateOnNewDocument(fn);
  }
}

/**
 * Opens a Firefox user in the world `w` (lib/harness.mjs), launching the
 * world's Firefox on first use; goes to pagePath on meetd if given.
 * options: { viewport }.
 */
export async function firefoxUser(w, label, pagePath, { viewport = { width: 1280, height: 720 } } = {}) {
  if (!w.firefox) {
    w.firefox = launchFirefox();
    w.onClose(async () => (await w.firefox).close());
  }
  const browser = await w.firefox;
  const context = await browser.createBrowserContext();
  const raw = await context.newPage();
  raw.setDefaultTimeout(15_000);
  await raw.setViewport(viewport);
  await raw.evaluateOnNewDocument(recordPeerConnections);
  const u = new FirefoxUser(`${label} (Firefox)`, context, raw);
  w.users.push(u);
  if (pagePath !== undefined) await u.goto(w.server.url(pagePath));
  return u;
}
