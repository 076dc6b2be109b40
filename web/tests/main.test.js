// The main screen: resource tree, datacenter and node summaries with the daemon's real figures.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NODE, loginAsAdmin, setup, treeItem } from './helpers.js';
import { bytes } from '../src/format.js';

test('the node summary shows the real figures of /nodes/{node}/status', async (t) => {
  const { page, api, assertNoErrors } = await setup(t);
  await loginAsAdmin(page);
  await treeItem(page, NODE).locator(':scope > .tree-row').click();
  assert.match(page.url(), /#node\/testnode$/);
  const cell = (key) => page.locator(`.node-summary td[data-key=${key}]`);
  await cell('kversion').filter({ hasText: /\S/ }).waitFor();

  const status = await api.get(`/nodes/${NODE}/status`);
  assert.equal(await cell('kversion').innerText(), status.kversion);
  assert.equal(await cell('version').innerText(), status.pveversion);
  const cpus = await cell('cpus').innerText();
  assert.ok(cpus.startsWith(`${status.cpuinfo.cpus} x ${status.cpuinfo.model}`), cpus);
  assert.match(await cell('cpu').innerText(), new RegExp(`^\\d+\\.\\d\\d% of ${status.cpuinfo.cpus} CPU\\(s\\)$`));
  assert.match(await cell('memory').innerText(), new RegExp(`^\\d+\\.\\d\\d% \\(.+ of ${bytes(status.memory.total).replace('.', '\\.')}\\)$`));
  assert.match(await cell('rootfs').innerText(), new RegExp(`of ${bytes(status.rootfs.total).replace('.', '\\.')}\\)$`));
  if (status.swap.total) assert.match(await cell('swap').innerText(), /of .+\)$/);
  else assert.equal(await cell('swap').innerText(), 'no swap');
  assert.match(await cell('loadavg').innerText(), /^\d+\.\d+, \d+\.\d+, \d+\.\d+$/);
  assert.match(await cell('uptime').innerText(), /^(\d+ days? )?\d\d:\d\d:\d\d$/);
  assert.match(await cell('kvm').innerText(), status.kvm.usable ? /^usable/ : /^not usable/);

  // Refreshed every few seconds: the "last update" line changes.
  const before = await page.locator('.node-summary .updated').innerText();
  await page.waitForFunction((b) => document.querySelector('.node-summary .updated').textContent !== b, before, { timeout: 8000 });
  assertNoErrors();
});

test('the datacenter summary counts nodes and guests; the tree filters by type and text', async (t) => {
  const { page, assertNoErrors } = await setup(t);
  await loginAsAdmin(page);
  const cell = (key) => page.locator(`.dc-summary td[data-key=${key}]`);
  await cell('online').filter({ hasText: '1' }).waitFor();
  assert.equal(await cell('offline').innerText(), '0');
  assert.equal(await cell('vms').innerText(), '0 (0 running, 0 stopped)');
  assert.equal(await cell('cts').innerText(), '0 (0 running, 0 stopped)');
  assert.equal(await page.locator('.dc-summary tbody tr', { hasText: NODE }).count(), 1);

  // No guests or storages yet: the node has no children, filters say nothing matches.
  const node = treeItem(page, NODE);
  assert.equal(await node.locator('li').count(), 0);
  assert.equal(await node.locator('.status-ok').count(), 1, 'the node is online');
  await page.getByLabel('Filter by type').selectOption('qemu');
  await page.locator('.tree-message', { hasText: 'No resource matches' }).waitFor();
  assert.equal(await node.isVisible(), false);
  await page.getByLabel('Filter by type').selectOption('');
  await page.getByLabel('Search resources').fill('testn');
  await node.waitFor({ state: 'visible' });
  await page.getByLabel('Search resources').fill('no-such-thing');
  await node.waitFor({ state: 'hidden' });
  await page.getByLabel('Search resources').fill('');
  await node.waitFor({ state: 'visible' });

  // Keyboard: arrows move in the tree, Enter opens.
  await treeItem(page, 'Datacenter').focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.locator('.content-title', { hasText: `Node '${NODE}'` }).waitFor();
  assertNoErrors();
});

test('the tree shows guests and storages when /cluster/resources lists them', async (t) => {
  const { page, assertNoErrors } = await setup(t);
  // Guests and storages do not exist in the daemon yet: answer /cluster/resources with some
  // added to the real list, as the engines will.
  await page.route('**/api2/json/cluster/resources', async (route) => {
    const resp = await route.fetch();
    const body = await resp.json();
    body.data.push(
      { id: 'qemu/100', type: 'qemu', vmid: 100, name: 'web', node: NODE, status: 'running', tags: 'prod;www', cpu: 0.1, maxcpu: 2, mem: 1 << 29, maxmem: 1 << 30, maxdisk: 1 << 33, uptime: 100 },
      { id: 'lxc/101', type: 'lxc', vmid: 101, name: 'db', node: NODE, status: 'stopped', maxmem: 1 << 29 },
      { id: 'storage/testnode/local', type: 'storage', storage: 'local', node: NODE, status: 'available', plugintype: 'dir', content: 'images,iso', disk: 1 << 30, maxdisk: 1 << 34 },
    );
    await route.fulfill({ response: resp, json: body });
  });
  await loginAsAdmin(page);
  const vm = treeItem(page, '100 (web)');
  await vm.waitFor();
  assert.equal(await vm.locator('.status-ok').count(), 1);
  assert.deepEqual(await vm.locator('.tag').allInnerTexts(), ['prod', 'www']);
  assert.equal(await treeItem(page, '101 (db)').locator('.status-stopped').count(), 1);
  await treeItem(page, 'local (testnode)').waitFor();
  await page.locator('.dc-summary td[data-key=vms]', { hasText: '1 (1 running, 0 stopped)' }).waitFor();

  const search = page.getByLabel('Search resources');
  await search.fill('www'); // by tag
  await vm.waitFor({ state: 'visible' });
  await treeItem(page, '101 (db)').waitFor({ state: 'hidden' });
  await search.fill('101'); // by VMID
  await treeItem(page, '101 (db)').waitFor({ state: 'visible' });
  await vm.waitFor({ state: 'hidden' });
  await search.fill('');
  await page.getByLabel('Filter by type').selectOption('storage');
  await treeItem(page, 'local (testnode)').waitFor({ state: 'visible' });
  await vm.waitFor({ state: 'hidden' });
  await page.getByLabel('Filter by type').selectOption('');

  await vm.locator(':scope > .tree-row').click();
  await page.locator('.content-title', { hasText: 'Virtual Machine 100 (web)' }).waitFor();
  await page.locator('.resource-summary td[data-key=tags]', { hasText: 'prod, www' }).waitFor();
  assertNoErrors();
});
