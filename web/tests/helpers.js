// Test fixtures: a real oxve daemon on a random loopback port with a temporary data dir, a
// small HTTPS client of its API, and Debian's Chromium driven by Playwright.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const OXVE = process.env.OXVE_BIN || path.join(REPO, 'target/debug/oxve');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const ADMIN_PASSWORD = 'ui-test-Admin-pw1';
export const NODE = 'testnode';

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Start `oxve serve`; resolves once it printed its URL. */
export async function startDaemon({ testHooks = false } = {}) {
  assert.ok(existsSync(OXVE), `${OXVE} is missing: run cargo build -p oxve first`);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'oxve-ui-'));
  // KVM cannot run guests on the build machine: VMs run under TCG in tests.
  const args = ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--node', NODE, '--accel', 'tcg'];
  if (testHooks) args.push('--test-hooks');
  const child = spawn(OXVE, args, {
    env: { ...process.env, OXVE_ADMIN_PASSWORD: ADMIN_PASSWORD, RUST_LOG: process.env.RUST_LOG || 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (d) => { output += d; });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`oxve did not start in time:\n${output}`)), 30000);
    child.stdout.on('data', (d) => {
      output += d;
      const m = /oxve listening on (https:\/\/[^\s/]+)\//.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`oxve exited with ${code}:\n${output}`));
    });
  });
  child.removeAllListeners('exit');
  return {
    url,
    dataDir,
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      // QEMUs outlive the daemon (they are daemonized): kill what a failed test left running.
      const qemuRun = path.join(dataDir, 'run', 'qemu');
      if (existsSync(qemuRun)) {
        for (const name of readdirSync(qemuRun).filter((n) => n.endsWith('.pid'))) {
          const pid = Number(readFileSync(path.join(qemuRun, name), 'utf8').trim());
          try {
            if (pid > 0) process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      // Base images of templates are immutable (chattr +i): let the temp dir go.
      spawnSync('find', [dataDir, '-type', 'f', '-exec', 'chattr', '-i', '{}', '+'], { stdio: 'ignore' });
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** One HTTPS request to the daemon (self-signed certificate). Resolves { status, body }. */
export function request(base, method, apiPath, { params, headers = {} } = {}) {
  const url = new URL(`/api2/json${apiPath}`, base);
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null) form.append(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  }
  let body = null;
  if (method === 'GET' || method === 'DELETE') {
    for (const [k, v] of form) url.searchParams.append(k, v);
  } else {
    body = form.toString();
    headers = { ...headers, 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) };
  }
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, rejectUnauthorized: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json = null;
        try {
          json = JSON.parse(text);
        } catch {
          json = null;
        }
        resolve({ status: res.statusCode, body: json, text, headers: res.headers });
      });
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

/** An API client logged in as `username` (default admin@pve). Methods resolve `data`. */
export async function apiClient(base, username = 'admin@pve', password = ADMIN_PASSWORD) {
  const login = await request(base, 'POST', '/access/ticket', { params: { username, password } });
  assert.equal(login.status, 200, `login of ${username} failed: ${login.text}`);
  const { ticket, CSRFPreventionToken } = login.body.data;
  const headers = { Cookie: `PVEAuthCookie=${encodeURIComponent(ticket)}`, CSRFPreventionToken };
  const call = async (method, p, params) => {
    const res = await request(base, method, p, { params, headers });
    if (res.status !== 200) {
      const err = new Error(`${method} ${p}: ${res.status} ${res.text}`);
      err.status = res.status;
      throw err;
    }
    return res.body.data;
  };
  return {
    ticket,
    get: (p, params) => call('GET', p, params),
    post: (p, params) => call('POST', p, params),
    put: (p, params) => call('PUT', p, params),
    delete: (p, params) => call('DELETE', p, params),
  };
}

/** Launch Chromium with a fresh profile; resolves { context, page, errors }. */
export async function launchBrowser() {
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'oxve-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 720 },
    timeout: 60000,
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(15000);
  const errors = [];
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  return {
    context,
    page,
    errors,
    async close() {
      await context.close().catch(() => {});
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Everything a test needs: a daemon, an admin API client, a browser page on the UI.
 * Cleans up after the test. `allowErrors`: console errors (regexps) the test expects.
 */
export async function setup(t, { testHooks = false, allowErrors = [] } = {}) {
  const daemon = await startDaemon({ testHooks });
  t.after(() => daemon.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const api = await apiClient(daemon.url);
  const { page } = browser;
  await page.goto(`${daemon.url}/`);
  return {
    daemon,
    api,
    page,
    browser,
    /** Fail on uncaught exceptions and unexpected console errors. */
    assertNoErrors() {
      const unexpected = browser.errors.filter((e) => !allowErrors.some((re) => re.test(e)));
      assert.deepEqual(unexpected, [], 'the page logged errors');
    },
  };
}

/** Log in through the login form. */
export async function login(page, { user = 'admin', password = ADMIN_PASSWORD, realm = 'pve' } = {}) {
  const card = page.locator('.login-card');
  await card.getByLabel('User name').fill(user);
  await card.getByLabel('Password').fill(password);
  // The realms come from /access/domains: wait until they are there.
  await card.locator(`select[name=realm] option[value="${realm}"]`).waitFor({ state: 'attached' });
  await card.getByLabel('Realm').selectOption(realm);
  await card.getByRole('button', { name: 'Login' }).click();
}

/** Log in and wait for the main screen with the node in the tree. */
export async function loginAsAdmin(page) {
  await login(page);
  await treeItem(page, NODE).waitFor();
}

/** The tree item labelled exactly `label` ('Datacenter', 'testnode', '100 (web)', ...). */
export function treeItem(page, label) {
  return page.locator('.tree-panel').getByRole('treeitem', { name: label, exact: true });
}

/** The open window (Radix dialog) with this title. */
export function dialog(page, title) {
  return page.locator('.window[role=dialog][data-state=open]').filter({ has: page.locator('.window-title', { hasText: title }) });
}

/** A form field's control inside a dialog, by its label text. */
export function field(scope, label) {
  return scope.locator('.field').filter({ has: scope.page().locator('.label', { hasText: new RegExp(`^${label}$`) }) });
}

/** The grid row whose cells contain all these texts. */
export function gridRow(scope, ...texts) {
  let rows = scope.locator('tbody tr');
  for (const text of texts) rows = rows.filter({ has: scope.page().locator('td', { hasText: text }) });
  return rows;
}

export async function openTab(page, objectLabel, tabTitle) {
  await treeItem(page, objectLabel).locator(':scope > .tree-row').click();
  await page.locator('.content-tabs').getByRole('tab', { name: tabTitle, exact: true }).click();
}

/** Poll `fn` until it returns truthy (or throw its last error after `ms`). */
export async function eventually(fn, ms = 10000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw last || new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Wait for the open task window's task to end; fail with its log unless OK; close it (after
 * saving a screenshot as target/ui-SHOT.png when `shot` is given). Returns the log.
 */
export async function finishTask(page, timeout = 60000, { shot } = {}) {
  const win = page.locator('.task-dialog[data-state=open]');
  await win.locator('.task-state .task-ok, .task-state .task-error, .task-state .task-warning').waitFor({ timeout });
  const state = await win.locator('.task-state').innerText();
  const log = await win.locator('pre.task-log').innerText();
  if (!/OK/.test(state)) assert.fail(`task failed: ${state}\n${log}`);
  if (shot) await screenshot(page, shot);
  await win.getByRole('button', { name: 'Close', exact: true }).click();
  await win.waitFor({ state: 'detached' });
  return log;
}

/** Wait for an API task to end OK. */
export async function waitTask(api, upid, ms = 60000) {
  const node = upid.split(':')[1];
  const status = await eventually(async () => {
    const s = await api.get(`/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`);
    return s.status === 'stopped' ? s : null;
  }, ms);
  assert.equal(status.exitstatus, 'OK', `task ${upid}: ${status.exitstatus}`);
  return status;
}

/** Save a screenshot of the page as target/ui-NAME.png. */
export function screenshot(page, name) {
  return page.screenshot({ path: path.join(REPO, `target/ui-${name}.png`) });
}
