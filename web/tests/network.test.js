// Node -> Network (a bridge staged as a pending change, shown as a diff, then reverted: the
// host's interfaces are never applied by this test) and the firewall screens at datacenter,
// node and guest level (rules added, disabled, moved and removed; options edited). The
// datacenter firewall stays disabled, so no rule reaches the host.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NODE, dialog, eventually, gridRow, loginAsAdmin, openTab, screenshot, setup, waitTask } from './helpers.js';

const view = (page) => page.locator('.content-view');

test('a bridge is staged and reverted on the node\'s Network tab', async (t) => {
  const { page, api, assertNoErrors } = await setup(t);
  await loginAsAdmin(page);
  await openTab(page, NODE, 'Network');
  await view(page).getByRole('button', { name: 'Create' }).click();
  await page.getByRole('menuitem', { name: 'Linux Bridge' }).click();
  const dlg = dialog(page, 'Create: Linux Bridge');
  await dlg.getByLabel('Name').fill('vmbr7');
  await dlg.getByLabel('IPv4/CIDR').fill('10.77.0.1/24');
  await dlg.getByLabel('Comment').fill('ui test bridge');
  await dlg.getByRole('button', { name: 'Create' }).click();
  await dlg.waitFor({ state: 'detached' });
  await gridRow(view(page), 'vmbr7', '10.77.0.1/24').waitFor();
  const diff = view(page).locator('.pending-changes .diff');
  await diff.locator('.add', { hasText: 'vmbr7' }).first().waitFor();
  await screenshot(page, 'node-network');
  const listed = await api.get(`/nodes/${NODE}/network`);
  assert.ok(listed.some((i) => i.iface === 'vmbr7' && i.type === 'bridge'), JSON.stringify(listed));
  await view(page).getByRole('button', { name: 'Revert' }).click();
  await diff.waitFor({ state: 'detached' });
  await gridRow(view(page), 'vmbr7').waitFor({ state: 'detached' });
  assert.ok(!(await api.get(`/nodes/${NODE}/network`)).some((i) => i.iface === 'vmbr7'));
  assertNoErrors();
});

async function addRule(page, { dport, comment, action = 'ACCEPT' }) {
  await view(page).getByRole('button', { name: 'Add', exact: true }).click();
  const dlg = dialog(page, 'Add: Rule');
  await dlg.getByLabel('Action').selectOption(action);
  await dlg.getByLabel('Protocol').fill('tcp');
  await dlg.getByLabel('Dest. port').fill(dport);
  await dlg.getByLabel('Comment').fill(comment);
  await dlg.getByRole('button', { name: 'Add' }).click();
  await dlg.waitFor({ state: 'detached' });
  await gridRow(view(page), comment).waitFor();
}

test('firewall rules and options at datacenter, node and guest level', async (t) => {
  const { page, api, assertNoErrors } = await setup(t);
  await waitTask(api, await api.post(`/nodes/${NODE}/qemu`, { vmid: 100, name: 'fw', memory: 128 }));
  await loginAsAdmin(page);

  // Datacenter: two rules (a new rule goes on top, as in Proxmox), the lower one moved up, then
  // disabled and removed.
  await openTab(page, 'Datacenter', 'Firewall');
  await addRule(page, { dport: '22', comment: 'ssh in' });
  await addRule(page, { dport: '8006', comment: 'api in' });
  let rules = await api.get('/cluster/firewall/rules');
  assert.deepEqual(rules.map((r) => r.comment), ['api in', 'ssh in']);
  await gridRow(view(page), 'ssh in').click();
  await view(page).getByRole('button', { name: 'Move up' }).click();
  await eventually(async () => (await api.get('/cluster/firewall/rules')).map((r) => r.comment).join() === 'ssh in,api in');
  // The grid has reloaded (rules are addressed by position, with the file's digest).
  await eventually(async () => /ssh in/.test(await view(page).locator('tbody tr').first().innerText()));
  await gridRow(view(page), 'ssh in').click();
  await view(page).getByRole('button', { name: 'Disable' }).click();
  await eventually(async () => (await api.get('/cluster/firewall/rules')).find((r) => r.comment === 'ssh in')?.enable === 0);
  await eventually(async () => (await gridRow(view(page), 'ssh in').locator('td').nth(1).innerText()) === '');
  await screenshot(page, 'dc-firewall');
  await gridRow(view(page), 'ssh in').click();
  await view(page).getByRole('button', { name: 'Remove' }).click();
  await dialog(page, 'Remove rule').getByRole('button', { name: 'Remove' }).click();
  await gridRow(view(page), 'ssh in').waitFor({ state: 'detached' });
  rules = await api.get('/cluster/firewall/rules');
  assert.deepEqual(rules.map((r) => [r.comment, r.dport, r.proto]), [['api in', '8006', 'tcp']]);
  // The datacenter firewall is off (and stays off in this test).
  await openTab(page, 'Datacenter', 'Firewall Options');
  assert.match(await view(page).locator('tr', { has: page.locator('[data-option=enable]') }).innerText(), /No/);

  // Node: an option.
  await openTab(page, NODE, 'Firewall Options');
  await view(page).locator('[data-option=log_level_in]').dblclick();
  const opt = dialog(page, 'Edit: log_level_in');
  await opt.locator('select').selectOption('info');
  await opt.getByRole('button', { name: 'OK' }).click();
  await opt.waitFor({ state: 'detached' });
  await eventually(async () => (await api.get(`/nodes/${NODE}/firewall/options`)).log_level_in === 'info');

  // Guest: a rule on net0 and the guest's own switch.
  await openTab(page, '100 (fw)', 'Firewall');
  await addRule(page, { dport: '80', comment: 'web', action: 'DROP' });
  const guestRules = await api.get(`/nodes/${NODE}/qemu/100/firewall/rules`);
  assert.equal(guestRules[0].action, 'DROP');
  await openTab(page, '100 (fw)', 'Firewall Options');
  await view(page).locator('[data-option=enable]').dblclick();
  const en = dialog(page, 'Edit: Firewall');
  await en.getByLabel('Firewall').check();
  await en.getByRole('button', { name: 'OK' }).click();
  await en.waitFor({ state: 'detached' });
  await eventually(async () => Number((await api.get(`/nodes/${NODE}/qemu/100/firewall/options`)).enable) === 1);
  await screenshot(page, 'vm-firewall-options');
  assertNoErrors();
});
