// The task bar, the task log window (growing while the task runs, Stop) and the node's task
// history, with tasks started through the daemon's test hook (`--test-hooks`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { NODE, REPO, dialog, gridRow, loginAsAdmin, openTab, setup, eventually, treeItem } from './helpers.js';

const sleepTask = (api, params) => api.post(`/nodes/${NODE}/oxve-test/sleep`, params);

test('the task bar shows a task with live status; its log grows until the task ends', async (t) => {
  const { page, api, assertNoErrors } = await setup(t, { testHooks: true });
  await loginAsAdmin(page);
  await treeItem(page, NODE).locator(':scope > .tree-row').click();
  await page.locator('.node-summary td[data-key=kversion]').filter({ hasText: /\S/ }).waitFor();

  const upid = await sleepTask(api, { seconds: 2 });
  const row = page.locator(`.taskbar tbody tr[data-key="${upid}"]`);
  await row.waitFor();
  assert.match(await row.innerText(), /Test sleep/);
  assert.match(await row.innerText(), /admin@pve/);

  await row.click();
  const win = page.locator(`.task-dialog[data-state=open][data-upid="${upid}"]`);
  await win.waitFor();
  const log = win.locator('pre.task-log');
  await log.filter({ hasText: 'starting test sleep' }).waitFor();
  // Opened while running (the task takes 2 s): Stop is offered, the log keeps growing.
  await log.filter({ hasText: 'tick 1' }).waitFor();
  await log.filter({ hasText: 'TASK OK' }).waitFor({ timeout: 10000 });
  await win.locator('.task-state', { hasText: 'OK' }).waitFor();
  assert.equal(await win.getByRole('button', { name: 'Stop' }).isDisabled(), true);
  assert.deepEqual((await log.innerText()).trim().split('\n'), ['starting test sleep', 'tick 0', 'tick 1', 'TASK OK']);

  await win.getByRole('tab', { name: 'Status' }).click();
  const status = await win.locator('.task-status').innerText();
  assert.match(status, /Exit status\s+OK/);
  assert.ok(status.includes(upid));
  await win.getByRole('button', { name: 'Close', exact: true }).click();
  await win.waitFor({ state: 'detached' });
  await row.locator('.task-status', { hasText: 'OK' }).waitFor();

  // A screenshot of the main screen, for people to look at.
  await page.screenshot({ path: path.join(REPO, 'target/ui-screenshot.png') });
  assertNoErrors();
});

test('Stop aborts a running task', async (t) => {
  const { page, api, assertNoErrors } = await setup(t, { testHooks: true });
  await loginAsAdmin(page);
  const upid = await sleepTask(api, { seconds: 60 });
  const row = page.locator(`.taskbar tbody tr[data-key="${upid}"]`);
  await row.locator('.task-running').waitFor();
  await row.click();
  const win = page.locator(`.task-dialog[data-state=open][data-upid="${upid}"]`);
  await win.locator('pre.task-log', { hasText: 'tick 0' }).waitFor();
  const stop = win.getByRole('button', { name: 'Stop' });
  await eventually(async () => !(await stop.isDisabled()));
  await stop.click();
  await win.locator('pre.task-log', { hasText: 'TASK ERROR: aborted' }).waitFor();
  await win.locator('.task-state .task-error', { hasText: 'aborted' }).waitFor();
  const status = await api.get(`/nodes/${NODE}/tasks/${encodeURIComponent(upid)}/status`);
  assert.equal(status.status, 'stopped');
  assert.equal(status.exitstatus, 'aborted');
  await win.getByRole('button', { name: 'Close', exact: true }).click();
  await row.locator('.task-error', { hasText: 'Error: aborted' }).waitFor();
  assertNoErrors();
});

test('the node\'s task history filters by errors, type and user', async (t) => {
  const { page, api, assertNoErrors } = await setup(t, { testHooks: true });
  const ok = await sleepTask(api, { seconds: 0 });
  const failed = await sleepTask(api, { seconds: 0, fail: 'it broke' });
  await eventually(async () => (await api.get(`/nodes/${NODE}/tasks`, { source: 'all' })).every((x) => x.status !== 'RUNNING' && x.endtime));
  await loginAsAdmin(page);
  await openTab(page, NODE, 'Task History');
  const view = page.locator('.node-tasks');
  await view.locator(`tr[data-key="${ok}"]`).waitFor();
  await view.locator(`tr[data-key="${failed}"]`, { hasText: 'Error: it broke' }).waitFor();
  assert.match(await view.locator('.page-info').innerText(), /1 - 2 of 2/);

  await view.getByLabel('Errors only').check();
  await view.locator(`tr[data-key="${ok}"]`).waitFor({ state: 'detached' });
  await view.locator(`tr[data-key="${failed}"]`).waitFor();
  await view.getByLabel('Errors only').uncheck();
  await view.getByLabel('Task type').fill('qmstart');
  await view.locator('.grid-status', { hasText: 'No tasks' }).waitFor();
  await view.getByLabel('Task type').fill('testsleep');
  await view.locator(`tr[data-key="${ok}"]`).waitFor();
  await view.getByLabel('User name').fill('nobody@pve');
  await view.locator('.grid-status', { hasText: 'No tasks' }).waitFor();
  await view.getByLabel('User name').fill('admin@pve');
  await view.locator(`tr[data-key="${ok}"]`).waitFor();

  // Enter on a row opens its log.
  await view.locator(`tr[data-key="${failed}"]`).click();
  await page.keyboard.press('Enter');
  const win = page.locator(`.task-dialog[data-state=open][data-upid="${failed}"]`);
  await win.locator('pre.task-log', { hasText: 'TASK ERROR: it broke' }).waitFor();
  assert.ok(await gridRow(view, 'Test sleep').count() >= 1);
  assertNoErrors();
});
