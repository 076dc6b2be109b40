// Virtual machines through the UI against a real daemon and real QEMU (TCG): upload the
// project's guest ISO to the storage, create a VM with the wizard (the API's per-parameter
// error shows on its field), start it, edit its hardware while it runs (pending change shown,
// reverted), open its consoles, stop it, resize a disk and remove it by typing its VMID.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { NODE, REPO, dialog, eventually, field, finishTask, gridRow, loginAsAdmin, openTab, setup, treeItem } from './helpers.js';

const GUEST_ISO = path.join(process.env.OXVE_GUEST_DIR || path.join(REPO, 'target/guest'), 'oxve-guest.iso');
const view = (page) => page.locator('.content-view');
const shot = (page, name) => page.screenshot({ path: path.join(REPO, `target/ui-${name}.png`) });

async function wizardNext(dlg) {
  await dlg.getByRole('button', { name: 'Next' }).click();
}

test('upload an ISO, create a VM with the wizard, start it, edit it, stop and remove it', { skip: !existsSync(GUEST_ISO) && `no guest ISO at ${GUEST_ISO} (scripts/build-guest-image.sh)` }, async (t) => {
  const { page, api, daemon, assertNoErrors } = await setup(t, {
    testHooks: true,
    // The refused wizard submit (400).
    allowErrors: [/status of 400/],
  });
  await loginAsAdmin(page);

  // Storage -> Content: upload the ISO with a progress bar.
  await openTab(page, `local (${NODE})`, 'Content');
  await view(page).getByRole('button', { name: 'Upload' }).click();
  const up = dialog(page, 'Upload');
  await up.getByLabel('Content').selectOption('iso');
  await up.locator('input[type=file]').setInputFiles(GUEST_ISO);
  assert.equal(await up.getByLabel('File name').inputValue(), 'oxve-guest.iso');
  await up.getByRole('button', { name: 'Upload' }).click();
  await up.waitFor({ state: 'detached', timeout: 60000 }).catch(async (e) => { console.log('UPLOAD DIALOG:', await up.innerText()); await shot(page, 'upload-fail'); throw e; });
  await gridRow(view(page), 'oxve-guest.iso', 'ISO image').waitFor({ timeout: 20000 });
  const isos = await api.get(`/nodes/${NODE}/storage/local/content`, { content: 'iso' });
  assert.ok(isos.some((v) => v.volid === 'local:iso/oxve-guest.iso'), JSON.stringify(isos));
  await shot(page, 'storage-content');

  // The wizard.
  await page.getByRole('button', { name: 'Create VM' }).click();
  const wiz = dialog(page, 'Create: Virtual Machine');
  await wiz.getByLabel('VM ID').waitFor();
  await eventually(async () => (await wiz.getByLabel('VM ID').inputValue()) === '100');
  await wiz.getByLabel('Name').fill('bad name!');
  await wizardNext(wiz);
  await wiz.locator('select[name=iso] option[value="local:iso/oxve-guest.iso"]').waitFor({ state: 'attached' });
  await wiz.getByLabel('ISO image').selectOption('local:iso/oxve-guest.iso');
  await wizardNext(wiz); // System
  await wizardNext(wiz); // Disks
  await wiz.locator('select[name=storage] option[value=local]').waitFor({ state: 'attached' });
  await wiz.getByLabel('Disk size (GiB)').fill('1');
  await wizardNext(wiz); // CPU
  await wiz.getByLabel('Cores').fill('2');
  await wizardNext(wiz); // Memory
  await wiz.getByLabel('Memory (MiB)').fill('256');
  await wizardNext(wiz); // Network
  await wizardNext(wiz); // Confirm
  await wiz.locator('.wizard-summary td[data-key=scsi0]', { hasText: 'local:1,format=qcow2' }).waitFor();
  await shot(page, 'create-vm-confirm');
  await wiz.getByRole('button', { name: 'Finish' }).click();
  // The server refuses the name: the wizard goes back to the field and shows why.
  const nameError = field(wiz, 'Name').locator('.field-error');
  await nameError.waitFor();
  assert.equal(await wiz.getByRole('tab', { name: /General/ }).getAttribute('aria-selected'), 'true');
  assert.match(await wiz.locator('.form-message').innerText(), /Parameter verification failed/);
  await wiz.getByLabel('Name').fill('uitest');
  for (let i = 0; i < 7; i++) await wizardNext(wiz);
  await wiz.getByRole('button', { name: 'Finish' }).click();
  await wiz.waitFor({ state: 'detached' }).catch(async (e) => { console.log('WIZARD:', await wiz.innerText()); await shot(page, 'wizard-fail'); throw e; });
  // Its task log opens; the new VM gets selected.
  await finishTask(page, 30000);
  await page.locator('.content-title', { hasText: 'Virtual Machine 100 (uitest)' }).waitFor();
  const config = await api.get(`/nodes/${NODE}/qemu/100/config`);
  assert.equal(config.name, 'uitest');
  assert.equal(Number(config.memory), 256);
  assert.equal(Number(config.cores), 2);
  assert.match(config.ide2, /^local:iso\/oxve-guest\.iso,media=cdrom/);
  assert.match(config.scsi0, /^local:100\/vm-100-disk-0\.qcow2/);
  assert.match(config.net0, /bridge=vmbr0/);

  // Hardware while stopped: resize the disk by 1 GiB.
  await openTab(page, '100 (uitest)', 'Hardware');
  const hw = view(page);
  await hw.locator('[data-config-key=scsi0]').click();
  await hw.getByRole('button', { name: 'Resize disk' }).click();
  const rs = dialog(page, 'Resize disk scsi0');
  await rs.getByLabel('Size Increment (GiB)').fill('1');
  await rs.getByRole('button', { name: 'Resize disk' }).click();
  await rs.waitFor({ state: 'detached' });
  await finishTask(page, 30000);
  await eventually(async () => /size=2G/.test((await api.get(`/nodes/${NODE}/qemu/100/config`)).scsi0), 20000);

  // A serial port for the serial console.
  await hw.getByRole('button', { name: 'Add' }).click();
  await page.getByRole('menuitem', { name: 'Serial Port' }).click();
  const sp = dialog(page, 'Add: Serial Port');
  await sp.getByRole('button', { name: 'Add' }).click();
  await sp.waitFor({ state: 'detached' });
  await hw.locator('[data-config-key=serial0]').waitFor();
  assert.equal((await api.get(`/nodes/${NODE}/qemu/100/config`)).serial0, 'socket');

  // Start from the header; the UI shows running only once the API says so.
  await page.locator('.header-tools').getByRole('button', { name: 'Start' }).click();
  await finishTask(page, 60000);
  assert.equal((await api.get(`/nodes/${NODE}/qemu/100/status/current`)).status, 'running');
  await page.locator('.header-tools').getByRole('button', { name: 'Shutdown' }).and(page.locator(':enabled')).waitFor();

  // A change while running stays pending, shown under the current value; Revert drops it.
  await hw.locator('[data-config-key=memory]').dblclick();
  const mem = dialog(page, 'Edit: Memory');
  await mem.locator('input[name=memory]').fill('384');
  await mem.getByRole('button', { name: 'OK' }).click();
  await mem.waitFor({ state: 'detached' });
  const memRow = gridRow(hw, 'Memory');
  await memRow.first().locator('.pending-value', { hasText: '384.00 MiB' }).waitFor();
  const pending = await api.get(`/nodes/${NODE}/qemu/100/pending`);
  assert.equal(Number(pending.find((e) => e.key === 'memory').pending), 384);
  await shot(page, 'vm-hardware-pending');
  await hw.locator('[data-config-key=memory]').click();
  await hw.getByRole('button', { name: 'Revert' }).click();
  await memRow.first().locator('.pending-value').waitFor({ state: 'detached' });

  // Summary with its graphs.
  await openTab(page, '100 (uitest)', 'Summary');
  await page.locator('.resource-summary td[data-key=status]', { hasText: 'running' }).waitFor();
  await page.locator('.rrd-graph[data-graph="CPU usage"] canvas').waitFor();
  await shot(page, 'vm-summary');
  await page.locator('.rrd-graph[data-graph="Network traffic"]').scrollIntoViewIfNeeded();
  await shot(page, 'vm-graphs');

  // Consoles through the daemon's own endpoints: the display (noVNC, vncproxy + vncwebsocket)
  // and the serial console (xterm.js, termproxy + vncwebsocket).
  await openTab(page, '100 (uitest)', 'Console');
  await page.locator('.vnc-console[data-state=connected] canvas').waitFor({ timeout: 30000 });
  // The guest's screen, not a blank canvas.
  await eventually(async () => page.locator('.vnc-console canvas').evaluate((c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let lit = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 96) lit += 1;
    return lit > 50;
  }), 60000);
  await shot(page, 'vm-console');
  await openTab(page, '100 (uitest)', 'Serial Console');
  const serial = page.locator('.serial-console');
  await page.locator('.serial-console[data-state=connected]').waitFor({ timeout: 30000 });
  // The guest's output (it boots from the ISO and reports on ttyS0), typed input goes to it.
  await serial.locator('.xterm-rows', { hasText: 'OXVE-GUEST-' }).waitFor({ timeout: 120000 });
  await serial.locator('.xterm').click();
  await page.keyboard.type('echo UI-SERIAL-$((6*7))');
  await page.keyboard.press('Enter');
  await serial.locator('.xterm-rows', { hasText: 'echo UI-SERIAL-' }).waitFor({ timeout: 30000 });
  await shot(page, 'vm-serial');

  // Stop, then remove: the VMID must be typed.
  await page.locator('.header-tools').getByRole('button', { name: 'Stop' }).click();
  await dialog(page, 'Confirm').getByRole('button', { name: 'Stop' }).click();
  await finishTask(page, 60000);
  await page.locator('.header-tools').getByRole('button', { name: 'Start' }).and(page.locator(':enabled')).waitFor();
  await page.locator('.header-tools').getByRole('button', { name: 'More' }).click();
  await page.getByRole('menuitem', { name: 'Remove' }).click();
  const rm = dialog(page, 'Destroy VM 100');
  await rm.getByLabel('Please enter the ID to confirm (100)').fill('101');
  await rm.getByRole('button', { name: 'Remove' }).click();
  await field(rm, 'Please enter the ID to confirm \\(100\\)').locator('.field-error', { hasText: 'Type 100' }).waitFor();
  await rm.getByLabel('Please enter the ID to confirm (100)').fill('100');
  await rm.getByRole('button', { name: 'Remove' }).click();
  await rm.waitFor({ state: 'detached' });
  await eventually(async () => !(await api.get(`/nodes/${NODE}/qemu`)).some((v) => Number(v.vmid) === 100), 30000);
  await treeItem(page, '100 (uitest)').waitFor({ state: 'detached' });
  assertNoErrors();
});
