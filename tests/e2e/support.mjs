// SPDX-License-Identifier: LGPL-2.1-or-later
// What the browser end-to-end tests (run.mjs, studio.mjs, continuity.mjs, destinations.mjs,
// firefox_smoke.mjs) share: where things are, a test's checks and exit status (E2eTest), its
// set-up (the tools it needs, nginx-rtmp, wsrtmpd, Chromium or Firefox ESR with a fake camera and
// microphone, a page that records its states and errors), and small process, polling and page
// helpers.
import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the tests find the tree, the build and the tools, from the environment meson sets
 * (WSRTMP_SOURCE_ROOT, WSRTMP_BUILD_ROOT, WSRTMPD, GST_PLUGIN_PATH, CHROMIUM, FIREFOX, E2E_ARTIFACTS) or
 * next to this file. ARTIFACTS: E2E_ARTIFACTS, else build/tests/e2e-artifacts when run from
 * meson, else tests/e2e/artifacts; then the subdirectory `name` (none when empty).
 */
export function e2ePaths(name = '') {
  const HERE = path.dirname(fileURLToPath(import.meta.url));
  const SOURCE_ROOT = path.resolve(process.env.WSRTMP_SOURCE_ROOT || path.join(HERE, '..', '..'));
  const buildRootSet = !!process.env.WSRTMP_BUILD_ROOT;
  const BUILD_ROOT = path.resolve(process.env.WSRTMP_BUILD_ROOT || path.join(SOURCE_ROOT, 'build'));
  return {
    HERE,
    SOURCE_ROOT,
    BUILD_ROOT,
    WSRTMPD: process.env.WSRTMPD || path.join(BUILD_ROOT, 'service', 'wsrtmpd'),
    PLUGIN_PATH: process.env.GST_PLUGIN_PATH || path.join(BUILD_ROOT, 'plugin'),
    CHROMIUM: process.env.CHROMIUM || '/usr/bin/chromium',
    FIREFOX: process.env.FIREFOX || '/usr/bin/firefox-esr',
    WEB_ROOT: path.join(SOURCE_ROOT, 'web'),
    NGINX_SH: path.join(SOURCE_ROOT, 'tests', 'support', 'nginx-rtmp.sh'),
    ARTIFACTS: path.resolve(process.env.E2E_ARTIFACTS ||
      (buildRootSet ? path.join(BUILD_ROOT, 'tests', 'e2e-artifacts') : path.join(HERE, 'artifacts')), name),
  };
}

/**
 * Cleanups run once, last added first, whatever fails: push functions on `cleanups`; `cleanup()`
 * runs them (later calls wait for the same run).
 */
export function cleanupStack() {
  const cleanups = [];
  let cleaning = null;
  const cleanup = () => {
    if (!cleaning) {
      cleaning = (async () => {
        for (const fn of cleanups.reverse()) {
          try { await fn(); } catch (err) { console.log(`cleanup: ${err.message}`); }
        }
      })();
    }
    return cleaning;
  };
  return { cleanups, cleanup };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Runs a command to its end (killed after timeout ms): { code, stdout, stderr, err }. */
export function run(cmd, args, { timeout = 30_000 } = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr, err });
    });
  });
}

/** The executable cmd on PATH, or null. */
export function which(cmd) {
  for (const dir of (process.env.PATH || '/usr/bin:/bin').split(':')) {
    const p = path.join(dir, cmd);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return null;
}

/** Polls fn every stepMs until it returns something truthy (that value) or timeoutMs passed (null). */
export async function until(fn, timeoutMs, stepMs = 200) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) return null;
    await sleep(stepMs);
  }
}

// ---------------------------------------------------------------- one test
const TOOL_PACKAGES = { ffmpeg: 'ffmpeg', ffprobe: 'ffmpeg', tesseract: 'tesseract-ocr tesseract-ocr-eng' };
const RTMP_MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so';

/**
 * BiDi commands playwright-core 1.65 sends on every new context or page only to emulate what a
 * test may ask for (colour scheme; screen size and orientation), which a Firefox may not have
 * yet ("unknown command"); the tests ask for none of it. Firefox ESR 153 lacks the first.
 */
const OPTIONAL_BIDI_COMMANDS = new Set([
  'emulation.setMediaFeaturesOverride',
  'emulation.setScreenOrientationOverride',
  'emulation.setScreenSettingsOverride',
]);

/**
 * Lets `browser` (playwright-core's BiDi Firefox, in this process) live with a Firefox that
 * lacks OPTIONAL_BIDI_COMMANDS: such a command failing with "unknown command" counts as done
 * (logged once each) instead of failing newContext. Reaches Playwright's BiDi session through
 * the in-process connection (toImpl), so it throws, saying so, if a playwright-core update
 * moved it.
 */
function tolerateMissingBidiCommands(browser, log) {
  const impl = browser._connection?.toImpl?.(browser);
  const session = impl?._browserSession;
  const proto = session && Object.getPrototypeOf(session);
  if (!proto || typeof proto.send !== 'function') {
    throw new Error('launchFirefox: playwright-core\'s BiDi session not found (its internals changed?)');
  }
  if (proto.__wsrtmpTolerant) return;
  const send = proto.send;
  const told = new Set();
  proto.send = async function tolerantSend(method, params) {
    try {
      return await send.call(this, method, params);
    } catch (err) {
      if (!OPTIONAL_BIDI_COMMANDS.has(method) || !/unknown command/.test(String(err && err.message))) throw err;
      if (!told.has(method)) { told.add(method); log(`firefox: no BiDi ${method} (ignored)`); }
      return {};
    }
  };
  proto.__wsrtmpTolerant = true;
}

/**
 * Firefox prefs for the tests, on top of Playwright's own first-run / network-quiet defaults:
 * fake camera and microphone with no prompt, autoplay allowed, no welcome page, telemetry,
 * captive-portal, region or remote-settings traffic.
 */
export const FIREFOX_PREFS = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'permissions.default.camera': 1,
  'permissions.default.microphone': 1,
  'media.autoplay.default': 0,
  // A click on Go live lets a real user's AudioContext run; BiDi's synthesized keys may not count.
  'media.autoplay.block-webaudio': false,
  'media.autoplay.blocking_policy': 0,
  'media.block-autoplay-until-in-foreground': false,
  'browser.aboutwelcome.enabled': false,
  'trailhead.firstrun.didSeeAboutWelcome': true,
  'browser.startup.firstrunSkipsHomepage': true,
  'browser.newtabpage.activity-stream.asrouter.userprefs.cfr.addons': false,
  'browser.newtabpage.activity-stream.asrouter.userprefs.cfr.features': false,
  'browser.discovery.enabled': false,
  'browser.region.network.url': '',
  'browser.region.update.enabled': false,
  'browser.ping-centre.telemetry': false,
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.unified': false,
  'toolkit.telemetry.archive.enabled': false,
  'toolkit.telemetry.reportingpolicy.firstRun': false,
  'app.shield.optoutstudies.enabled': false,
  'app.update.auto': false,
  'extensions.pocket.enabled': false,
  'network.captive-portal-service.enabled': false,
  'captivedetect.canonicalURL': '',
  'network.dns.disablePrefetch': true,
  'network.prefetch-next': false,
  'privacy.webrtc.legacyGlobalIndicator': false,
  'privacy.webrtc.hideGlobalIndicator': true,
};

/** The first line of an error's message, and where it was thrown. */
function errorLine(err) {
  const first = (err && err.message ? err.message : String(err)).split('\n')[0];
  const at = err && err.stack ? err.stack.split('\n').find((l) => /^\s+at /.test(l)) : '';
  return at ? `${first} (${at.trim()})` : first;
}

/**
 * One browser end-to-end test: its paths (e2ePaths(name)), checks printed with the time since
 * the start and counted, notes and figures printed at the end, cleanups run once whatever
 * happens, a global timeout, and the exit status: 0 passed, 1 a check failed, 77 skipped (the
 * whole test with skip(), or checks it could not make, with notChecked()).
 * Its functions are bound: `const { check, log } = t` works.
 */
export class E2eTest {
  constructor(name, { timeoutMs }) {
    this.paths = e2ePaths(name);
    this.passed = 0;
    this.failed = 0;
    this.failures = [];
    this.skipped = [];
    this.notes = [];   // printed under "Notes:"
    this.figures = []; // measurements, printed under "Figures:"
    this.t0 = Date.now();
    ({ cleanups: this.cleanups, cleanup: this.cleanup } = cleanupStack());
    const timer = setTimeout(() => {
      this.check(false, `whole test finished within ${timeoutMs / 1000} s`, 'global timeout');
      this.finish(1);
    }, timeoutMs);
    timer.unref();
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
      process.on(sig, () => { console.log(`got ${sig}`); this.failed++; this.finish(1); });
    }
    for (const ev of ['unhandledRejection', 'uncaughtException']) {
      process.on(ev, (err) => {
        this.check(false, 'no unexpected exception in the test', err && err.stack ? err.stack : String(err));
        this.finish(1);
      });
    }
  }

  stamp = () => `[${((Date.now() - this.t0) / 1000).toFixed(1).padStart(5)}s]`;

  log = (...a) => console.log(this.stamp(), ...a);

  check = (ok, what, detail = '') => {
    if (ok) this.passed++;
    else { this.failed++; this.failures.push(`${what}${detail ? `: ${detail}` : ''}`); }
    console.log(`${this.stamp()} ${ok ? 'PASS' : 'FAIL'}: ${what}${detail ? ` (${detail})` : ''}`);
    return ok;
  };

  /** A check this run cannot make (noted; the test ends with 77 if all else passed). */
  notChecked = (what, detail = '') => {
    this.skipped.push(`${what}${detail ? ` (${detail})` : ''}`);
    console.log(`${this.stamp()} SKIP: ${what}${detail ? ` (${detail})` : ''}`);
    return true;
  };

  /** Runs fn; an exception fails the check "<name> ran to the end" (then onError runs). */
  step = async (name, fn, onError = null) => {
    try {
      await fn();
    } catch (err) {
      this.check(false, `${name} ran to the end`, errorLine(err));
      if (onError) await Promise.resolve().then(onError).catch(() => {});
    }
  };

  /** Cleans up, prints the summary and exits: `code`, or from the checks. */
  finish = async (code) => {
    await this.cleanup();
    if (code === 77) process.exit(77);
    console.log('');
    for (const [title, list] of [['Notes', this.notes], ['Figures', this.figures],
      ['Skipped', this.skipped], ['Failures', this.failures]]) {
      if (!list.length) continue;
      console.log(`${title}:`);
      for (const line of list) console.log(`  - ${line}`);
    }
    console.log(`Artifacts: ${this.paths.ARTIFACTS}`);
    console.log(`${this.passed} passed, ${this.failed} failed${this.skipped.length ? `, ${this.skipped.length} skipped` : ''}`);
    process.exit(code ?? (this.failed ? 1 : this.skipped.length ? 77 : 0));
  };

  /** Skips the whole test (77), saying why. */
  skip = (why) => {
    console.log(`SKIP: ${why}`);
    return this.finish(77);
  };

  /**
   * What a browser test needs, else it is skipped (77): playwright-core (never a browser of its
   * own), the browser — Debian's Chromium (`browser: 'chromium'`, the default) or Firefox ESR
   * (`browser: 'firefox'`, driven over WebDriver BiDi, see launchFirefox) —, nginx with the RTMP
   * module (unless `nginx` is false) and `tools` on PATH. A missing wsrtmpd fails (it is built
   * with the tree) unless `wsrtmpd` is false. Returns playwright's browser type for `browser`
   * (chromium or firefox), for launchChromium / launchFirefox / launchBrowser.
   */
  async preflight({ nginx = true, tools = [], browser = 'chromium', wsrtmpd = true } = {}) {
    const { HERE, CHROMIUM, FIREFOX, WSRTMPD, BUILD_ROOT, ARTIFACTS } = this.paths;
    if (browser !== 'chromium' && browser !== 'firefox') throw new Error(`preflight: unknown browser ${browser}`);
    let playwright;
    try {
      playwright = await import('playwright-core');
    } catch {
      await this.skip('playwright-core is not installed. Install it with:\n' +
        `    npm ci --prefix ${HERE}\n` +
        '(it never downloads a browser: the test uses Debian\'s chromium / firefox-esr)');
    }
    if (browser === 'chromium' && !fs.existsSync(CHROMIUM)) {
      await this.skip(`${CHROMIUM} not found: apt-get install chromium (or set CHROMIUM)`);
    }
    if (browser === 'firefox') {
      if (!fs.existsSync(FIREFOX)) await this.skip(`${FIREFOX} not found: apt-get install firefox-esr (or set FIREFOX)`);
    }
    if (nginx && (!which('nginx') || !fs.existsSync(RTMP_MODULE))) {
      await this.skip('nginx with the RTMP module not found: apt-get install nginx-light libnginx-mod-rtmp');
    }
    for (const tool of tools) {
      if (!which(tool)) await this.skip(`${tool} not found: apt-get install ${TOOL_PACKAGES[tool] || tool}`);
    }
    if (wsrtmpd && !fs.existsSync(WSRTMPD)) {
      this.check(false, 'wsrtmpd binary exists', `${WSRTMPD} not found; build it with: ninja -C ${BUILD_ROOT}`);
      await this.finish(1);
    }
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    return playwright[browser];
  }

  /** A temporary directory that anyone may enter (nginx's worker may run as nobody), removed at the end. */
  tempDir(prefix) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    fs.chmodSync(dir, 0o755);
    this.cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /**
   * nginx-rtmp (tests/support/nginx-rtmp.sh) in `tmp`/nginx on free ports, recording every
   * stream to rec/<key>.flv; stopped at the end, its error.log kept in the artifacts.
   */
  async startNginx(tmp) {
    const { NGINX_SH, ARTIFACTS } = this.paths;
    const rtmpPort = await freePort();
    const statPort = await freePort();
    const dir = path.join(tmp, 'nginx');
    const r = await run('bash', [NGINX_SH, 'start', dir, String(rtmpPort), String(statPort)]);
    this.cleanups.push(async () => {
      await run('bash', [NGINX_SH, 'stop', dir]);
      try { fs.copyFileSync(path.join(dir, 'error.log'), path.join(ARTIFACTS, 'nginx-error.log')); } catch { /* none */ }
    });
    if (!this.check(r.code === 0, 'nginx-rtmp starts', (r.code === 0 ? r.stdout : r.stderr).trim())) await this.finish(1);
    const errorLog = () => {
      try { return fs.readFileSync(path.join(dir, 'error.log'), 'utf8'); } catch { return null; }
    };
    return {
      dir,
      rtmpUrl: `rtmp://127.0.0.1:${rtmpPort}/live`,
      errorLog,
      /** Where nginx records `key`. */
      flv: (key) => path.join(dir, 'rec', `${key}.flv`),
      /** How many times `key` was published (-1: no log). */
      countPublishes(key) {
        const text = errorLog();
        if (text === null) return -1;
        return text.split('\n').filter((l) => /\bpublish: name='/.test(l) && l.includes(`name='${key}'`)).length;
      },
      /** Whether `key` is being published now (nginx's stat page). */
      async publishing(key) {
        try {
          const res = await fetch(`http://127.0.0.1:${statPort}/stat`, { signal: AbortSignal.timeout(2000) });
          return (await res.text()).includes(`<name>${key}</name>`);
        } catch {
          return false;
        }
      },
    };
  }

  /**
   * wsrtmpd on a free port serving web/, with `args` besides; its output in `out` and the
   * artifacts' wsrtmpd.log, `exit` once it exited. Waits for its listening line (else the
   * test fails); stop() (also at the end): SIGTERM, SIGKILL after 10 s.
   */
  async startWsrtmpd(args) {
    const { WSRTMPD, PLUGIN_PATH, WEB_ROOT, ARTIFACTS } = this.paths;
    const port = await freePort();
    const logPath = path.join(ARTIFACTS, 'wsrtmpd.log');
    const logFile = fs.createWriteStream(logPath);
    // The overload guard off unless asked for, as in the service tests: a test's deliberate
    // stall on a shared machine is no overload.
    const guard = args.includes('--overload-delay-ms') ? []
      : ['--overload-delay-ms', '0', '--overload-cpu-percent', '0', '--overload-machine-percent', '0'];
    const all = ['--listen', `127.0.0.1:${port}`, '--web-root', WEB_ROOT, ...guard, ...args];
    this.log(`starting: GST_PLUGIN_PATH=${PLUGIN_PATH} ${WSRTMPD} ${all.join(' ')}`);
    const proc = spawn(WSRTMPD, all, {
      env: { ...process.env, GST_PLUGIN_PATH: PLUGIN_PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const daemon = {
      port,
      base: `http://127.0.0.1:${port}`,
      logPath,
      proc,
      out: '',
      exit: null,
      /** SIGTERM, and true once it exited within timeoutMs. */
      async terminate(timeoutMs) {
        if (daemon.exit === null) proc.kill('SIGTERM');
        return !!(await until(() => daemon.exit !== null, timeoutMs, 50));
      },
      async stop() {
        if (!(await daemon.terminate(10_000))) {
          proc.kill('SIGKILL');
          await until(() => daemon.exit !== null, 2000, 50);
        }
      },
    };
    proc.on('exit', (code, signal) => {
      daemon.exit = { code, signal };
      logFile.write(`\n[wsrtmpd exited: code ${code} signal ${signal}]\n`);
    });
    proc.on('error', (err) => { daemon.exit = { code: -1, signal: String(err) }; });
    for (const s of [proc.stdout, proc.stderr]) s.on('data', (d) => { daemon.out += d; logFile.write(d); });
    this.cleanups.push(async () => { await daemon.stop(); logFile.end(); });
    const m = await until(() => /wsrtmpd listening on (http:\/\/\S+)/.exec(daemon.out) || daemon.exit, 15_000, 50);
    const ok = m && !daemon.exit;
    if (!this.check(ok, 'wsrtmpd starts and prints its listening line',
      ok ? m[1] : `${daemon.exit ? `exited ${JSON.stringify(daemon.exit)}` : 'no line within 15 s'}; see ${logPath}`)) {
      await this.finish(1);
    }
    return daemon;
  }

  /**
   * Headless Chromium (Debian's) with a fake camera and microphone, permission prompts
   * answered yes (getDisplayMedia too: Chromium's fake screen), `args` besides; closed at the
   * end. Each context gets a fresh profile.
   */
  async launchChromium(chromium, args = []) {
    const browser = await chromium.launch({
      executablePath: this.paths.CHROMIUM,
      headless: true,
      timeout: 30_000,
      args: [
        '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--no-default-browser-check',
        ...args,
      ],
    });
    this.cleanups.push(() => Promise.race([browser.close(), sleep(10_000)]));
    this.log(`browser: Chromium ${browser.version()}`);
    return browser;
  }

  /**
   * Headless Firefox ESR (Debian's /usr/bin/firefox-esr, or FIREFOX) driven by playwright-core
   * over WebDriver BiDi (channel moz-firefox: stock Firefox, no Juggler), in a fresh temporary
   * profile (Playwright's, removed on close) with a fake camera and microphone
   * (media.navigator.streams.fake), no permission prompts, autoplay allowed and first-run noise
   * off; `prefs` (Firefox about:config prefs) and `args` besides; closed at the end. Pages come
   * from openPage as with Chromium.
   */
  async launchFirefox(firefox, { prefs = {}, args = [] } = {}) {
    const browser = await firefox.launch({
      channel: 'moz-firefox',
      executablePath: this.paths.FIREFOX,
      headless: true,
      timeout: 60_000,
      args,
      firefoxUserPrefs: { ...FIREFOX_PREFS, ...prefs },
    });
    this.cleanups.push(() => Promise.race([browser.close(), sleep(10_000)]));
    tolerateMissingBidiCommands(browser, this.log);
    this.log(`browser: Firefox ${browser.version()}`);
    return browser;
  }

  /**
   * launchChromium or launchFirefox, as the browser type from preflight says (`opts`: Chromium's
   * args array, or Firefox's { prefs, args }).
   */
  launchBrowser(browserType, opts) {
    return browserType.name() === 'firefox' ? this.launchFirefox(browserType, opts) : this.launchChromium(browserType, opts);
  }

  /**
   * A page in a fresh context that records the status element's states (window.__states:
   * {state, t}) and the alert's texts (window.__alerts: {text, t}), and its errors in
   * `consoleErrors` (console errors and page errors; failed requests and HTTP errors too with
   * `requests`). `init`: scripts (a function, or {fn, arg}) run before the page's own; `mock`:
   * answers the ingest WebSocket (Playwright's routeWebSocket); `url`: loaded when given.
   */
  async openPage(browser, url, { viewport = { width: 1280, height: 800 }, init = [], mock = null, requests = false } = {}) {
    const context = await browser.newContext({ viewport });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const consoleErrors = [];
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${this.stamp()} console.error: ${m.text()}`); });
    page.on('pageerror', (e) => consoleErrors.push(`${this.stamp()} pageerror: ${e.message}`));
    if (requests) {
      page.on('requestfailed', (r) => consoleErrors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
      page.on('response', (r) => { if (r.status() >= 400) consoleErrors.push(`HTTP ${r.status()}: ${r.url()}`); });
    }
    await page.addInitScript(() => {
      window.__states = [];
      window.__alerts = [];
      document.addEventListener('DOMContentLoaded', () => {
        const status = document.getElementById('status');
        const alert = document.getElementById('alert');
        if (!status || !alert) return;
        const note = () => {
          const s = status.dataset.state;
          if (window.__states.at(-1)?.state !== s) window.__states.push({ state: s, t: Date.now() });
          const a = alert.hidden ? '' : alert.textContent;
          if ((window.__alerts.at(-1)?.text ?? '') !== a) window.__alerts.push({ text: a, t: Date.now() });
        };
        note();
        new MutationObserver(note).observe(status, { attributes: true, attributeFilter: ['data-state'] });
        new MutationObserver(note).observe(alert, { attributes: true, childList: true, characterData: true, subtree: true });
      });
    });
    for (const script of [].concat(init)) {
      if (typeof script === 'function') await page.addInitScript(script);
      else await page.addInitScript(script.fn, script.arg);
    }
    if (mock) await page.routeWebSocket(/\/ingest\//, mock);
    if (url) await page.goto(url, { waitUntil: 'load' });
    return { context, page, consoleErrors };
  }
}

// ---------------------------------------------------------------- the page
/** The status element's state (idle, connecting, live, lost, ending, ended, error…). */
export const stateOf = (page) => page.getAttribute('#status', 'data-state');

/** The states the page went through (E2eTest.openPage records them). */
export const statesOf = (page) => page.evaluate(() => window.__states.map((s) => s.state));

/** Waits until the page's state is one of `states`; false when it is not within timeoutMs. */
export function waitState(page, states, timeoutMs) {
  return page.waitForFunction((w) => w.includes(document.getElementById('status').dataset.state),
    [].concat(states), { timeout: timeoutMs, polling: 100 }).then(() => true, () => false);
}

/**
 * The camera preview on, as a streamer gets it: the page opens the camera by itself when
 * permission was already granted, else "Turn on camera" is pressed. Whether it came on.
 */
export async function cameraOn(page) {
  const on = '#preview-box[data-camera="on"]';
  if (await page.waitForSelector(on, { timeout: 5000 }).then(() => true, () => false)) return true;
  await page.click('#camera-btn', { timeout: 3000 }).catch(() => {});
  return page.waitForSelector(on, { timeout: 10_000 }).then(() => true, () => false);
}
