// Permissions end to end: the admin creates a user in the UI, grants it a role on one VM on
// that VM's Permissions tab; logged in as that user, the tree shows only that VM, and an edit
// the role does not allow is refused with the API's 403 shown in the form.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NODE, dialog, eventually, field, gridRow, launchBrowser, login, loginAsAdmin, openTab, screenshot, setup, treeItem, waitTask } from './helpers.js';

const view = (page) => page.locator('.content-view');

test('a user granted PVEVMUser on one VM sees only that VM and cannot change its memory', async (t) => {
  const { page, api, daemon, assertNoErrors } = await setup(t);
  for (const [vmid, name] of [[100, 'mine'], [101, 'other']]) {
    await waitTask(api, await api.post(`/nodes/${NODE}/qemu`, { vmid, name, memory: 128 }));
  }
  await loginAsAdmin(page);

  // The user, made in the UI.
  await openTab(page, 'Datacenter', 'Users');
  await view(page).getByRole('button', { name: 'Add' }).click();
  const add = dialog(page, 'Add: User');
  await add.getByLabel('User name').fill('carol');
  await field(add, 'Password').locator('input').fill('carol-secret-12');
  await field(add, 'Confirm password').locator('input').fill('carol-secret-12');
  await add.getByRole('button', { name: 'Add' }).click();
  await add.waitFor({ state: 'detached' });

  // VM 100 -> Permissions: the role on /vms/100 only.
  await openTab(page, '100 (mine)', 'Permissions');
  await view(page).getByRole('button', { name: 'Add User Permission' }).click();
  const grant = dialog(page, 'Add: User Permission');
  assert.equal(await field(grant, 'Path').locator('output').innerText(), '/vms/100');
  await grant.locator('select[name=ugid] option[value="carol@pve"]').waitFor({ state: 'attached' });
  await grant.getByLabel('User').selectOption('carol@pve');
  await grant.getByLabel('Role').selectOption('PVEVMUser');
  await grant.getByRole('button', { name: 'Add' }).click();
  await grant.waitFor({ state: 'detached' });
  await gridRow(view(page), '/vms/100', 'carol@pve', 'PVEVMUser').waitFor();
  await screenshot(page, 'vm-permissions');
  const acl = await api.get('/access/acl');
  assert.ok(acl.some((a) => a.path === '/vms/100' && a.ugid === 'carol@pve' && a.roleid === 'PVEVMUser'), JSON.stringify(acl));
  // Other objects' Permissions tabs list only their own path.
  await openTab(page, '101 (other)', 'Permissions');
  await view(page).locator('.grid-status', { hasText: 'No permissions' }).waitFor();

  // Carol, in a browser of her own.
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const carol = browser.page;
  await carol.goto(`${daemon.url}/`);
  await login(carol, { user: 'carol', password: 'carol-secret-12' });
  await treeItem(carol, '100 (mine)').waitFor();
  await eventually(async () => (await carol.locator('.tree-panel [role=treeitem]').allInnerTexts()).length > 0);
  assert.equal(await treeItem(carol, '101 (other)').count(), 0, 'VM 101 is not shown to carol');
  assert.equal(await carol.locator('.tree-panel').getByRole('treeitem', { name: /^local \(/ }).count(), 0, 'no storage without Datastore.Audit');
  await openTab(carol, '100 (mine)', 'Hardware');
  await view(carol).locator('[data-config-key=memory]').waitFor();
  await screenshot(carol, 'restricted-user');
  // PVEVMUser has no VM.Config.Memory: the server refuses, the form says so.
  await view(carol).locator('[data-config-key=memory]').dblclick();
  const mem = dialog(carol, 'Edit: Memory');
  await mem.locator('input').first().fill('256');
  await mem.getByRole('button', { name: 'OK' }).click();
  const msg = await mem.locator('.form-message').innerText();
  assert.match(msg, /permission|403|not allowed/i, msg);
  await mem.getByRole('button', { name: 'Cancel' }).click();
  assert.equal(Number((await api.get(`/nodes/${NODE}/qemu/100/config`)).memory), 128);
  const unexpected = browser.errors.filter((e) => !/status of 403/.test(e));
  assert.deepEqual(unexpected, [], 'carol\'s page logged errors');
  assertNoErrors();
});
