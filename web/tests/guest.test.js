// VM dialogs through the UI against a real daemon (qcow2 disks, qemu-img): the Snapshots tab
// (take -> its task log -> the tree, rollback, remove), clone (full, then linked from a
// template), convert to template, and Backup now / restore (skipped while vzdump answers 501).

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
  const { page, api, assertNoErrors } = await setup(t, { allowErrors: [/status of 501/] });
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

  // Backup now (POST /nodes/{node}/vzdump), listed on the Backup tab, restored as 103.
  await t.test('backup now and restore', async (st) => {
    await openTab(page, '100 (snapvm)', 'Backup');
    await view(page).getByRole('button', { name: 'Backup now' }).click();
    dlg = dialog(page, 'Backup VM 100');
    await dlg.locator('select[name=storage] option').first().waitFor({ state: 'attached' });
    await dlg.getByLabel('Mode').selectOption('stop');
    await dlg.getByLabel('Protected').check();
    await dlg.getByLabel('Notes').fill('ui backup {{vmid}}');
    await dlg.getByRole('button', { name: 'Backup' }).click();
    const outcome = await Promise.race([
      page.locator('.task-dialog[data-state=open]').waitFor().then(() => 'task'),
      dlg.locator('.form-message').waitFor().then(() => 'error'),
    ]);
    if (outcome === 'error') {
      const msg = await dlg.locator('.form-message').innerText();
      await dlg.getByRole('button', { name: 'Cancel' }).click();
      if (/not implemented|501/i.test(msg)) {
        st.skip(`POST /nodes/{node}/vzdump answers 501 on this daemon (${msg.trim()}): backup and restore not exercised`);
        return;
      }
      assert.fail(`Backup now failed: ${msg}`);
    }
    await finishTask(page, 120000);
    const row = gridRow(view(page), 'vzdump-qemu-100');
    await row.waitFor({ timeout: 20000 });
    assert.match(await row.innerText(), /ui backup 100/);
    assert.match(await row.innerText(), /yes/);
    await screenshot(page, 'vm-backup');
    await row.click();
    await view(page).getByRole('button', { name: 'Restore' }).click();
    dlg = dialog(page, 'Restore: VM');
    await dlg.getByLabel('VM ID').fill('103');
    await dlg.getByRole('button', { name: 'Restore' }).click();
    await finishTask(page, 120000);
    assert.equal(Number((await api.get(`/nodes/${NODE}/qemu/103/config`)).memory), 128);
  });
  assertNoErrors();
});
