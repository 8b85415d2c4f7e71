// Browser end-to-end tests of the web UI: a real `ferroflow server` on a free loopback
// port, data logged by the official MLflow client (log_data.py), Debian's chromium
// driven by playwright-core. Every page is screenshotted into $FERROFLOW_UI_SCREENSHOTS.
//
//   FERROFLOW_BIN     the binary (default $CARGO_TARGET_DIR/debug/ferroflow)
//   FERROFLOW_UI_PYTHON  a Python with mlflow 3.17.2 (default: scripts/venv.sh tests/e2e/requirements.txt)
//   FERROFLOW_UI_PERF_RUNS  runs in the timing experiment (default 10000; 0 skips it;
//                           100000 checks the runs page at that scale, ~2.5 min of logging)
//   FERROFLOW_UI_PERF_POINTS  points of the long metric (default 1000000; 0 skips it)
//
// The timing tests' numbers are printed (`# timings {...}`) and kept in
// $FERROFLOW_UI_SCREENSHOTS/timings.json.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { freePort, waitHealthy } from './harness.mjs';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TARGET = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache/ferroflow/target');
const BIN = process.env.FERROFLOW_BIN || path.join(TARGET, 'debug/ferroflow');
const SHOTS = process.env.FERROFLOW_UI_SCREENSHOTS || path.join(ROOT, 'ui/e2e/screenshots');
const PERF_RUNS = Number(process.env.FERROFLOW_UI_PERF_RUNS ?? 10_000);
const PERF_POINTS = Number(process.env.FERROFLOW_UI_PERF_POINTS ?? 1_000_000);
const T = { timeout: 90_000 };

let server, browser, page, base, data, tmp;
const pageErrors = [];
const timings = {};

/** Keep-alive connections for `api`: fetch's own cost per request in Node is larger than
 * the server's, and logging the perf test's 100,000 runs with it took minutes longer. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** A REST call to the server, for setup the UI is not under test for. */
function api(method, endpoint, body) {
  const payload = body === undefined ? '' : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}/api/2.0/mlflow/${endpoint}`,
      { method, agent, timeout: 30_000, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } },
      (resp) => {
        const chunks = [];
        resp.on('data', (c) => chunks.push(c));
        resp.on('error', reject);
        resp.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (resp.statusCode >= 300) return reject(new Error(`${endpoint}: ${resp.statusCode} ${text}`));
          try {
            resolve(JSON.parse(text));
          } catch (e) {
            reject(new Error(`${endpoint}: ${e}`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${endpoint}: no answer within 30 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

async function shot(name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** A screenshot in the OS's light and dark schemes. */
async function shotLightAndDark(name) {
  await shot(name);
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot(`${name}-dark`);
  await page.emulateMedia({ colorScheme: 'light' });
}

/** A fresh page load of a route (not a hash change inside the already loaded app). */
async function open(hash) {
  await page.goto('about:blank');
  await page.goto(`${base}/${hash}`);
}

before(async () => {
  assert.ok(fs.existsSync(BIN), `no ferroflow binary at ${BIN}; run cargo build -p ferroflow-cli`);
  fs.mkdirSync(SHOTS, { recursive: true });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ferroflow-ui-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const log = fs.openSync(path.join(tmp, 'server.log'), 'a');
  server = spawn(BIN, ['server', '--host', '127.0.0.1', '--port', String(port)], { cwd: tmp, stdio: ['ignore', log, log] });
  await waitHealthy(base, server, 30_000);

  const python = process.env.FERROFLOW_UI_PYTHON || path.join(execFileSync('bash', [path.join(ROOT, 'scripts/venv.sh'), path.join(ROOT, 'tests/e2e/requirements.txt')], { encoding: 'utf8' }).trim(), 'bin/python');
  const out = execFileSync(python, [path.join(ROOT, 'ui/e2e/log_data.py')], {
    cwd: tmp,
    encoding: 'utf8',
    timeout: 180_000,
    env: { ...process.env, MLFLOW_TRACKING_URI: base, GIT_PYTHON_REFRESH: 'quiet' },
  });
  data = JSON.parse(out.trim().split('\n').pop());

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, timeout: 30_000 });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  // Anything the server's Content-Security-Policy refuses is an error of the UI.
  page.on('console', (m) => /Content Security Policy/i.test(m.text()) && pageErrors.push(m.text()));
  // Network only to the server under test.
  await page.route('**/*', (route) => (route.request().url().startsWith(base) || route.request().url().startsWith('data:') ? route.continue() : route.abort()));
});

after(async () => {
  await browser?.close();
  agent.destroy();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => {
      const t = setTimeout(() => (server.kill('SIGKILL'), r()), 10_000);
      server.on('exit', () => (clearTimeout(t), r()));
    });
  }
  if (Object.keys(timings).length) {
    console.log('# timings ' + JSON.stringify(timings));
    fs.writeFileSync(path.join(SHOTS, 'timings.json'), JSON.stringify(timings, null, 2) + '\n');
  }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the experiments page lists the logged experiment', T, async () => {
  await open('#/experiments');
  const link = page.getByRole('link', { name: data.experiment, exact: true });
  await link.waitFor();
  assert.equal(await page.title(), 'Ferroflow');
  await shotLightAndDark('experiments');
});

test('experiments are created, renamed, deleted and restored from the page', T, async () => {
  await open('#/experiments');
  await page.getByRole('button', { name: 'Create experiment' }).click();
  await page.getByRole('dialog').getByLabel('Name').fill('ui-e2e-scratch');
  await page.getByRole('dialog').getByRole('button', { name: 'Create' }).click();
  await page.getByRole('heading', { name: 'ui-e2e-scratch' }).waitFor();
  await open('#/experiments');
  const row = (name) => page.getByTestId('experiments').getByRole('row', { name: new RegExp(`^${name}\\b`) });
  await row('ui-e2e-scratch').getByRole('button', { name: 'Rename' }).click();
  await page.getByRole('dialog').getByLabel('Name').fill('ui-e2e-renamed');
  await page.getByRole('dialog').getByRole('button', { name: 'Rename' }).click();
  await row('ui-e2e-renamed').waitFor();
  page.once('dialog', (d) => d.accept());
  await row('ui-e2e-renamed').getByRole('button', { name: 'Delete' }).click();
  await row('ui-e2e-renamed').waitFor({ state: 'detached' });
  await page.getByLabel('Show deleted').check();
  await row('ui-e2e-renamed').getByRole('button', { name: 'Restore' }).click();
  await row('ui-e2e-renamed').waitFor({ state: 'detached' });
  await page.getByLabel('Show deleted').uncheck();
  await row('ui-e2e-renamed').waitFor();
  // A duplicate name is refused with the server's message, in the dialog.
  await page.getByRole('button', { name: 'Create experiment' }).click();
  await page.getByRole('dialog').getByLabel('Name').fill('ui-e2e-renamed');
  await page.getByRole('dialog').getByRole('button', { name: 'Create' }).click();
  assert.match(await page.getByRole('dialog').getByRole('alert').innerText(), /ui-e2e-renamed/);
  await page.keyboard.press('Escape');
});

test('an empty experiment tells a new user what to run', T, async () => {
  await open(`#/experiments/${data.empty_experiment_id}`);
  const snippet = page.locator('.snippet');
  await snippet.waitFor();
  const text = await snippet.innerText();
  assert.match(text, new RegExp(`MLFLOW_TRACKING_URI=${base}`));
  assert.match(text, /mlflow\.start_run\(\)/);
  await shot('runs-empty');
});

test('the runs table shows params and metrics as columns, nested runs folded', T, async () => {
  await open(`#/experiments/${data.experiment_id}`);
  const table = page.getByTestId('runs-table');
  await table.waitFor();
  const header = await table.locator('thead').innerText();
  for (const col of ['Run name', 'Created', 'Duration', 'User', 'Source', 'Status', 'alpha', 'l1_ratio', 'loss', 'rmse']) {
    assert.ok(header.includes(col), `column ${col} in ${header}`);
  }
  assert.match(await page.getByTestId('run-count').innerText(), /^3 runs/);
  assert.equal(await table.locator('tbody tr.r').count(), 1, 'children folded under the parent');
  await page.getByRole('button', { name: /Unfold 2 child runs/ }).click();
  assert.equal(await table.locator('tbody tr.r').count(), 3);
  await shotLightAndDark('runs');
});

test('sorting by a metric column orders runs on the server', T, async () => {
  await open(`#/experiments/${data.experiment_id}`);
  await page.getByRole('button', { name: /Unfold 2 child runs/ }).click();
  const order = (ids) =>
    page.waitForFunction((ids) => [...document.querySelectorAll('tbody tr.r')].map((r) => r.dataset.runId).join() === ids.join(), ids);
  const [c0, c1] = data.children;
  await page.locator('thead button.sort', { hasText: /^rmse/ }).click();
  await page.waitForFunction(() => location.hash.includes('order=metrics.rmse+DESC'));
  await order([data.parent, c1, c0]);
  await page.locator('thead button.sort', { hasText: /^rmse/ }).click();
  await page.waitForFunction(() => location.hash.includes('order=metrics.rmse+ASC'));
  await order([data.parent, c0, c1]);
});

test('the runs table is keyboard navigable', T, async () => {
  await open(`#/experiments/${data.experiment_id}`);
  const table = page.locator('.table-scroll');
  await table.locator('tbody tr.r').first().waitFor();
  await table.focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction(() => document.querySelectorAll('tbody tr.r').length === 3);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Space');
  await page.getByText('1 selected').waitFor();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /\/runs\/[0-9a-f]{32}$/.test(location.hash));
  await page.getByRole('heading', { name: /child-/ }).waitFor();
});

test('the filter narrows the table and a bad filter shows the server error', T, async () => {
  await open(`#/experiments/${data.experiment_id}`);
  await page.getByTestId('runs-table').waitFor();
  const filter = page.getByLabel('Filter runs');
  await filter.fill('metrics.rmse < 1');
  await filter.press('Enter');
  await page.waitForFunction(() => /^2 runs/.test(document.querySelector('[data-testid=run-count]')?.textContent ?? ''));
  await shot('runs-filtered');
  await filter.fill("metrics.rmse <<< 'oops");
  await filter.press('Enter');
  const alert = page.getByRole('alert');
  await alert.waitFor();
  const text = await alert.innerText();
  assert.match(text, /Search failed/);
  assert.ok(text.length > 'Search failed: '.length + 5, `a specific message: ${text}`);
  await shot('runs-bad-filter');
});

test('the run page shows overview, params, a drawn chart and tags', T, async () => {
  await open(`#/experiments/${data.experiment_id}/runs/${data.parent}`);
  await page.getByRole('heading', { name: 'parent-run' }).waitFor();
  const params = await page.getByTestId('params').innerText();
  assert.match(params, /alpha\s+0\.5/);
  assert.match(params, /l1_ratio\s+0\.1/);
  assert.match(await page.locator('pre.note').innerText(), /The parent run of the UI test/);
  const chart = page.locator('.chart-card[data-metric=rmse] .chart');
  await chart.locator('canvas').waitFor();
  assert.equal(await chart.getAttribute('data-points'), '60');
  const painted = await chart.locator('canvas').evaluate((c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  });
  assert.ok(painted > 200, `the chart painted ${painted} pixels`);
  timings.chart_draw_ms_60_points = Number(await chart.getAttribute('data-draw-ms'));
  await page.locator('.chart-card[data-metric=loss]').getByLabel('log scale').check();
  await page.locator('.chart-card[data-metric=loss] canvas').waitFor();
  await shot('run');
  // The description (tag mlflow.note.content) is editable.
  await page.getByRole('button', { name: 'Edit description' }).click();
  await page.getByLabel('description').fill('Edited in the browser.');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('pre.note', { hasText: 'Edited in the browser.' }).waitFor();
  // Tags are editable.
  await page.getByLabel('Tag key').fill('reviewed');
  await page.getByLabel('Tag value').fill('yes');
  await page.getByRole('button', { name: 'Add tag' }).click();
  await page.getByRole('cell', { name: 'reviewed' }).waitFor();
  await page.getByRole('button', { name: 'Remove tag reviewed' }).click();
  await page.getByRole('cell', { name: 'reviewed' }).waitFor({ state: 'detached' });
});

test('artifacts preview text, JSON, images and refuse what is too large', T, async () => {
  await open(`#/experiments/${data.experiment_id}/runs/${data.parent}`);
  const tree = page.getByRole('tree', { name: 'Artifacts' });
  const preview = page.getByTestId('preview');
  await tree.getByRole('button', { name: 'notes.txt' }).click();
  assert.match(await preview.getByTestId('file-text').innerText(), /hello from the ferroflow UI test/);
  await tree.getByRole('button', { name: 'summary.json' }).click();
  await preview.getByText('"rmse": 0.71').waitFor();
  await tree.getByRole('button', { name: 'config.yaml' }).click();
  await preview.getByText('l1_ratio: 0.1').waitFor();
  await tree.getByRole('button', { name: 'predictions.csv' }).click();
  await preview.getByText('y,pred').waitFor();
  await tree.getByRole('button', { name: 'big.log' }).click();
  assert.match(await preview.getByTestId('no-preview').innerText(), /Too large to preview/);
  await tree.getByRole('button', { name: 'residuals.png' }).click();
  const img = preview.locator('img.artifact-img');
  await page.waitForFunction(() => document.querySelector('img.artifact-img')?.naturalWidth === 64);
  assert.equal(await img.evaluate((i) => i.naturalHeight), 48);
  await shot('run-artifact-image');
  await tree.getByRole('button', { name: /model$/ }).click();
  await tree.getByRole('button', { name: 'MLmodel' }).click();
  await preview.getByText('flavors:').waitFor();
  await tree.getByRole('button', { name: 'requirements.txt' }).click();
  await preview.getByText('scikit-learn').waitFor();
  await shot('run-artifacts');
  // The selection deep-links.
  assert.match(page.url(), /\/artifacts\/model\/requirements\.txt$/);
  await page.reload();
  await page.getByTestId('preview').getByText('scikit-learn').waitFor();
});

test('Register model on the model folder creates version 1, shown on the Models page', T, async () => {
  await open(`#/experiments/${data.experiment_id}/runs/${data.parent}/artifacts/model`);
  await page.getByTestId('preview').getByRole('button', { name: 'Register model' }).click();
  const dialog = page.getByRole('dialog', { name: 'Register model' });
  // The list of existing models loads first; the name is typed into the settled form.
  await dialog.getByLabel('Registered model').waitFor();
  await dialog.getByLabel('New model name').fill('ui-e2e-model');
  await shot('register-dialog');
  await dialog.getByRole('button', { name: 'Register' }).click();
  await dialog.getByText('Version 1 of ui-e2e-model registered').waitFor();
  await dialog.getByRole('button', { name: 'Close' }).click();

  // The logged model (MLflow 3's log_model) registers as version 2 of the same model.
  await page.getByRole('button', { name: /Register logged model/ }).click();
  const again = page.getByRole('dialog', { name: 'Register model' });
  await again.getByLabel('Registered model').selectOption('ui-e2e-model');
  await again.getByRole('button', { name: 'Register' }).click();
  await again.getByText('Version 2 of ui-e2e-model registered').waitFor();
  await again.getByRole('link', { name: 'Open version 2' }).click();
  await page.getByRole('heading', { name: /ui-e2e-model · version 2/ }).waitFor();

  await open('#/models');
  const row = page.getByTestId('models').getByRole('row', { name: /ui-e2e-model/ });
  await row.waitFor();
  assert.match(await row.innerText(), /Version 2/);
  await shot('models');
});

test("a run's logged models are folders of its artifacts, registered from there", T, async () => {
  await open(`#/experiments/${data.experiment_id}/runs/${data.parent}`);
  const tree = page.getByRole('tree', { name: 'Artifacts' });
  const preview = page.getByTestId('preview');
  // MLflow 3's log_model(name="logged") is a logged model, not a folder of the run: shown by name.
  await tree.getByRole('button', { name: /logged$/ }).click();
  await preview.getByText(data.logged_model_id).waitFor();
  for (const file of ['MLmodel', 'requirements.txt', 'conda.yaml']) await tree.getByRole('button', { name: file }).first().waitFor();
  await tree.locator('li', { hasText: /^▾ logged/ }).getByRole('button', { name: 'MLmodel' }).click();
  await preview.getByText(`model_id: ${data.logged_model_id}`).waitFor();
  assert.match(page.url(), /\/artifacts\/logged\/MLmodel$/);
  await shot('run-logged-model');
  await tree.getByRole('button', { name: /logged$/ }).click();
  await preview.getByRole('button', { name: 'Register model' }).click();
  const dialog = page.getByRole('dialog', { name: 'Register model' });
  await dialog.getByLabel('Registered model').waitFor();
  await dialog.getByLabel('New model name').fill('ui-e2e-logged');
  await dialog.getByRole('button', { name: 'Register' }).click();
  await dialog.getByText('Version 1 of ui-e2e-logged registered').waitFor();
  await dialog.getByRole('link', { name: 'Open version 1' }).click();
  await page.getByRole('heading', { name: /ui-e2e-logged · version 1/ }).waitFor();
  await page.getByText(`models:/${data.logged_model_id}`).first().waitFor();
});

test('a stage change and an alias stick after reload; the version links to its run', T, async () => {
  await open('#/models/ui-e2e-model/versions/1');
  await page.getByTestId('stage').getByText('None').waitFor();
  await page.getByLabel('Stage', { exact: true }).selectOption('Staging');
  await page.getByRole('button', { name: 'Change stage' }).click();
  await page.getByTestId('stage').getByText('Staging').waitFor();
  await page.getByLabel('New alias').fill('champion');
  await page.getByRole('button', { name: 'Add alias' }).click();
  await page.getByText('@champion').waitFor();
  await page.reload();
  await page.getByTestId('stage').getByText('Staging').waitFor();
  await page.getByText('@champion').waitFor();
  await shot('model-version');
  await page.getByRole('link', { name: 'parent-run' }).click();
  await page.getByRole('heading', { name: 'parent-run' }).waitFor();

  await open('#/models/ui-e2e-model');
  const versions = page.getByTestId('versions');
  await versions.waitFor();
  const v1 = await versions.getByRole('row', { name: /Version 1/ }).innerText();
  assert.match(v1, /Staging/);
  assert.match(v1, /@champion/);
  await shot('model');
});

test('bad input shows a specific message, never a blank page', T, async () => {
  await open('#/experiments/987654321');
  assert.match(await page.getByRole('alert').innerText(), /987654321/);
  await shot('error-unknown-experiment');

  await open(`#/experiments/${data.experiment_id}/runs/not-a-run-id`);
  assert.match(await page.getByRole('alert').innerText(), /not-a-run-id/);

  await api('POST', 'runs/delete', { run_id: data.children[1] });
  await open(`#/experiments/${data.experiment_id}/runs/${data.children[1]}`);
  assert.match(await page.getByRole('alert').innerText(), /This run was deleted/);
  await shot('run-deleted');

  await open('#/models/no-such-model');
  assert.ok((await page.getByRole('alert').innerText()).length > 10);
  await open('#/no/such/page');
  assert.match(await page.getByRole('alert').innerText(), /No page at/);
});

test('selected runs open the compare page: a chart per metric, scatter, parallel coordinates, diff', T, async () => {
  await open(`#/experiments/${data.experiment_id}`);
  await page.getByRole('button', { name: /Unfold \d child runs/ }).click();
  await page.getByLabel('Select run parent-run').check();
  await page.getByLabel('Select run child-0').check();
  await page.getByRole('button', { name: 'Compare', exact: true }).click();
  await page.waitForFunction(() => location.hash.startsWith('#/compare-runs?runs='));
  await page.getByRole('heading', { name: 'Comparing 2 runs' }).waitFor();
  const charts = page.getByTestId('compare-charts');
  for (const m of ['loss', 'rmse']) await charts.locator(`.chart-card[data-metric=${m}] canvas`).first().waitFor();
  assert.equal(await charts.locator('.chart-card').count(), 2, 'a chart per metric');
  // rmse has both runs: 60 + 55 points.
  await page.waitForFunction(() => document.querySelector('[data-testid=compare-charts] .chart-card[data-metric=rmse] .chart')?.dataset.total === '115');
  await page.getByLabel('Scatter x').selectOption('params.alpha');
  await page.getByLabel('Scatter y').selectOption('metrics.rmse');
  assert.equal(await page.getByTestId('scatter').locator('circle').count(), 2);
  assert.equal(await page.getByTestId('parallel').locator('polyline').count(), 2);
  const diff = page.getByTestId('diff');
  assert.match((await diff.locator('tr[data-key=alpha]').getAttribute('class')) ?? '', /differs/);
  assert.match(await diff.locator('tr[data-key=alpha]').innerText(), /0\.5\s+0\.1/);
  await shotLightAndDark('compare');
  await page.getByLabel('Only differences').check();
  await diff.locator('tr[data-key=alpha]').waitFor();
  // The page deep-links: a fresh load of the URL shows the same runs.
  await page.reload();
  await page.getByRole('heading', { name: 'Comparing 2 runs' }).waitFor();
  await open('#/compare-runs');
  assert.match(await page.getByRole('alert').innerText(), /No runs to compare/);
});

test('the column chooser hides and shows a column, and the choice survives a reload', T, async () => {
  await open(`#/experiments/${data.experiment_id}`);
  const header = () => page.getByTestId('runs-table').locator('thead').innerText();
  await page.getByTestId('runs-table').waitFor();
  assert.ok((await header()).includes('l1_ratio'));
  await page.locator('.columns-menu > summary').click();
  await page.getByLabel('Show column params.l1_ratio').uncheck();
  await page.waitForFunction(() => !document.querySelector('[data-testid=runs-table] thead').textContent.includes('l1_ratio'));
  await page.getByLabel('Show column tags.team').check();
  await page.waitForFunction(() => document.querySelector('[data-testid=runs-table] thead').textContent.includes('team'));
  await shot('runs-columns');
  assert.match(decodeURIComponent(await page.evaluate(() => location.hash)), /cols=.*params\.l1_ratio/, 'the choice is in the URL');
  await page.reload();
  await page.getByTestId('runs-table').waitFor();
  assert.ok(!(await header()).includes('l1_ratio'), 'still hidden after reload');
  assert.ok((await header()).includes('team'), 'still shown after reload');
  await page.locator('.columns-menu > summary').click();
  await page.getByLabel('Show column params.l1_ratio').check();
  await page.getByLabel('Show column tags.team').uncheck();
  await page.waitForFunction(() => document.querySelector('[data-testid=runs-table] thead').textContent.includes('l1_ratio'));
});

test('charts zoom by refetching the step range, switch the x axis and smooth', T, async () => {
  await open(`#/experiments/${data.experiment_id}/runs/${data.parent}`);
  const card = page.locator('.chart-card[data-metric=rmse]');
  const over = card.locator('.u-over');
  await over.waitFor();
  await over.scrollIntoViewIfNeeded();
  const box = await over.boundingBox();
  const zoomed = page.waitForRequest((r) => r.url().includes('get-history-downsampled') && r.url().includes('start_step=') && r.url().includes('end_step='), { timeout: 10_000 });
  await page.mouse.move(box.x + box.width * 0.25, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  const req = await zoomed;
  const u = new URL(req.url());
  assert.ok(Number(u.searchParams.get('start_step')) > 0 && Number(u.searchParams.get('end_step')) < 59, req.url());
  await card.getByRole('button', { name: 'Reset zoom' }).waitFor();
  await page.waitForFunction(() => Number(document.querySelector('.chart-card[data-metric=rmse] .chart')?.dataset.total) < 60);
  await shot('run-chart-zoomed');
  await card.getByRole('button', { name: 'Reset zoom' }).click();
  await page.waitForFunction(() => document.querySelector('.chart-card[data-metric=rmse] .chart')?.dataset.total === '60');
  await page.getByLabel('X axis').selectOption('relative');
  await card.locator('.u-legend', { hasText: 'Relative time' }).waitFor();
  await page.getByLabel('X axis').selectOption('wall');
  await card.locator('.u-legend', { hasText: 'Wall time' }).waitFor();
  await page.getByLabel('Smoothing').fill('0.8');
  await card.locator('canvas').waitFor();
  await shot('run-chart-wall-time-smoothed');
});

test('a RUNNING run refreshes live: a point logged while the page is open appears', T, async () => {
  const { run } = await api('POST', 'runs/create', { experiment_id: data.experiment_id, run_name: 'live-run', start_time: Date.now() });
  const id = run.info.run_id;
  const log = (step) => api('POST', 'runs/log-metric', { run_id: id, key: 'acc', value: step / 10, timestamp: Date.now(), step });
  for (let s = 0; s < 5; s++) await log(s);
  await open(`#/experiments/${data.experiment_id}/runs/${id}`);
  await page.getByTestId('live').waitFor();
  await page.waitForFunction(() => document.querySelector('.chart-card[data-metric=acc] .chart')?.dataset.total === '5');
  await log(5);
  await page.waitForFunction(() => document.querySelector('.chart-card[data-metric=acc] .chart')?.dataset.total === '6', null, { timeout: 15_000 });
  await api('POST', 'runs/update', { run_id: id, status: 'FINISHED', end_time: Date.now() });
  await page.getByTestId('live').waitFor({ state: 'detached', timeout: 15_000 });
});

test('a metric of a million points draws from a small downsampled answer', { timeout: 600_000, skip: PERF_POINTS <= 0 }, async () => {
  const { experiment_id } = await api('POST', 'experiments/create', { name: 'ui-e2e-long-metric' });
  const { run } = await api('POST', 'runs/create', { experiment_id, run_name: 'million', start_time: Date.now() });
  const started = Date.now();
  let next = 0;
  const worker = async () => {
    for (let from = next; from < PERF_POINTS; from = next) {
      next += 1000;
      const ts = Date.now();
      const n = Math.min(1000, PERF_POINTS - from);
      const metrics = Array.from({ length: n }, (_, i) => ({ key: 'long', value: Math.sin((from + i) / 5000) + 2 + ((from + i) === 654_321 ? 5 : 0), timestamp: ts, step: from + i }));
      await api('POST', 'runs/log-batch', { run_id: run.info.run_id, metrics });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  timings.long_metric_points = PERF_POINTS;
  timings.long_metric_log_s = (Date.now() - started) / 1000;
  const t0 = Date.now();
  await open(`#/experiments/${experiment_id}/runs/${run.info.run_id}`);
  const chart = page.locator('.chart-card[data-metric=long] .chart');
  await chart.locator('canvas').waitFor({ timeout: 120_000 });
  await page.waitForFunction(() => document.querySelector('.chart-card[data-metric=long] .chart')?.dataset.drawMs !== undefined, null, { timeout: 30_000 });
  timings.long_metric_page_to_chart_ms = Date.now() - t0;
  timings.long_metric_draw_after_data_ms = Number(await chart.getAttribute('data-draw-ms'));
  timings.long_metric_points_drawn = Number(await chart.getAttribute('data-points'));
  assert.equal(Number(await chart.getAttribute('data-total')), PERF_POINTS);
  const entries = await page.evaluate(() =>
    performance.getEntriesByType('resource').filter((e) => e.name.includes('get-history-downsampled')).map((e) => ({ transfer: e.transferSize, body: e.decodedBodySize, ms: e.duration })),
  );
  timings.long_metric_transfer_bytes = entries.reduce((n, e) => n + e.transfer, 0);
  timings.long_metric_json_bytes = entries.reduce((n, e) => n + e.body, 0);
  timings.long_metric_request_ms = Math.round(entries.reduce((n, e) => n + e.ms, 0));
  await shot('run-million-points');
});

test('the UI works under --static-prefix', T, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferroflow-ui-prefix-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/mlflow`;
  const log = fs.openSync(path.join(dir, 'server.log'), 'a');
  const prefixed = spawn(BIN, ['server', '--host', '127.0.0.1', '--port', String(port), '--static-prefix', '/mlflow'], { cwd: dir, stdio: ['ignore', log, log] });
  try {
    await waitHealthy(url, prefixed, 30_000);
    const p = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    p.setDefaultTimeout(15_000);
    p.on('pageerror', (e) => pageErrors.push(String(e)));
    await p.goto(`${url}/#/experiments`);
    await p.getByRole('link', { name: 'Default', exact: true }).waitFor();
    assert.match(await p.locator('.snippet').innerText(), new RegExp(`MLFLOW_TRACKING_URI=${url}\\n`));
    await p.screenshot({ path: path.join(SHOTS, 'experiments-static-prefix.png') });
    await p.close();
  } finally {
    prefixed.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a page of another origin cannot frame the UI (X-Frame-Options, frame-ancestors)', T, async () => {
  const p = await browser.newPage();
  const blocked = [];
  p.on('console', (m) => blocked.push(m.text()));
  await p.setContent(`<iframe id="ui" src="${base}/#/experiments" width="800" height="600"></iframe>`, { waitUntil: 'load' });
  const framed = p.frames().find((f) => f !== p.mainFrame());
  const rendered = framed ? await framed.evaluate(() => !!document.querySelector('#app a')).catch(() => false) : false;
  assert.equal(rendered, false, 'the UI rendered inside a foreign frame');
  assert.ok(blocked.some((t) => /frame-ancestors|X-Frame-Options/i.test(t)), blocked.join('\n'));
  await p.close();
});

/**
 * Arms a timer on the runs page; what it returns resolves to the milliseconds from the
 * next `event` (the user's click or submit) until the table, having shown "Loading", has
 * rows again and they are painted — as the page's own clock sees it, without the
 * driver's round trips.
 */
async function armReloadTimer(event) {
  await page.evaluate((ev) => {
    window.__reloaded = new Promise((resolve, reject) => {
      setTimeout(() => reject(new Error(`the runs table did not reload within 60 s of a ${ev}`)), 60_000);
      let t0;
      let loading = false;
      document.addEventListener(ev, () => (t0 = performance.now()), { capture: true, once: true });
      const observer = new MutationObserver(() => {
        if (t0 === undefined) return;
        if (document.querySelector('.runs-page .loading')) loading = true;
        else if (loading && document.querySelector('tbody tr.r')) {
          observer.disconnect();
          requestAnimationFrame(() => setTimeout(() => resolve(Math.round(performance.now() - t0))));
        }
      });
      observer.observe(document.body, { childList: true, subtree: true });
    });
  }, event);
  return () => page.evaluate(() => window.__reloaded);
}

/** How long the page's latest `runs/search` request took, from its start to its last byte. */
function lastSearchMs() {
  return page.evaluate(() => Math.round(performance.getEntriesByType('resource').filter((e) => e.name.includes('runs/search')).pop()?.duration ?? NaN));
}

/** The numbers in a metric column of the rows in the DOM, top to bottom. */
function columnValues(metricKey) {
  return page.evaluate((key) => {
    const ths = [...document.querySelectorAll('table.runs thead th')];
    const col = ths.findIndex((th) => th.title === `metric ${key}`);
    return [...document.querySelectorAll('tbody tr.r')].map((tr) => Number(tr.children[col].textContent));
  }, metricKey);
}

test('the runs page stays quick with many runs', { timeout: 600_000, skip: PERF_RUNS <= 0 }, async () => {
  const { experiment_id } = await api('POST', 'experiments/create', { name: 'ui-e2e-perf' });
  const started = Date.now();
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < PERF_RUNS; i = next++) {
      const { run } = await api('POST', 'runs/create', { experiment_id, run_name: `perf-${i}`, start_time: Date.now() });
      const id = run.info.run_id;
      const ts = Date.now();
      await api('POST', 'runs/log-batch', {
        run_id: id,
        params: [0, 1, 2, 3, 4].map((k) => ({ key: `p${k}`, value: String((i * (k + 1)) % 97) })),
        metrics: [0, 1, 2, 3, 4].map((k) => ({ key: `m${k}`, value: Math.sin(i + k), timestamp: ts, step: 0 })),
      });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  timings.perf_runs = PERF_RUNS;
  timings.perf_log_s = (Date.now() - started) / 1000;

  // Tasks that block the page's main thread (50 ms or more), from each page load on.
  await page.addInitScript(() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => window.__longTasks.push(...list.getEntries().map((e) => e.duration))).observe({ type: 'longtask' });
  });
  await open('#/experiments');
  const t0 = Date.now();
  await open(`#/experiments/${experiment_id}`);
  await page.locator('tbody tr.r').first().waitFor();
  timings.runs_page_interactive_ms = Date.now() - t0;
  // The search box takes typing as soon as the rows are there.
  const filter = page.getByLabel('Filter runs');
  await filter.fill('metrics.m0 < 0.5');
  assert.equal(await filter.inputValue(), 'metrics.m0 < 0.5');
  timings.runs_page_typed_in_search_ms = Date.now() - t0;
  timings.runs_page_longest_task_ms = await page.evaluate(() => Math.round(Math.max(0, ...window.__longTasks)));
  timings.rows_in_dom = await page.locator('tbody tr.r').count();
  assert.ok(timings.rows_in_dom < 100, `virtualized: ${timings.rows_in_dom} rows in the DOM`);
  // Scroll to the end of what is loaded, a frame at a time, and measure the frames.
  timings.scroll_frame_ms = await page.locator('.table-scroll').evaluate(async (el) => {
    const frames = [];
    let last = performance.now();
    for (let i = 0; i < 60; i++) {
      el.scrollTop += el.clientHeight;
      await new Promise((r) => requestAnimationFrame(r));
      const now = performance.now();
      frames.push(now - last);
      last = now;
    }
    frames.sort((a, b) => a - b);
    return { p50: Math.round(frames[30]), max: Math.round(frames[59]) };
  });
  // Scrolling past the first page loaded more (keyset page tokens).
  await page.waitForFunction((n) => parseInt(document.querySelector('[data-testid=run-count]')?.textContent ?? '0') >= n, Math.min(PERF_RUNS, 1000), { timeout: 30_000 });
  timings.runs_loaded_after_scroll = parseInt(await page.getByTestId('run-count').innerText());
  assert.ok((await page.locator('tbody tr.r').count()) < 100, 'still virtualized after loading more');
  // A sort on a metric over every run: from the click until the sorted rows are painted.
  let reloaded = await armReloadTimer('click');
  await page.locator('thead button.sort', { hasText: /^m3/ }).click();
  timings.sort_by_metric_ms = await reloaded();
  timings.sort_by_metric_request_ms = await lastSearchMs();
  const m3 = await columnValues('m3');
  assert.deepEqual(m3, [...m3].sort((a, b) => b - a), 'sorted by m3, descending');
  // A server-side filter on a metric (keeping the sort): from Enter until the narrowed rows are painted.
  await filter.fill('metrics.m0 < 0.5');
  reloaded = await armReloadTimer('submit');
  await filter.press('Enter');
  timings.filter_by_metric_ms = await reloaded();
  timings.filter_by_metric_request_ms = await lastSearchMs();
  const m0 = await columnValues('m0');
  assert.ok(m0.length > 0 && m0.every((v) => v < 0.5), `every row has m0 < 0.5: ${m0}`);
  const m3Filtered = await columnValues('m3');
  assert.deepEqual(m3Filtered, [...m3Filtered].sort((a, b) => b - a), 'still sorted by m3');
  await shot('runs-many');
});

test('no uncaught errors in the page', () => {
  assert.deepEqual(pageErrors, []);
});
