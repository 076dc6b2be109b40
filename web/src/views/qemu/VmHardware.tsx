// VM -> Hardware: memory, processors, BIOS, machine, controllers, disks, CD drives, network
// devices, serial ports, unused disks — current values with pending changes; add, edit,
// remove, resize and move disks, revert pending changes.

import { useState, type JSX } from 'react';
import { api, apiPath } from '../../lib/api';
import { bytes } from '../../lib/format';
import { hardwareOrder, hardwareTitle, isCdrom, isHardwareKey, type PendingEntry } from '../../lib/qemu';
import { confirmDialog, runAction } from '../../components/Dialog';
import { MenuButton } from '../../components/Menu';
import { Toolbar } from '../../components/Grid';
import type { ViewContext } from '../context';
import { addDisk, addSerial, editCdrom, editNetwork, editorFor, moveDisk, resizeDisk, type VmRef } from './hardwareDialogs';
import { PendingGrid } from './PendingGrid';
import { useVmConfig } from './useConfig';

function format(key: string, v: string): string {
  if (key === 'memory' || key === 'balloon') return `${bytes(Number(v) * 1024 * 1024)}${key === 'balloon' && v === '0' ? ' (ballooning off)' : ''}`;
  if (key === 'bios' && v === 'ovmf') return 'OVMF (UEFI)';
  if (key === 'bios') return 'SeaBIOS';
  return v;
}

const DEFAULTS: PendingEntry[] = [
  { key: 'memory', value: '512' },
  { key: 'sockets', value: '1' },
  { key: 'cores', value: '1' },
  { key: 'bios', value: 'seabios' },
];

export function VmHardware({ ctx }: { ctx: ViewContext }): JSX.Element {
  const node = ctx.resource?.node || '';
  const vmid = Number(ctx.vmid);
  const { rows: all, digest, error, reload } = useVmConfig(node, vmid);
  const [selected, setSelected] = useState<string | null>(null);
  const present = new Set(all.map((e) => e.key));
  const rows = [...all.filter((e) => isHardwareKey(e.key)), ...DEFAULTS.filter((d) => !present.has(d.key))]
    .sort((a, b) => hardwareOrder(a.key) - hardwareOrder(b.key));
  const sel = rows.find((e) => e.key === selected) ?? null;
  const vm: VmRef = {
    node,
    vmid,
    keys: all.map((e) => e.key),
    value: (k) => {
      const e = all.find((x) => x.key === k);
      const v = e?.pending ?? e?.value;
      return v === undefined ? undefined : String(v);
    },
    digest,
    done: (upid) => {
      reload();
      if (upid) ctx.taskStarted(upid);
    },
  };
  const isDisk = (e: PendingEntry | null): boolean => Boolean(e && /^(ide|sata|scsi|virtio)\d+$/.test(e.key) && !isCdrom(String(e.pending ?? e.value ?? '')));
  const editor = sel ? editorFor(vm, sel) : null;
  const removable = Boolean(sel && !['memory', 'sockets', 'cores', 'bios'].includes(sel.key) && !sel.delete && (sel.value !== undefined || sel.pending !== undefined));

  const remove = async (e: PendingEntry): Promise<void> => {
    const unused = /^unused\d+$/.test(e.key);
    const message = unused ? `Destroy the unused disk ${e.key} (${e.value}) and its data?` : `Remove ${hardwareTitle(e.key)}?`;
    if (!await confirmDialog({ title: 'Confirm', message, confirmText: 'Remove', danger: true })) return;
    await runAction(() => api.put(apiPath('nodes', node, 'qemu', String(vmid), 'config'), { delete: e.key, digest }), `Cannot remove ${e.key}`);
    reload();
  };
  const revert = async (e: PendingEntry): Promise<void> => {
    await runAction(() => api.put(apiPath('nodes', node, 'qemu', String(vmid), 'config'), { revert: e.key }), `Cannot revert ${e.key}`);
    reload();
  };
  const add = (fn: (v: VmRef) => Promise<void>) => () => {
    void fn(vm);
  };

  return (
    <div className="view grid-view vm-hardware">
      <Toolbar items={[
        <MenuButton text="Add" align="start" items={[
          { text: 'Hard Disk', onClick: add(addDisk) },
          { text: 'CD/DVD Drive', onClick: add((v) => editCdrom(v)) },
          { text: 'Network Device', onClick: add((v) => editNetwork(v)) },
          { text: 'Serial Port', onClick: add(addSerial) },
        ]} />,
        { text: 'Remove', enabled: removable, onClick: () => sel && remove(sel) },
        { text: 'Edit', enabled: Boolean(editor), onClick: () => editor?.() },
        { text: 'Resize disk', enabled: isDisk(sel), onClick: () => sel && resizeDisk(vm, sel.key) },
        { text: 'Move disk', enabled: isDisk(sel), onClick: () => sel && moveDisk(vm, sel.key) },
        { text: 'Revert', enabled: Boolean(sel && (sel.pending !== undefined || sel.delete)), onClick: () => sel && revert(sel) },
      ]} />
      <PendingGrid label="Hardware" rows={rows} title={(k) => (/^(ide|sata|scsi)\d+$/.test(k) && isCdrom(vm.value(k) ?? '') ? `CD/DVD Drive (${k})` : hardwareTitle(k))} format={format} selected={selected} onSelect={setSelected}
        onActivate={(e) => editorFor(vm, e)?.()} error={error?.message} />
    </div>
  );
}
