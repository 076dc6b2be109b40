// Unit tests of the UI's pure helpers (no browser needed).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importTs } from './ts.js';

const { bytes, duration, parseUpid, percent, taskDescription, taskState, epochFromDateInput, dateInput } = await importTs('lib/format.ts');

test('bytes, percent and durations read as Proxmox shows them', () => {
  assert.equal(bytes(512), '512 B');
  assert.equal(bytes(1536), '1.50 KiB');
  assert.equal(bytes(25276510208), '23.54 GiB');
  assert.equal(bytes(undefined), '-');
  assert.equal(percent(0.1234), '12.34%');
  assert.equal(percent(null), '-');
  assert.equal(duration(59), '00:00:59');
  assert.equal(duration(86400 + 3723), '1 day 01:02:03');
  assert.equal(duration(3 * 86400), '3 days 00:00:00');
});

test('UPIDs parse into their parts', () => {
  const u = parseUpid('UPID:testnode:000061F3:0003A4E0:6B091152:qmstart:100:admin@pve:');
  assert.deepEqual(u, {
    upid: 'UPID:testnode:000061F3:0003A4E0:6B091152:qmstart:100:admin@pve:',
    node: 'testnode', pid: 0x61f3, pstart: 0x3a4e0, starttime: 0x6b091152, type: 'qmstart', id: '100', user: 'admin@pve',
  });
  assert.equal(parseUpid('UPID:bad'), null);
});

test('task descriptions and states', () => {
  assert.equal(taskDescription('qmstart', '100'), 'VM 100 - Start');
  assert.equal(taskDescription('vzdump', ''), 'Backup');
  assert.equal(taskDescription('testsleep', ''), 'Test sleep');
  assert.equal(taskDescription('newthing', '7'), 'newthing 7');
  assert.equal(taskState({ status: 'RUNNING' }).state, 'running');
  assert.equal(taskState({ status: 'running' }).state, 'running');
  assert.equal(taskState({ status: 'OK', endtime: 5 }).state, 'ok');
  assert.deepEqual(taskState({ status: 'stopped', exitstatus: 'WARNINGS: 2', endtime: 5 }), { state: 'warning', text: 'WARNINGS: 2' });
  assert.deepEqual(taskState({ status: 'it broke', endtime: 5 }), { state: 'error', text: 'Error: it broke' });
  assert.deepEqual(taskState({ status: 'stopped', exitstatus: 'aborted', endtime: 5 }), { state: 'error', text: 'Error: aborted' });
});

test('expire dates round-trip through the date input', () => {
  assert.equal(epochFromDateInput(''), 0);
  assert.equal(dateInput(0), '');
  const epoch = epochFromDateInput('2030-01-31');
  assert.equal(dateInput(epoch), '2030-01-31');
});

test('termproxy messages as Proxmox defines them', async () => {
  const { authMessage, inputMessage, resizeMessage, PING } = await importTs('console/protocol.ts');
  assert.equal(authMessage('root@pam', 'PVEVNC:ABC'), 'root@pam:PVEVNC:ABC\n');
  assert.equal(inputMessage('ls\r'), '0:3:ls\r');
  assert.equal(inputMessage('ü'), '0:2:ü', 'the length counts UTF-8 bytes');
  assert.equal(resizeMessage(80, 24), '1:80:24:');
  assert.equal(PING, '2');
});

test('property strings of VM config values', async () => {
  const { parsePropertyString, formatPropertyString } = await importTs('lib/qemu.ts');
  assert.deepEqual(parsePropertyString('virtio=AA:BB,bridge=vmbr0,firewall=1'), { virtio: 'AA:BB', bridge: 'vmbr0', firewall: '1' });
  assert.deepEqual(parsePropertyString('local:32,format=qcow2', 'file'), { file: 'local:32', format: 'qcow2' });
  assert.equal(formatPropertyString({ file: 'local:1', format: 'raw', cache: '' }, 'file'), 'local:1,format=raw');
});
