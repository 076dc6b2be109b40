// The Create VM wizard (General, OS, System, Disks, CPU, Memory, Network, Confirm) in one
// window; Finish sends POST /nodes/{node}/qemu with Proxmox's parameters. The API's
// per-parameter errors show next to their fields, on the step that has them.

import { api, apiPath, type Params } from '../../lib/api';
import { OSTYPES } from '../../lib/qemu';
import { resources } from '../../lib/resources';
import { navigate } from '../../lib/router';
import { FormModel, type FieldValue } from '../../components/form-model';
import { openWizard, type WizardStep } from '../../components/Wizard';
import { CPU_TYPES, NIC_MODELS } from './hardwareDialogs';
import { isoImages, storagesFor } from './storages';

const DISK_PARAMS = ['scsi0', 'virtio0', 'sata0', 'ide0'];

const STEPS: WizardStep[] = [
  { id: 'general', title: 'General', fields: ['node', 'vmid', 'name', 'onboot'] },
  { id: 'os', title: 'OS', fields: ['iso', 'ostype'] },
  { id: 'system', title: 'System', fields: ['bios', 'machine', 'scsihw', 'agent'] },
  { id: 'disks', title: 'Disks', fields: ['bus', 'storage', 'size', 'format', 'iothread'] },
  { id: 'cpu', title: 'CPU', fields: ['sockets', 'cores', 'cputype'] },
  { id: 'memory', title: 'Memory', fields: ['memory'] },
  { id: 'network', title: 'Network', fields: ['nonet', 'bridge', 'model', 'firewall'] },
  { id: 'confirm', title: 'Confirm', fields: ['start'] },
];

function model(node: string): FormModel {
  return new FormModel([
    { name: 'node', label: 'Node', type: 'display', value: node },
    { name: 'vmid', label: 'VM ID', type: 'number', required: true, min: 100, max: 999999999 },
    { name: 'name', label: 'Name', placeholder: 'e.g. web1' },
    { name: 'onboot', label: 'Start at boot', type: 'checkbox' },
    { name: 'iso', label: 'ISO image', type: 'select', options: [{ value: 'none', label: 'Do not use any media' }], value: 'none', params: ['ide2'] },
    { name: 'ostype', label: 'Guest OS', type: 'select', options: OSTYPES, value: 'l26' },
    { name: 'bios', label: 'BIOS', type: 'select', options: [{ value: 'seabios', label: 'Default (SeaBIOS)' }, { value: 'ovmf', label: 'OVMF (UEFI)' }], value: 'seabios' },
    { name: 'machine', label: 'Machine', type: 'select', options: [{ value: '', label: 'Default (i440fx)' }, { value: 'q35', label: 'q35' }], value: '' },
    { name: 'scsihw', label: 'SCSI Controller', type: 'select', options: ['virtio-scsi-single', 'virtio-scsi-pci', 'lsi', 'megasas', 'pvscsi'], value: 'virtio-scsi-single' },
    { name: 'agent', label: 'QEMU Agent', type: 'checkbox' },
    { name: 'bus', label: 'Bus/Device', type: 'select', options: [{ value: 'scsi', label: 'SCSI' }, { value: 'virtio', label: 'VirtIO Block' }, { value: 'sata', label: 'SATA' }, { value: 'ide', label: 'IDE' }], value: 'scsi', params: DISK_PARAMS },
    { name: 'storage', label: 'Storage', type: 'select', required: true, options: [], params: DISK_PARAMS },
    { name: 'size', label: 'Disk size (GiB)', type: 'number', required: true, min: 0.001, value: '8', params: DISK_PARAMS },
    { name: 'format', label: 'Format', type: 'select', options: ['qcow2', 'raw', 'vmdk'], value: 'qcow2', params: DISK_PARAMS },
    { name: 'iothread', label: 'IO thread', type: 'checkbox', value: true },
    { name: 'sockets', label: 'Sockets', type: 'number', required: true, min: 1, max: 4, value: '1' },
    { name: 'cores', label: 'Cores', type: 'number', required: true, min: 1, max: 128, value: '1' },
    { name: 'cputype', label: 'Type', type: 'select', options: [{ value: '', label: 'Default (the engine\'s: kvm64, or what TCG emulates)' }, ...CPU_TYPES], value: '', params: ['cpu'] },
    { name: 'memory', label: 'Memory (MiB)', type: 'number', required: true, min: 16, value: '512' },
    { name: 'nonet', label: 'No network device', type: 'checkbox',
      onChange: (v, m) => { for (const f of ['bridge', 'model', 'firewall']) m.show(f, !v); } },
    { name: 'bridge', label: 'Bridge', required: true, value: 'vmbr0', params: ['net0'] },
    { name: 'model', label: 'Model', type: 'select', options: NIC_MODELS, value: 'virtio', params: ['net0'] },
    { name: 'firewall', label: 'Firewall', type: 'checkbox', value: true },
    { name: 'start', label: 'Start after created', type: 'checkbox' },
  ]);
}

/** The POST parameters of the wizard's values. */
export function createParams(v: Record<string, FieldValue>): Params {
  const disk = `${v.storage}:${v.size},format=${v.format}${v.iothread && (v.bus === 'scsi' || v.bus === 'virtio') ? ',iothread=1' : ''}`;
  const params: Params = {
    vmid: String(v.vmid),
    name: v.name ? String(v.name) : undefined,
    onboot: v.onboot ? 1 : undefined,
    ostype: String(v.ostype),
    ide2: `${v.iso},media=cdrom`,
    bios: v.bios === 'seabios' ? undefined : String(v.bios),
    machine: v.machine ? String(v.machine) : undefined,
    scsihw: String(v.scsihw),
    agent: v.agent ? '1' : undefined,
    [`${v.bus}0`]: disk,
    sockets: String(v.sockets),
    cores: String(v.cores),
    cpu: v.cputype ? String(v.cputype) : undefined,
    memory: String(v.memory),
    net0: v.nonet ? undefined : `${v.model},bridge=${v.bridge}${v.firewall ? ',firewall=1' : ''}`,
    boot: `order=${v.bus}0;ide2${v.nonet ? '' : ';net0'}`,
    start: v.start ? 1 : undefined,
  };
  return params;
}

/** Open the wizard for `node`; on success the new VM is selected and its task log shown. */
export function openCreateVm(node: string, taskStarted: (upid: string) => void): void {
  openWizard({
    title: 'Create: Virtual Machine',
    className: 'create-vm',
    steps: STEPS,
    model: () => model(node),
    firstField: 'vmid',
    setup: (form) => {
      api.get<number | string>('/cluster/nextid').then((id) => { if (!form.get('vmid')) form.set('vmid', String(id)); }).catch(() => {});
      storagesFor(node, 'images').then((s) => form.setOptions('storage', s, s[0]?.value ?? '')).catch((e: Error) => form.setFieldError('storage', e.message));
      isoImages(node).then((isos) => form.setOptions('iso', [{ value: 'none', label: 'Do not use any media' }, ...isos])).catch(() => {});
    },
    params: createParams,
    submit: (v) => api.post<string>(apiPath('nodes', node, 'qemu'), createParams(v)),
    done: (upid, v) => {
      taskStarted(upid);
      resources.refresh();
      navigate(`qemu/${v.vmid}`);
    },
  });
}
