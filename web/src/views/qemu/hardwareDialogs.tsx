// The hardware dialogs of a VM: memory, processors, BIOS/machine/SCSI controller, hard disk
// (add and options), CD/DVD drive, network device, serial port; resize and move disk. Each
// sends the API's own parameters, so its per-parameter errors land on the fields.

import { api, apiPath, type Params } from '../../lib/api';
import { formatPropertyString, isCdrom, parsePropertyString, type PendingEntry } from '../../lib/qemu';
import { openFormDialog } from '../../components/Dialog';
import type { FieldSpec } from '../../components/form-model';
import { BUS_MAX, isoImages, nextFree, storagesFor } from './storages';

export interface VmRef {
  node: string;
  vmid: number;
  /** Current config keys (for free disk/net indexes). */
  keys: string[];
  /** The value of a key, pending value first. */
  value: (key: string) => string | undefined;
  digest?: string;
  /** After a change: reload; a UPID is a task to show. */
  done: (upid?: string | null) => void;
}

/** The VM's config as it is now (GET .../pending and .../config), as an edit window loads it. */
export async function freshVm(vm: VmRef): Promise<VmRef> {
  const base = apiPath('nodes', vm.node, 'qemu', String(vm.vmid));
  const [pending, config] = await Promise.all([
    api.get<PendingEntry[]>(`${base}/pending`),
    api.get<{ digest?: string }>(`${base}/config`),
  ]);
  return {
    ...vm,
    keys: pending.map((e) => e.key),
    value: (k) => {
      const e = pending.find((x) => x.key === k);
      const v = e?.pending ?? e?.value;
      return v === undefined ? undefined : String(v);
    },
    digest: config.digest,
  };
}

const configPath = (vm: VmRef): string => apiPath('nodes', vm.node, 'qemu', String(vm.vmid), 'config');

/** PUT .../config (synchronous). */
async function put(vm: VmRef, params: Params): Promise<null> {
  await api.put(configPath(vm), { ...params, digest: vm.digest });
  return null;
}

/** POST .../config (may allocate disks: a task). */
async function post(vm: VmRef, params: Params): Promise<string | null> {
  const upid = await api.post<string | null>(configPath(vm), { ...params, digest: vm.digest });
  return typeof upid === 'string' ? upid : null;
}

async function run(vm: VmRef, title: string, fields: FieldSpec[], submit: (v: Record<string, unknown>) => Promise<string | null>, opts: { submitText?: string; setup?: Parameters<typeof openFormDialog>[0]['setup']; intro?: string } = {}): Promise<void> {
  const result = await openFormDialog({ title, fields, onSubmit: (v) => submit(v), submitText: opts.submitText, setup: opts.setup, intro: opts.intro });
  if (result !== null) vm.done(typeof result === 'string' ? result : null);
}

export async function editMemory(current: VmRef): Promise<void> {
  const vm = await freshVm(current);
  return run(vm, 'Edit: Memory', [
    { name: 'memory', label: 'Memory (MiB)', type: 'number', required: true, min: 16, value: vm.value('memory') ?? '2048' },
    { name: 'balloon', label: 'Minimum memory (MiB)', type: 'number', min: 0, value: vm.value('balloon') ?? '', help: 'Empty: same as memory (no ballooning target); 0 disables the balloon device.' },
  ], (v) => put(vm, { memory: String(v.memory), balloon: v.balloon === '' ? undefined : String(v.balloon), delete: v.balloon === '' && vm.value('balloon') !== undefined ? 'balloon' : undefined }));
}

export const CPU_TYPES = ['x86-64-v2-AES', 'x86-64-v2', 'x86-64-v3', 'kvm64', 'qemu64', 'host', 'max'];

export async function editProcessors(current: VmRef): Promise<void> {
  const vm = await freshVm(current);
  const cpu = parsePropertyString(vm.value('cpu') ?? '', 'cputype');
  return run(vm, 'Edit: Processors', [
    { name: 'sockets', label: 'Sockets', type: 'number', min: 1, max: 4, required: true, value: vm.value('sockets') ?? '1' },
    { name: 'cores', label: 'Cores', type: 'number', min: 1, max: 128, required: true, value: vm.value('cores') ?? '1' },
    { name: 'cpu', label: 'Type', type: 'select', options: [{ value: '', label: 'Default' }, ...CPU_TYPES], value: cpu.cputype || '' },
  ], (v) => put(vm, {
    sockets: String(v.sockets),
    cores: String(v.cores),
    cpu: v.cpu ? formatPropertyString({ ...cpu, cputype: String(v.cpu) }, 'cputype') : undefined,
    delete: !v.cpu && vm.value('cpu') !== undefined ? 'cpu' : undefined,
  }));
}

export async function editSelect(current: VmRef, key: 'bios' | 'machine' | 'scsihw'): Promise<void> {
  const vm = await freshVm(current);
  const options: Record<string, { value: string; label: string }[]> = {
    bios: [{ value: 'seabios', label: 'Default (SeaBIOS)' }, { value: 'ovmf', label: 'OVMF (UEFI)' }],
    machine: [{ value: '', label: 'Default (i440fx)' }, { value: 'q35', label: 'q35' }],
    scsihw: [
      { value: 'virtio-scsi-single', label: 'VirtIO SCSI single' }, { value: 'virtio-scsi-pci', label: 'VirtIO SCSI' },
      { value: 'lsi', label: 'LSI 53C895A' }, { value: 'megasas', label: 'MegaRAID SAS 8708EM2' }, { value: 'pvscsi', label: 'VMware PVSCSI' },
    ],
  };
  const titles = { bios: 'BIOS', machine: 'Machine', scsihw: 'SCSI Controller' };
  return run(vm, `Edit: ${titles[key]}`, [
    { name: key, label: titles[key], type: 'select', options: options[key], value: vm.value(key) ?? options[key][0].value },
  ], (v) => put(vm, v[key] === '' ? { delete: key } : { [key]: String(v[key]) }));
}

const diskParams = ['ide0', 'ide1', 'ide2', 'ide3', 'sata0', 'scsi0', 'virtio0'];

export async function addDisk(current: VmRef): Promise<void> {
  const vm = await freshVm(current);
  const bus = 'scsi';
  return run(vm, 'Add: Hard Disk', [
    { name: 'bus', label: 'Bus/Device', type: 'select', options: Object.keys(BUS_MAX), value: bus,
      onChange: (b, m) => m.set('index', String(nextFree(vm.keys, String(b)))) },
    { name: 'index', label: 'Index', type: 'number', min: 0, max: 30, value: String(nextFree(vm.keys, bus)) },
    { name: 'storage', label: 'Storage', type: 'select', required: true, options: [] },
    { name: 'size', label: 'Disk size (GiB)', type: 'number', min: 0.001, required: true, value: '32' },
    { name: 'format', label: 'Format', type: 'select', options: ['qcow2', 'raw', 'vmdk'], value: 'qcow2' },
    { name: 'cache', label: 'Cache', type: 'select', options: [{ value: '', label: 'Default (No cache)' }, 'writeback', 'writethrough', 'directsync', 'unsafe', 'none'], value: '' },
    { name: 'discard', label: 'Discard', type: 'checkbox' },
    { name: 'iothread', label: 'IO thread', type: 'checkbox', value: true },
  ], (v) => {
    const key = `${v.bus}${v.index}`;
    const value = formatPropertyString({
      file: `${v.storage}:${v.size}`, format: String(v.format), cache: String(v.cache || ''),
      discard: v.discard ? 'on' : '', iothread: v.iothread && (v.bus === 'scsi' || v.bus === 'virtio') ? '1' : '',
    }, 'file');
    return post(vm, { [key]: value });
  }, {
    submitText: 'Add',
    setup: (m) => {
      for (const f of ['storage', 'size', 'format', 'bus', 'index']) {
        const spec = m.field(f);
        if (spec) spec.params = [f, ...diskParams];
      }
      storagesFor(vm.node, 'images').then((s) => m.setOptions('storage', s, s[0]?.value ?? '')).catch((e: Error) => m.setFieldError('storage', e.message));
    },
  });
}

/** Options of an existing disk (the volume and size stay). */
export async function editDisk(current: VmRef, key: string): Promise<void> {
  const vm = await freshVm(current);
  const props = parsePropertyString(vm.value(key) ?? '', 'file');
  return run(vm, `Edit: Hard Disk (${key})`, [
    { name: 'file', label: 'Disk image', type: 'display', value: props.file },
    { name: 'cache', label: 'Cache', type: 'select', options: [{ value: '', label: 'Default (No cache)' }, 'writeback', 'writethrough', 'directsync', 'unsafe', 'none'], value: props.cache ?? '' },
    { name: 'discard', label: 'Discard', type: 'checkbox', value: props.discard === 'on' },
    { name: 'iothread', label: 'IO thread', type: 'checkbox', value: props.iothread === '1' },
    { name: 'ssd', label: 'SSD emulation', type: 'checkbox', value: props.ssd === '1' },
    { name: 'backup', label: 'Backup', type: 'checkbox', value: props.backup !== '0' },
  ], (v) => put(vm, { [key]: formatPropertyString({
    ...props, cache: String(v.cache || ''), discard: v.discard ? 'on' : '', iothread: v.iothread ? '1' : '',
    ssd: v.ssd ? '1' : '', backup: v.backup ? '' : '0',
  }, 'file') }));
}

/** A CD/DVD drive: an ISO image, or none. `key` undefined: add one (ide2 if free). */
export async function editCdrom(current: VmRef, key?: string): Promise<void> {
  const vm = await freshVm(current);
  const props = key ? parsePropertyString(vm.value(key) ?? '', 'file') : {};
  const target = key ?? (vm.keys.includes('ide2') ? `ide${nextFree(vm.keys, 'ide')}` : 'ide2');
  return run(vm, key ? `Edit: CD/DVD Drive (${key})` : 'Add: CD/DVD Drive', [
    { name: 'iso', label: 'ISO image', type: 'select', options: [{ value: 'none', label: 'Do not use any media' }], value: props.file ?? 'none', params: [target] },
  ], (v) => put(vm, { [target]: `${v.iso},media=cdrom` }), {
    submitText: key ? 'OK' : 'Add',
    setup: (m) => isoImages(vm.node).then((isos) => m.setOptions('iso', [{ value: 'none', label: 'Do not use any media' }, ...isos], props.file ?? 'none')).catch(() => {}),
  });
}

export const NIC_MODELS = [
  { value: 'virtio', label: 'VirtIO (paravirtualized)' }, { value: 'e1000', label: 'Intel E1000' },
  { value: 'e1000e', label: 'Intel E1000E' }, { value: 'rtl8139', label: 'Realtek RTL8139' }, { value: 'vmxnet3', label: 'VMware vmxnet3' },
];

export async function editNetwork(ref: VmRef, key?: string): Promise<void> {
  const vm = await freshVm(ref);
  const current = key ? parsePropertyString(vm.value(key) ?? '') : {};
  const model = NIC_MODELS.find((m) => current[m.value] !== undefined)?.value ?? 'virtio';
  const target = key ?? `net${nextFree(vm.keys, 'net')}`;
  return run(vm, key ? `Edit: Network Device (${key})` : 'Add: Network Device', [
    { name: 'bridge', label: 'Bridge', required: true, value: current.bridge ?? 'vmbr0', params: [target] },
    { name: 'model', label: 'Model', type: 'select', options: NIC_MODELS, value: model },
    { name: 'macaddr', label: 'MAC address', value: key ? current[model] ?? '' : '', placeholder: 'auto' },
    { name: 'firewall', label: 'Firewall', type: 'checkbox', value: key ? current.firewall === '1' : true },
    { name: 'link_down', label: 'Disconnect', type: 'checkbox', value: current.link_down === '1' },
  ], (v) => {
    const value = [v.macaddr ? `${v.model}=${v.macaddr}` : String(v.model), `bridge=${v.bridge}`];
    if (v.firewall) value.push('firewall=1');
    if (v.link_down) value.push('link_down=1');
    return put(vm, { [target]: value.join(',') });
  }, { submitText: key ? 'OK' : 'Add' });
}

export async function addSerial(current: VmRef): Promise<void> {
  const vm = await freshVm(current);
  const free = [0, 1, 2, 3].filter((i) => !vm.keys.includes(`serial${i}`)).map(String);
  return run(vm, 'Add: Serial Port', [
    { name: 'index', label: 'Serial Port', type: 'select', options: free, value: free[0] ?? '0' },
  ], (v) => put(vm, { [`serial${v.index}`]: 'socket' }), { submitText: 'Add' });
}

export async function resizeDisk(current: VmRef, key: string): Promise<void> {
  const vm = await freshVm(current);
  return run(vm, `Resize disk ${key}`, [
    { name: 'disk', label: 'Disk', type: 'display', value: key },
    { name: 'size', label: 'Size Increment (GiB)', type: 'number', min: 0, required: true, value: '1' },
  ], async (v) => {
    const upid = await api.put<string | null>(apiPath('nodes', vm.node, 'qemu', String(vm.vmid), 'resize'), { disk: key, size: `+${v.size}G`, digest: vm.digest });
    return typeof upid === 'string' ? upid : null;
  }, { submitText: 'Resize disk' });
}

export async function moveDisk(current: VmRef, key: string): Promise<void> {
  const vm = await freshVm(current);
  return run(vm, `Move disk ${key}`, [
    { name: 'disk', label: 'Disk', type: 'display', value: key },
    { name: 'storage', label: 'Target Storage', type: 'select', required: true, options: [] },
    { name: 'format', label: 'Format', type: 'select', options: [{ value: '', label: 'Same as source' }, 'qcow2', 'raw', 'vmdk'], value: '' },
    { name: 'delete', label: 'Delete source', type: 'checkbox' },
  ], async (v) => api.post<string>(apiPath('nodes', vm.node, 'qemu', String(vm.vmid), 'move_disk'), {
    disk: key, storage: String(v.storage), format: v.format ? String(v.format) : undefined, delete: Boolean(v.delete), digest: vm.digest,
  }), {
    submitText: 'Move disk',
    setup: (m) => storagesFor(vm.node, 'images').then((s) => m.setOptions('storage', s)).catch((e: Error) => m.setFieldError('storage', e.message)),
  });
}

/** What Edit does for a key (null: not editable here). */
export function editorFor(vm: VmRef, e: PendingEntry): (() => Promise<void>) | null {
  const k = e.key;
  if (k === 'memory' || k === 'balloon') return () => editMemory(vm);
  if (k === 'sockets' || k === 'cores' || k === 'cpu') return () => editProcessors(vm);
  if (k === 'bios' || k === 'machine' || k === 'scsihw') return () => editSelect(vm, k);
  if (/^net\d+$/.test(k)) return () => editNetwork(vm, k);
  if (/^(ide|sata|scsi|virtio)\d+$/.test(k)) {
    return isCdrom(String(e.pending ?? e.value ?? '')) ? () => editCdrom(vm, k) : () => editDisk(vm, k);
  }
  return null;
}
