// Datacenter -> Permissions -> Pools: create a pool, add a VM and a storage to it, see them as
// members, remove them and the pool, all checked through the API.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dialog, gridRow, loginAsAdmin, openTab, setup, waitTask, eventually } from './helpers.js';

const view = (page) => page.locator('.content-view');

test('create a pool, add and remove members, remove the pool', async (t) => {
  const { page, api, assertNoErrors } = await setup(t);
  await waitTask(api, await api.post('/nodes/testnode/qemu', { vmid: 660, name: 'pooled' }));
  await loginAsAdmin(page);
  await openTab(page, 'Datacenter', 'Pools');

  await view(page).getByRole('button', { name: 'Create', exact: true }).click();
  let dlg = dialog(page, 'Create: Pool');
  await dlg.getByLabel('Name').fill('team');
  await dlg.getByLabel('Comment').fill('Team pool');
  await dlg.getByRole('button', { name: 'Create' }).click();
  await dlg.waitFor({ state: 'detached' });
  await gridRow(view(page), 'team', 'Team pool').waitFor();

  // The selected pool's members: a VM and a storage.
  await view(page).getByRole('button', { name: 'Add Virtual Machine' }).click();
  dlg = dialog(page, 'Add: Virtual Machine');
  await dlg.getByLabel('VMID').fill('660');
  await dlg.getByRole('button', { name: 'Add' }).click();
  await dlg.waitFor({ state: 'detached' });
  await gridRow(view(page), '660 (pooled)', 'qemu', 'stopped').waitFor();
  await view(page).getByRole('button', { name: 'Add Storage' }).click();
  dlg = dialog(page, 'Add: Storage');
  await dlg.getByLabel('Storage').fill('local');
  await dlg.getByRole('button', { name: 'Add' }).click();
  await dlg.waitFor({ state: 'detached' });
  await gridRow(view(page), 'local', 'storage').waitFor();
  const pool = (await api.get('/pools', { poolid: 'team' }))[0];
  assert.equal(pool.comment, 'Team pool');
  assert.deepEqual(pool.members.map((m) => m.id).sort(), ['qemu/660', 'storage/testnode/local']);

  // Remove the VM from the pool, then the storage, then the pool.
  await gridRow(view(page), '660 (pooled)').click();
  await view(page).getByRole('button', { name: 'Remove Member' }).click();
  await dialog(page, 'Remove member').getByRole('button', { name: 'Remove' }).click();
  await gridRow(view(page), '660 (pooled)').waitFor({ state: 'detached' });
  await gridRow(view(page), 'local', 'storage').click();
  await view(page).getByRole('button', { name: 'Remove Member' }).click();
  await dialog(page, 'Remove member').getByRole('button', { name: 'Remove' }).click();
  await eventually(async () => (await api.get('/pools', { poolid: 'team' }))[0].members.length === 0);

  await gridRow(view(page), 'team', 'Team pool').click();
  await view(page).getByRole('button', { name: 'Remove', exact: true }).click();
  await dialog(page, 'Remove pool').getByRole('button', { name: 'Remove' }).click();
  await gridRow(view(page), 'team').waitFor({ state: 'detached' });
  assert.deepEqual(await api.get('/pools'), []);
  assertNoErrors();
});
