// The main screen: resource tree, datacenter and node summaries with the daemon's real figures.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { NODE, REPO, loginAsAdmin, setup, treeItem } from './helpers.js';
import { importTs } from './ts.js';

const { bytes } = await importTs('lib/format.ts');

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

  // History graphs of GET /nodes/{node}/rrddata: one point per minute of the last 70.
  await page.locator('.rrd-graphs[data-points="70"]').waitFor();
  await page.locator('.rrd-graph[data-graph="Memory usage"] canvas').waitFor();
  await page.screenshot({ path: path.join(REPO, 'target/ui-node-summary.png') });
  const week = page.waitForResponse((r) => r.url().includes('/rrddata?timeframe=week'));
  await page.getByLabel('Timeframe').selectOption('week');
  assert.equal((await week).status(), 200);

  // Refreshed every few seconds: the "last update" line changes.
  const before = await page.locator('.node-summary .updated').innerText();
  await page.waitForFunction((b) => document.querySelector('.node-summary .updated').textContent !== b, before, { timeout: 8000 });
  assertNoErrors();
});

test('the datacenter summary counts nodes and guests; the tree filters by type and text', async (t) => {
  const { page, api, assertNoErrors } = await setup(t);
  await loginAsAdmin(page);
  const cell = (key) => page.locator(`.dc-summary td[data-key=${key}]`);
  await cell('online').filter({ hasText: '1' }).waitFor();
  assert.equal(await cell('offline').innerText(), '0');
  // A fresh daemon has no guests (storages may be listed).
  const children = (await api.get('/cluster/resources')).filter((r) => ['qemu', 'lxc', 'storage'].includes(r.type));
  assert.ok(!children.some((r) => r.type === 'qemu' || r.type === 'lxc'));
  assert.equal(await cell('vms').innerText(), '0 (0 running, 0 stopped)');
  assert.equal(await cell('cts').innerText(), '0 (0 running, 0 stopped)');
  assert.equal(await cell('storages').innerText(), String(children.length));
  assert.equal(await page.locator('.dc-summary tbody tr', { hasText: NODE }).count(), 1);

  // The node's children are exactly the API's; filtering by a type with no entry shows none.
  const node = treeItem(page, NODE);
  assert.equal(await page.locator('.tree li[aria-level="3"]').count(), children.length);
  assert.equal(await node.locator(':scope > .tree-row .status-ok').count(), 1, 'the node is online');
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
      { id: 'storage/testnode/fast', type: 'storage', storage: 'fast', node: NODE, status: 'available', plugintype: 'dir', content: 'images,iso', disk: 1 << 30, maxdisk: 1 << 34 },
    );
    await route.fulfill({ response: resp, json: body });
  });
  // The fake VM's own status, as QEMU's engine would report it.
  await page.route('**/api2/json/nodes/testnode/qemu/100/status/current', (route) => route.fulfill({
    json: { data: { vmid: 100, status: 'running', qmpstatus: 'running', name: 'web', cpu: 0.1, cpus: 2, mem: 1 << 29, maxmem: 1 << 30, maxdisk: 1 << 33, uptime: 100 } },
  }));
  await loginAsAdmin(page);
  const vm = treeItem(page, '100 (web)');
  await vm.waitFor();
  assert.equal(await vm.locator('.status-ok').count(), 1);
  assert.deepEqual(await vm.locator('.tag').allInnerTexts(), ['prod', 'www']);
  assert.equal(await treeItem(page, '101 (db)').locator('.status-stopped').count(), 1);
  await treeItem(page, 'fast (testnode)').waitFor();
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
  await treeItem(page, 'fast (testnode)').waitFor({ state: 'visible' });
  await vm.waitFor({ state: 'hidden' });
  await page.getByLabel('Filter by type').selectOption('');

  await vm.locator(':scope > .tree-row').click();
  await page.locator('.content-title', { hasText: 'Virtual Machine 100 (web)' }).waitFor();
  await page.locator('.resource-summary td[data-key=tags]', { hasText: 'prod, www' }).waitFor();
  assertNoErrors();
});

test('the tree with 1,000 guests filters correctly (time per keystroke reported)', async (t) => {
  const { page, assertNoErrors } = await setup(t);
  let realGuestsAndStorages = 0; // what the daemon itself lists under the node (its storages)
  await page.route('**/api2/json/cluster/resources', async (route) => {
    const resp = await route.fetch();
    const body = await resp.json();
    realGuestsAndStorages = body.data.filter((e) => e.type !== 'node').length;
    for (let i = 0; i < 1000; i++) {
      const type = i % 2 ? 'lxc' : 'qemu';
      body.data.push({ id: `${type}/${1000 + i}`, type, vmid: 1000 + i, name: `guest-${i}`, node: NODE, status: i % 3 ? 'running' : 'stopped', tags: i % 10 ? '' : 'prod' });
    }
    await route.fulfill({ response: resp, json: body });
  });
  await loginAsAdmin(page);
  await page.waitForFunction(() => Number(document.querySelector('.tree')?.dataset.guests) >= 1000);
  // Windowed: only the rows in view are in the DOM.
  assert.ok(await page.locator('.tree li').count() < 100);
  const result = await page.evaluate(async () => {
    const input = document.querySelector('.tree-search');
    const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    const out = [];
    for (const text of ['g', 'gu', 'guest-9', 'guest-99', '1', '11', '115', '1155', 'prod', '']) {
      const start = performance.now();
      input.value = text;
      input.dispatchEvent(new Event('input'));
      await frame();
      out.push({ text, ms: Math.round(performance.now() - start), shown: Number(document.querySelector('.tree').dataset.guests) });
    }
    return out;
  });
  t.diagnostic(`filter keystrokes, ms until the next frame: ${result.map((r) => `'${r.text}' ${r.ms}`).join(', ')}`);
  const shown = Object.fromEntries(result.map((r) => [r.text, r.shown]));
  assert.equal(shown['guest-99'], 11); // guest-99, guest-990 .. guest-999
  assert.equal(shown['1155'], 1); // VMID 1155 only
  assert.equal(shown.prod, 100);
  assert.equal(shown[''], 1000 + realGuestsAndStorages);
  await page.getByLabel('Filter by type').selectOption('lxc');
  await page.locator('.tree[data-guests="500"]').waitFor();
  // The last guest is reached by scrolling.
  await page.getByLabel('Filter by type').selectOption('');
  await page.locator('.tree-scroll').evaluate((el) => { el.scrollTop = el.scrollHeight; });
  await treeItem(page, '1999 (guest-999)').waitFor();
  assertNoErrors();
});
