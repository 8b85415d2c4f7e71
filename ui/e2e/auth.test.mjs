// Browser end-to-end tests of the UI's basic-auth part: a real `ferroflow server
// --app-name basic-auth` on a free loopback port (its own temp dir and auth ini), Debian's
// chromium driven by playwright-core with per-context HTTP credentials, and one server
// without auth for the "no account UI" case. Screenshots go to $FERROFLOW_UI_SCREENSHOTS.
//
//   FERROFLOW_BIN     the binary (default $CARGO_TARGET_DIR/debug/ferroflow)

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { freePort, waitHealthy } from './harness.mjs';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TARGET = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache/ferroflow/target');
const BIN = process.env.FERROFLOW_BIN || path.join(TARGET, 'debug/ferroflow');
const SHOTS = process.env.FERROFLOW_UI_SCREENSHOTS || path.join(ROOT, 'ui/e2e/screenshots');
const T = { timeout: 90_000 };

const ADMIN = { username: 'admin', password: 'admin-password-1234' };
const BOB = { username: 'bob', password: 'bob-password-5678' };
const CAROL = { username: 'carol', password: 'carol-password-90' };
const EXPERIMENT = 'auth-e2e-experiment';

const servers = [];
let browser, base, experimentId;

/** A server in its own temp dir; `env` adds to the process's environment. */
async function startServer(args, env = {}, files = {}) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ferroflow-ui-auth-'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(tmp, name), text);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log = fs.openSync(path.join(tmp, 'server.log'), 'a');
  const proc = spawn(BIN, ['server', '--host', '127.0.0.1', '--port', String(port), ...args], {
    cwd: tmp,
    stdio: ['ignore', log, log],
    env: { ...process.env, ...env },
  });
  servers.push({ proc, tmp });
  await waitHealthy(url, proc, 30_000);
  return url;
}

/** A REST call as `who` to the auth server, for setup and for checking what the UI did. */
async function api(who, method, endpoint, body) {
  const resp = await fetch(`${base}/api/${endpoint}`, {
    method,
    headers: {
      'Content-Type': 'application/json',
      ...(who ? { Authorization: 'Basic ' + Buffer.from(`${who.username}:${who.password}`).toString('base64') } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await resp.text();
  if (!resp.ok) throw new Error(`${endpoint}: ${resp.status} ${text}`);
  return JSON.parse(text);
}

/** A page in a fresh browser context (its own credential cache), errors collected. */
async function newPage(httpCredentials, origin = base) {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    // Credentials only for the server under test.
    ...(httpCredentials ? { httpCredentials: { ...httpCredentials, origin } } : {}),
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const errors = { page: [], console: [] };
  page.on('pageerror', (e) => errors.page.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.console.push({ text: m.text(), url: m.location().url }));
  await page.route('**/*', (route) => (route.request().url().startsWith(origin) ? route.continue() : route.abort()));
  return { context, page, errors };
}

/**
 * Console errors other than the browser's own log line for an HTTP error the test caused
 * on purpose (`status` on a URL ending in `endpoint`). Chromium logs every 4xx answer to a
 * fetch as "Failed to load resource"; that is the network log, not a script error.
 */
function unexpected(console, allowed = []) {
  return console
    .filter((c) => !allowed.some(([status, endpoint]) => c.text.includes(`status of ${status}`) && c.url.split('?')[0].endsWith(endpoint)))
    .map((c) => `${c.text} (${c.url})`);
}

const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

/** The outcome box at the top of the admin page after an action. */
async function outcome(page, pattern) {
  const box = page.locator('.success, .error').filter({ hasText: pattern });
  await box.first().waitFor();
}

before(async () => {
  assert.ok(fs.existsSync(BIN), `no ferroflow binary at ${BIN}; run cargo build -p ferroflow-cli`);
  fs.mkdirSync(SHOTS, { recursive: true });
  const ini = [
    '[mlflow]',
    'default_permission = READ',
    'database_uri = sqlite:///basic_auth.db',
    `admin_username = ${ADMIN.username}`,
    `admin_password = ${ADMIN.password}`,
    'authorization_function = mlflow.server.auth:authenticate_request_basic_auth',
    '',
  ].join('\n');
  // The ini's path is absolute, written in the server's dir before it starts.
  const tmpIni = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ferroflow-ui-auth-ini-')), 'auth.ini');
  fs.writeFileSync(tmpIni, ini);
  servers.push({ tmp: path.dirname(tmpIni) });
  base = await startServer(['--app-name', 'basic-auth'], { MLFLOW_AUTH_CONFIG_PATH: tmpIni });
  experimentId = (await api(ADMIN, 'POST', '2.0/mlflow/experiments/create', { name: EXPERIMENT })).experiment_id;
  await api(ADMIN, 'POST', '2.0/mlflow/users/create', CAROL);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, timeout: 30_000 });
});

after(async () => {
  await browser?.close();
  for (const { proc, tmp } of servers) {
    if (proc && proc.exitCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => (proc.kill('SIGKILL'), r()), 10_000);
        proc.on('exit', () => (clearTimeout(t), r()));
      });
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('without credentials the server asks the browser to sign in', T, async () => {
  const { context, page } = await newPage(undefined);
  const answered = page.waitForResponse((r) => r.url() === `${base}/`);
  // Headless chromium under playwright has no sign-in prompt: with no credentials to give
  // it cancels the challenge and the navigation ends in ERR_INVALID_AUTH_CREDENTIALS,
  // after the 401 response itself was seen.
  await page.goto(`${base}/`).catch((e) => assert.match(e.message, /ERR_INVALID_AUTH_CREDENTIALS/));
  const resp = await answered;
  assert.equal(resp.status(), 401);
  assert.match(resp.headers()['www-authenticate'] ?? '', /^Basic realm="mlflow"/);
  await context.close();
});

test('an admin creates a user, grants and revokes permissions, toggles admin and deletes a user', T, async () => {
  const { context, page, errors } = await newPage(ADMIN);
  const resp = await page.goto(`${base}/#/experiments`);
  assert.equal(resp.status(), 200);
  const badge = page.getByTestId('account');
  await badge.waitFor();
  assert.match(await badge.innerText(), /Signed in as admin/);
  await badge.locator('.badge', { hasText: 'admin' }).waitFor();
  await page.getByRole('link', { name: EXPERIMENT, exact: true }).waitFor();
  await shot(page, 'auth-admin-badge');

  await badge.getByRole('link', { name: 'Users & permissions' }).click();
  await page.getByRole('heading', { name: 'Users & permissions' }).waitFor();
  const users = page.getByTestId('users');
  const row = (name) => users.getByRole('row').filter({ has: page.getByRole('cell', { name, exact: true }) });
  await row('carol').waitFor();

  // The password rule is checked before anything is sent.
  const create = page.getByRole('form', { name: 'Create user' });
  await create.getByLabel('New username').fill(BOB.username);
  await create.getByLabel("New user's password").fill('short');
  await create.getByRole('button', { name: 'Create user' }).click();
  await create.getByRole('alert').filter({ hasText: 'at least 12 characters' }).waitFor();
  await create.getByLabel("New user's password").fill(BOB.password);
  await create.getByRole('button', { name: 'Create user' }).click();
  await outcome(page, 'Created user bob.');
  await row('bob').waitFor();
  // A duplicate gets the server's message.
  await create.getByLabel('New username').fill(BOB.username);
  await create.getByLabel("New user's password").fill(BOB.password);
  await create.getByRole('button', { name: 'Create user' }).click();
  await page.locator('.error').filter({ hasText: /bob/ }).first().waitFor();

  // Grant bob READ on the experiment through the form.
  await row('bob').getByRole('button', { name: 'Permissions' }).click();
  const perms = page.getByTestId('permissions');
  await perms.getByRole('heading', { name: 'Permissions of bob' }).waitFor();
  const grant = perms.getByRole('form', { name: 'Grant permission' });
  await grant.getByLabel('Resource type').selectOption('experiment');
  await grant.getByLabel('Resource', { exact: true }).selectOption(experimentId);
  await grant.getByLabel('Permission').selectOption('READ');
  await grant.getByRole('button', { name: 'Grant' }).click();
  await outcome(page, `Granted READ on experiment ${EXPERIMENT}`);
  await perms.getByTestId('permission-rows').getByRole('cell', { name: experimentId, exact: true }).waitFor();
  const got = await api(ADMIN, 'GET', `3.0/mlflow/users/permissions/get?username=bob&resource_type=experiment&resource_id=${experimentId}`);
  assert.equal(got.permission, 'READ');
  // READ is also the default: the list shows it is bob's own grant, not the default.
  const bobPerms = await api(ADMIN, 'GET', '3.0/mlflow/users/permissions/list?username=bob');
  assert.deepEqual(
    bobPerms.permissions.filter((p) => p.resource_type === 'experiment' && p.resource_pattern === experimentId).map((p) => p.permission),
    ['READ'],
  );
  await shot(page, 'auth-admin-permissions');

  // Carol: EDIT granted then revoked, made admin, then deleted.
  await row('carol').getByRole('button', { name: 'Permissions' }).click();
  await perms.getByRole('heading', { name: 'Permissions of carol' }).waitFor();
  await grant.getByLabel('Resource', { exact: true }).selectOption(experimentId);
  await grant.getByLabel('Permission').selectOption('EDIT');
  await grant.getByRole('button', { name: 'Grant' }).click();
  await outcome(page, 'Granted EDIT');
  const carolRow = perms.getByTestId('permission-rows').getByRole('row').filter({ hasText: 'EDIT' });
  await carolRow.getByRole('button', { name: 'Revoke' }).click();
  await outcome(page, 'Revoked EDIT');
  await perms.getByText('No permissions granted').waitFor();
  const carolPerms = await api(ADMIN, 'GET', '3.0/mlflow/users/permissions/list?username=carol');
  assert.equal(carolPerms.permissions.filter((p) => p.resource_pattern === experimentId).length, 0);

  // An admin resets someone's password without knowing the old one.
  await row('carol').getByRole('button', { name: 'Reset password' }).click();
  const reset = page.getByRole('dialog', { name: 'Reset password of carol' });
  await reset.getByLabel('New password').fill('too-short');
  await reset.getByRole('button', { name: 'Set password' }).click();
  await reset.getByRole('alert').filter({ hasText: 'at least 12 characters' }).waitFor();
  const carolNew = 'carol-new-password-77';
  await reset.getByLabel('New password').fill(carolNew);
  await reset.getByRole('button', { name: 'Set password' }).click();
  await outcome(page, 'Set a new password for carol.');
  assert.equal((await api({ username: 'carol', password: carolNew }, 'GET', '2.0/mlflow/users/current')).user.username, 'carol');

  await row('carol').getByLabel('carol is admin').check();
  await outcome(page, 'carol is now an admin.');
  const listed = await api(ADMIN, 'GET', '2.0/mlflow/users/list');
  assert.equal(listed.users.find((u) => u.username === 'carol').is_admin, true);
  await row('carol').getByLabel('carol is admin').uncheck();
  await outcome(page, 'carol is no longer an admin.');

  page.once('dialog', (d) => d.accept());
  await row('carol').getByRole('button', { name: 'Delete' }).click();
  await outcome(page, 'Deleted carol.');
  await row('carol').waitFor({ state: 'detached' });
  const after = await api(ADMIN, 'GET', '2.0/mlflow/users/list');
  assert.equal(after.users.some((u) => u.username === 'carol'), false);
  await shot(page, 'auth-admin-users');

  assert.deepEqual(errors.page, []);
  // The duplicate user was meant to fail: its 400 is the only console line allowed.
  assert.deepEqual(unexpected(errors.console, [[400, '/ajax-api/2.0/mlflow/users/create']]), []);
  await context.close();
});

test('a non-admin sees their name, no admin page, the experiments; changes password and signs out', T, async () => {
  const { context, page, errors } = await newPage(BOB);
  const resp = await page.goto(`${base}/#/experiments`);
  assert.equal(resp.status(), 200);
  const badge = page.getByTestId('account');
  await badge.waitFor();
  assert.match(await badge.innerText(), /Signed in as bob/);
  assert.equal(await badge.locator('.badge').count(), 0);
  assert.equal(await badge.getByRole('link', { name: 'Users & permissions' }).count(), 0);
  await page.getByRole('link', { name: EXPERIMENT, exact: true }).waitFor();
  await shot(page, 'auth-bob-experiments');

  await page.goto(`${base}/#/admin`);
  await page.getByText('Only administrators can manage users.').waitFor();
  await shot(page, 'auth-bob-admin-refused');

  // Changing the own password: the rule is checked here, the current one goes along.
  await badge.getByRole('button', { name: 'Change password' }).click();
  const dialog = page.getByRole('dialog', { name: 'Change password' });
  await dialog.getByLabel('Current password').fill(BOB.password);
  await dialog.getByLabel('New password', { exact: true }).fill('short');
  await dialog.getByLabel('Confirm new password').fill('short');
  await dialog.getByRole('button', { name: 'Change password' }).click();
  await dialog.getByRole('alert').filter({ hasText: 'at least 12 characters' }).waitFor();
  const next = 'bob-new-password-4321';
  await dialog.getByLabel('New password', { exact: true }).fill(next);
  await dialog.getByLabel('Confirm new password').fill(next + 'x');
  await dialog.getByRole('button', { name: 'Change password' }).click();
  await dialog.getByRole('alert').filter({ hasText: 'differ' }).waitFor();
  await dialog.getByLabel('Confirm new password').fill(next);
  await dialog.getByRole('button', { name: 'Change password' }).click();
  await dialog.getByText('Password changed').waitFor();
  const me = await api({ username: 'bob', password: next }, 'GET', '2.0/mlflow/users/current');
  assert.equal(me.user.username, 'bob');
  await dialog.getByRole('button', { name: 'Close' }).click();

  await badge.getByRole('button', { name: 'Sign out' }).click();
  await page.getByText('Signed out. Reload the page to sign in again.').waitFor();
  await shot(page, 'auth-bob-signed-out');
  assert.deepEqual(errors.page, []);
  // The sign-out request is answered 401 on purpose; nothing else may log an error.
  assert.deepEqual(unexpected(errors.console, [[401, '/ajax-api/2.0/mlflow/users/current']]), []);
  await context.close();
});

test('without the auth app there is no account UI and no console error', T, async () => {
  const plain = await startServer([]);
  const { context, page, errors } = await newPage(undefined, plain);
  const asked = page.waitForResponse((r) => r.url().endsWith('/ajax-api/2.0/mlflow/users/current'));
  await page.goto(`${plain}/#/experiments`);
  assert.equal((await asked).status(), 404);
  await page.getByRole('heading', { name: 'Experiments' }).waitFor();
  await page.waitForTimeout(300);
  assert.equal(await page.getByTestId('account').count(), 0);
  assert.equal(await page.getByText('Signed in as').count(), 0);
  await page.goto(`${plain}/#/admin`);
  await page.getByText('runs without authentication').waitFor();
  await shot(page, 'auth-none');
  assert.deepEqual(errors.page, []);
  // The one request that must fail without auth is the probe itself (the server has no
  // other way to tell the UI that auth is off); the browser logs its 404, nothing else.
  assert.deepEqual(unexpected(errors.console, [[404, '/ajax-api/2.0/mlflow/users/current']]), []);
  await context.close();
});
