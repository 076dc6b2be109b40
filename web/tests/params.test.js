// Unit tests of the request parameters the new dialogs send and of the snapshot tree (pure
// helpers, no browser needed).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importTs } from './ts.js';

const { snapshotTree } = await importTs('views/guest/snapshot-tree.ts');
const { vzdumpParams, restoreRequest, backupGuestType, pruneBackupsString } = await importTs('views/guest/backup-params.ts');
const { jobParams, jobFormValues, keepValues, selectionText } = await importTs('views/dc/backup-job-params.ts');
const { createCtParams, ctNet, nicValue } = await importTs('views/lxc/ct-params.ts');

test('the snapshot tree nests children under parents, NOW last under its parent', () => {
  const rows = snapshotTree([
    { name: 'current', parent: 'b', running: 0 },
    { name: 'b', parent: 'a', snaptime: 20 },
    { name: 'c', parent: 'a', snaptime: 30 },
    { name: 'a', snaptime: 10 },
  ]);
  assert.deepEqual(rows.map((r) => `${r.name}:${r.depth}`), ['a:0', 'b:1', 'current:2', 'c:1']);
  // A snapshot whose parent is gone is a root.
  assert.deepEqual(snapshotTree([{ name: 'x', parent: 'gone', snaptime: 1 }, { name: 'current', parent: 'x' }]).map((r) => `${r.name}:${r.depth}`), ['x:0', 'current:1']);
});

test('Backup now sends vzdump\'s parameters', () => {
  assert.deepEqual(vzdumpParams(100, { storage: 'local', mode: 'snapshot', compress: 'zstd', notes: '{{guestname}}', protected: true }), {
    vmid: '100', storage: 'local', mode: 'snapshot', compress: 'zstd', 'notes-template': '{{guestname}}', protected: 1, remove: 0,
  });
  const p = vzdumpParams('101', { storage: 'nfs', mode: 'stop', compress: '0', notes: '', protected: false });
  assert.equal(p['notes-template'], undefined);
  assert.equal(p.protected, undefined);
  assert.equal(p.compress, '0');
});

test('restore posts archive= for VMs and restore=1 + ostemplate= for CTs', () => {
  const vol = 'local:backup/vzdump-qemu-100-2026_11_27-10_00_00.vma.zst';
  assert.equal(backupGuestType(vol), 'qemu');
  assert.deepEqual(restoreRequest('pve', vol, { vmid: '103', storage: '', unique: true, start: false, force: false }), {
    path: '/nodes/pve/qemu',
    params: { vmid: '103', storage: undefined, unique: 1, start: undefined, force: undefined, archive: vol },
  });
  const ct = 'local:backup/vzdump-lxc-200-2026_11_27-10_00_00.tar.zst';
  const r = restoreRequest('pve', ct, { vmid: '200', storage: 'local', force: true });
  assert.equal(r.path, '/nodes/pve/lxc');
  assert.equal(r.params.ostemplate, ct);
  assert.equal(r.params.restore, 1);
  assert.equal(r.params.force, 1);
  assert.equal(r.params.storage, 'local');
});

test('the CT wizard\'s POST parameters and NIC strings', () => {
  const base = {
    vmid: '100', hostname: 'ct1', ostemplate: 'local:vztmpl/x.tar.zst', unprivileged: true, password: 'secret1', confirmpw: 'secret1',
    'ssh-public-keys': '', storage: 'local', disksize: '8', cores: '2', memory: '512', swap: '256',
    nonet: false, netname: 'eth0', bridge: 'vmbr0', ipmode: 'dhcp', ip: '', gw: '', firewall: true, searchdomain: '', nameserver: '1.1.1.1', start: false,
  };
  const p = createCtParams(base);
  assert.equal(p.rootfs, 'local:8');
  assert.equal(p.net0, 'name=eth0,bridge=vmbr0,ip=dhcp,firewall=1');
  assert.equal(p.unprivileged, 1);
  assert.equal(p.nameserver, '1.1.1.1');
  assert.equal(p.searchdomain, undefined);
  assert.equal(p['ssh-public-keys'], undefined);
  assert.ok(!('confirmpw' in p), 'the confirmation is not sent');
  assert.equal(ctNet({ ...base, ipmode: 'static', ip: '10.0.0.5/24', gw: '10.0.0.1', firewall: false }), 'name=eth0,bridge=vmbr0,ip=10.0.0.5/24,gw=10.0.0.1');
  assert.equal(ctNet({ ...base, nonet: true }), undefined);
  assert.equal(nicValue({ name: 'eth1', bridge: 'vmbr1', hwaddr: '', tag: '10', ipmode: 'manual', ip: '', gw: '', firewall: false }), 'name=eth1,bridge=vmbr1,tag=10');
});

test('retention: keep-* values to prune-backups and back', () => {
  assert.equal(pruneBackupsString({ 'keep-last': '3', 'keep-daily': ' 7 ', 'keep-weekly': '', other: '1' }), 'keep-last=3,keep-daily=7');
  assert.equal(pruneBackupsString({ 'keep-last': '', 'keep-yearly': 'x' }), undefined);
  assert.deepEqual(keepValues('keep-last=2,keep-monthly=1'), { 'keep-last': '2', 'keep-monthly': '1' });
  assert.deepEqual(keepValues({ 'keep-all': 1, 'keep-daily': 4 }), { 'keep-daily': '4' });
});

test('a backup job window sends Proxmox\'s job parameters, with delete on edit', () => {
  const values = { enabled: true, node: '', storage: 'local', schedule: ' sat 02:00 ', selection: 'include', vmids: '100 101;102', mode: 'stop', compress: 'zstd', comment: '', 'keep-last': '3' };
  assert.deepEqual(jobParams(values, false), {
    enabled: 1, schedule: 'sat 02:00', storage: 'local', mode: 'stop', compress: 'zstd', node: undefined, comment: undefined,
    all: undefined, vmid: '100,101,102', exclude: undefined, 'prune-backups': 'keep-last=3',
  });
  const edit = jobParams({ ...values, selection: 'exclude', vmids: '105', 'keep-last': '', enabled: false }, true);
  assert.equal(edit.all, 1);
  assert.equal(edit.exclude, '105');
  assert.equal(edit.enabled, 0);
  assert.equal(edit.delete, 'node,comment,vmid,prune-backups');
  assert.equal(jobParams({ ...values, selection: 'all' }, true).delete, 'node,comment,vmid,exclude');
});

test('a listed backup job fills the window and the selection column', () => {
  const job = { id: 'backup-1', schedule: 'daily', all: 1, exclude: '100', storage: 'local', 'prune-backups': { 'keep-last': 5 }, enabled: 0 };
  const v = jobFormValues(job);
  assert.equal(v.selection, 'exclude');
  assert.equal(v.vmids, '100');
  assert.equal(v.enabled, false);
  assert.equal(v['keep-last'], '5');
  assert.equal(v.mode, 'snapshot');
  assert.equal(selectionText(job), 'All except 100');
  assert.equal(selectionText({ id: 'b', vmid: '100,101' }), '100,101');
  assert.equal(selectionText({ id: 'c', all: 1 }), 'All');
});
