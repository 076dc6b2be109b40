// VM dialogs through the UI against a real daemon (qcow2 disks, qemu-img): the Snapshots tab
// (take -> its task log -> the tree, rollback, remove), clone (full, then linked from a
// template), convert to template, and backups: Backup now, notes and protection, verify, the prune
// simulation, restore and remove.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NODE, dialog, eventually, field, finishTask, gridRow, loginAsAdmin, openTab, screenshot, setup, treeItem, waitTask } from './helpers.js';

const view = (page) => page.locator('.content-view');

async function createVm(api, vmid, name) {
  await waitTask(api, await api.post(`/nodes/${NODE}/qemu`, { vmid, name, memory: 128, scsi0: 'local:1,format=qcow2' }));
}

async function moreMenu(page, item) {
  await page.locator('.header-tools').getByRole('button', { name: 'More' }).click();
  await page.getByRole('menuitem', { name: item }).click();
}

test('snapshots with their task log, clone (full and linked), template, backup and restore', async (t) => {
  const { page, api, assertNoErrors } = await setup(t);
  await createVm(api, 100, 'snapvm');
  await loginAsAdmin(page);

  // Take a snapshot: its task window shows the log as it grows, until OK.
  await openTab(page, '100 (snapvm)', 'Snapshots');
  const grid = view(page);
  await grid.locator('[data-snapshot=current]').waitFor();
  await grid.getByRole('button', { name: 'Take Snapshot' }).click();
  let dlg = dialog(page, 'Take Snapshot of VM 100');
  await dlg.getByLabel('Name').fill('1bad');
  await dlg.getByRole('button', { name: 'Take Snapshot' }).click();
  await field(dlg, 'Name').locator('.field-error', { hasText: 'Start with a letter' }).waitFor();
  await dlg.getByLabel('Name').fill('first');
  await dlg.getByLabel('Description').fill('clean install');
  await dlg.getByRole('button', { name: 'Take Snapshot' }).click();
  const log = await finishTask(page, 60000, { shot: 'snapshot-task-log' });
  assert.match(log, /TASK OK/, log);
  await grid.locator('[data-snapshot=first]').waitFor();
  // Another one: the tree nests it under the first, NOW under the newest.
  await grid.getByRole('button', { name: 'Take Snapshot' }).click();
  dlg = dialog(page, 'Take Snapshot of VM 100');
  await dlg.getByLabel('Name').fill('second');
  await dlg.getByRole('button', { name: 'Take Snapshot' }).click();
  await finishTask(page);
  await grid.locator('[data-snapshot=second]').waitFor();
  const order = await grid.locator('[data-snapshot]').evaluateAll((els) => els.map((e) => `${e.dataset.snapshot}@${e.style.paddingLeft}`));
  assert.deepEqual(order, ['first@0px', 'second@18px', 'current@36px']);
  assert.equal(await gridRow(grid, 'first').locator('td').last().innerText(), 'clean install');
  await screenshot(page, 'vm-snapshots');

  // Rollback to the first, then remove the second.
  await gridRow(grid, 'first').click();
  await grid.getByRole('button', { name: 'Rollback' }).click();
  await dialog(page, 'Confirm').getByRole('button', { name: 'Rollback' }).click();
  await finishTask(page);
  await eventually(async () => (await api.get(`/nodes/${NODE}/qemu/100/snapshot`)).find((s) => s.name === 'current')?.parent === 'first');
  await gridRow(grid, 'second').click();
  await grid.getByRole('button', { name: 'Remove' }).click();
  await dialog(page, 'Remove snapshot').getByRole('button', { name: 'Remove' }).click();
  await finishTask(page);
  await grid.locator('[data-snapshot=second]').waitFor({ state: 'detached' });
  assert.deepEqual((await api.get(`/nodes/${NODE}/qemu/100/snapshot`)).map((s) => s.name).sort(), ['current', 'first']);

  // Full clone to 101 on the same storage, as qcow2.
  await moreMenu(page, 'Clone');
  dlg = dialog(page, 'Clone VM 100');
  await eventually(async () => (await dlg.getByLabel('VM ID').inputValue()) === '101');
  await dlg.getByLabel('Name').fill('cloned');
  assert.equal(await dlg.getByLabel('Mode').isDisabled(), true, 'only templates make linked clones');
  await dlg.getByLabel('Format').selectOption('qcow2');
  await dlg.getByRole('button', { name: 'Clone' }).click();
  await finishTask(page);
  const c101 = await api.get(`/nodes/${NODE}/qemu/101/config`);
  assert.equal(c101.name, 'cloned');
  assert.match(c101.scsi0, /vm-101-disk/);

  // Convert 101 to a template, then a linked clone of it.
  await treeItem(page, '101 (cloned)').locator(':scope > .tree-row').click();
  await moreMenu(page, 'Convert to template');
  await dialog(page, 'Confirm').getByRole('button', { name: 'Convert' }).click();
  await finishTask(page);
  await eventually(async () => Number((await api.get(`/nodes/${NODE}/qemu/101/config`)).template) === 1, 30000);
  await page.locator('.tree-panel').getByRole('treeitem', { name: /^101/ }).locator(':scope > .tree-row').click();
  await eventually(async () => page.locator('.header-tools').getByRole('button', { name: 'Start' }).isDisabled());
  await moreMenu(page, 'Clone');
  dlg = dialog(page, 'Clone VM 101');
  await eventually(async () => (await dlg.getByLabel('VM ID').inputValue()) === '102');
  await dlg.getByLabel('Mode').selectOption('0');
  assert.equal(await dlg.getByLabel('Target Storage').count(), 0, 'a linked clone stays on the template\'s storage');
  await dlg.getByRole('button', { name: 'Clone' }).click();
  await finishTask(page);
  const c102 = await api.get(`/nodes/${NODE}/qemu/102/config`);
  assert.match(c102.scsi0, /base-101-disk|vm-102-disk/, c102.scsi0);

  // Backup now (POST /nodes/{node}/vzdump) in snapshot mode, listed on the Backup tab with its
  // notes and protection; its notes edited, verified, the prune simulation, restored as 103,
  // unprotected and removed.
  await openTab(page, '100 (snapvm)', 'Backup');
  const backups = view(page);
  await backups.getByRole('button', { name: 'Backup now' }).click();
  dlg = dialog(page, 'Backup VM 100');
  await dlg.locator('select[name=storage] option').first().waitFor({ state: 'attached' });
  await dlg.getByLabel('Mode').selectOption('snapshot');
  await dlg.getByLabel('Protected').check();
  await dlg.getByLabel('Notes').fill('ui backup {{vmid}}');
  await dlg.getByRole('button', { name: 'Backup' }).click();
  const backupLog = await finishTask(page, 180000, { shot: 'vm-backup-task' });
  assert.match(backupLog, /TASK OK/, backupLog);
  const row = gridRow(backups, 'vzdump-qemu-100');
  await row.waitFor({ timeout: 20000 });
  assert.match(await row.innerText(), /ui backup 100/);
  assert.match(await row.innerText(), /yes/);
  const [backup] = await api.get(`/nodes/${NODE}/storage/local/content`, { content: 'backup', vmid: 100 });
  assert.equal(backup.protected, 1);
  await row.click();
  assert.equal(await backups.getByRole('button', { name: 'Remove' }).isDisabled(), true, 'a protected backup cannot be removed');

  // Edit the notes (PUT .../content/{volume}).
  await backups.getByRole('button', { name: 'Edit' }).click();
  dlg = dialog(page, 'Edit: Backup');
  assert.equal(await dlg.getByLabel('Notes').inputValue(), 'ui backup 100');
  assert.equal(await dlg.getByLabel('Protected').isChecked(), true);
  await dlg.getByLabel('Notes').fill('before the upgrade');
  await dlg.getByRole('button', { name: 'OK' }).click();
  await dlg.waitFor({ state: 'detached' });
  await gridRow(backups, 'before the upgrade').waitFor();
  await eventually(async () => (await api.get(`/nodes/${NODE}/storage/local/content`, { content: 'backup', vmid: 100 }))[0].notes === 'before the upgrade');

  // Verify: its task, then the state in the list.
  await gridRow(backups, 'vzdump-qemu-100').click();
  await backups.getByRole('button', { name: 'Verify' }).click();
  const verifyLog = await finishTask(page, 120000);
  assert.match(verifyLog, /TASK OK/, verifyLog);
  await gridRow(backups, 'vzdump-qemu-100').locator('[data-verify=ok]').waitFor({ timeout: 30000 });
  await screenshot(page, 'vm-backup');

  // The prune simulation (GET prunebackups): the protected backup is kept as protected.
  await backups.getByRole('button', { name: 'Prune simulation' }).click();
  dlg = dialog(page, 'Prune simulation: local');
  await gridRow(dlg, 'vzdump-qemu-100', 'protected').waitFor();
  await dlg.getByLabel('Keep last').fill('1');
  await gridRow(dlg, 'vzdump-qemu-100', 'protected').waitFor();
  await screenshot(page, 'vm-prune-simulation');
  await page.keyboard.press('Escape');
  await dlg.waitFor({ state: 'detached' });

  // Restore as 103.
  await gridRow(backups, 'vzdump-qemu-100').click();
  await backups.getByRole('button', { name: 'Restore' }).click();
  dlg = dialog(page, 'Restore: VM');
  await dlg.getByLabel('VM ID').fill('103');
  await dlg.getByRole('button', { name: 'Restore' }).click();
  const restoreLog = await finishTask(page, 180000);
  assert.match(restoreLog, /TASK OK/, restoreLog);
  const c103 = await api.get(`/nodes/${NODE}/qemu/103/config`);
  assert.equal(Number(c103.memory), 128);
  assert.equal(c103.name, 'snapvm');

  // Unprotect, then remove it.
  await gridRow(backups, 'vzdump-qemu-100').click();
  await backups.getByRole('button', { name: 'Edit' }).click();
  dlg = dialog(page, 'Edit: Backup');
  await dlg.getByLabel('Protected').uncheck();
  await dlg.getByRole('button', { name: 'OK' }).click();
  await dlg.waitFor({ state: 'detached' });
  await eventually(async () => backups.getByRole('button', { name: 'Remove' }).isEnabled());
  await backups.getByRole('button', { name: 'Remove' }).click();
  await dialog(page, 'Remove backup').getByRole('button', { name: 'Remove' }).click();
  await finishTask(page);
  await eventually(async () => (await api.get(`/nodes/${NODE}/storage/local/content`, { content: 'backup', vmid: 100 })).length === 0, 30000);
  await gridRow(backups, 'vzdump-qemu-100').waitFor({ state: 'detached', timeout: 20000 });
  assertNoErrors();
});
