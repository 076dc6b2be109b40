// The Create CT wizard (General, Template, Disks, CPU, Memory, Network, DNS, Confirm); Finish
// sends POST /nodes/{node}/lxc with Proxmox's parameters.

import { api, apiPath } from '../../lib/api';
import { resources } from '../../lib/resources';
import { navigate } from '../../lib/router';
import { FormModel } from '../../components/form-model';
import { openWizard, type WizardStep } from '../../components/Wizard';
import { storagesFor, volumesOf } from '../qemu/storages';
import { createCtParams } from './ct-params';

const STEPS: WizardStep[] = [
  { id: 'general', title: 'General', fields: ['node', 'vmid', 'hostname', 'unprivileged', 'password', 'confirmpw', 'ssh-public-keys'] },
  { id: 'template', title: 'Template', fields: ['ostemplate'] },
  { id: 'disks', title: 'Disks', fields: ['storage', 'disksize'] },
  { id: 'cpu', title: 'CPU', fields: ['cores'] },
  { id: 'memory', title: 'Memory', fields: ['memory', 'swap'] },
  { id: 'network', title: 'Network', fields: ['nonet', 'netname', 'bridge', 'ipmode', 'ip', 'gw', 'firewall'] },
  { id: 'dns', title: 'DNS', fields: ['searchdomain', 'nameserver'] },
  { id: 'confirm', title: 'Confirm', fields: ['start'] },
];

const NET_FIELDS = ['netname', 'bridge', 'ipmode', 'ip', 'gw', 'firewall'];

function model(node: string): FormModel {
  return new FormModel([
    { name: 'node', label: 'Node', type: 'display', value: node },
    { name: 'vmid', label: 'CT ID', type: 'number', required: true, min: 100, max: 999999999 },
    { name: 'hostname', label: 'Hostname', placeholder: 'e.g. ct1',
      validate: (v) => (!v || /^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/.test(String(v)) ? null : 'Letters, digits, dots and dashes.') },
    { name: 'unprivileged', label: 'Unprivileged container', type: 'checkbox', value: true },
    { name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password',
      validate: (v, all) => (!v && !all['ssh-public-keys'] ? 'Set a password or an SSH key.' : v && String(v).length < 5 ? 'At least 5 characters.' : null) },
    { name: 'confirmpw', label: 'Confirm password', type: 'password', params: [],
      validate: (v, all) => (String(v) === String(all.password) ? null : 'The passwords differ.') },
    { name: 'ssh-public-keys', label: 'SSH public key', type: 'textarea', rows: 2, placeholder: 'ssh-ed25519 AAAA... user@host' },
    { name: 'ostemplate', label: 'Template', type: 'select', required: true, options: [], emptyText: 'no templates: upload one to a storage with vztmpl content' },
    { name: 'storage', label: 'Storage', type: 'select', required: true, options: [], params: ['rootfs'] },
    { name: 'disksize', label: 'Disk size (GiB)', type: 'number', required: true, min: 0.001, value: '8', params: ['rootfs'] },
    { name: 'cores', label: 'Cores', type: 'number', required: true, min: 1, max: 128, value: '1' },
    { name: 'memory', label: 'Memory (MiB)', type: 'number', required: true, min: 16, value: '512' },
    { name: 'swap', label: 'Swap (MiB)', type: 'number', required: true, min: 0, value: '512' },
    { name: 'nonet', label: 'No network device', type: 'checkbox',
      onChange: (v, m) => {
        for (const f of NET_FIELDS) m.show(f, !v);
        if (!v) showStatic(m);
      } },
    { name: 'netname', label: 'Name', required: true, value: 'eth0', params: ['net0'] },
    { name: 'bridge', label: 'Bridge', required: true, value: 'vmbr0', params: ['net0'] },
    { name: 'ipmode', label: 'IPv4', type: 'select', options: [{ value: 'dhcp', label: 'DHCP' }, { value: 'static', label: 'Static' }, { value: 'manual', label: 'None (manual)' }],
      value: 'dhcp', params: ['net0'], onChange: (_v, m) => showStatic(m) },
    { name: 'ip', label: 'IPv4/CIDR', required: true, placeholder: '192.168.1.10/24', hidden: true, params: ['net0'],
      validate: (v) => (/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(String(v)) ? null : 'An address with its prefix length, like 192.168.1.10/24.') },
    { name: 'gw', label: 'Gateway (IPv4)', hidden: true, params: ['net0'] },
    { name: 'firewall', label: 'Firewall', type: 'checkbox', value: true },
    { name: 'searchdomain', label: 'DNS domain', placeholder: 'use host settings' },
    { name: 'nameserver', label: 'DNS servers', placeholder: 'use host settings' },
    { name: 'start', label: 'Start after created', type: 'checkbox' },
  ]);
}

function showStatic(m: FormModel): void {
  const on = !m.get('nonet') && m.get('ipmode') === 'static';
  m.show('ip', on);
  m.show('gw', on);
}

/** Open the wizard for `node`; on success the new CT is selected and its task log shown. */
export function openCreateCt(node: string, taskStarted: (upid: string) => void): void {
  openWizard({
    title: 'Create: LXC Container',
    className: 'create-ct',
    steps: STEPS,
    model: () => model(node),
    firstField: 'vmid',
    setup: (form) => {
      api.get<number | string>('/cluster/nextid').then((id) => { if (!form.get('vmid')) form.set('vmid', String(id)); }).catch(() => {});
      storagesFor(node, 'rootdir').then((s) => form.setOptions('storage', s, s[0]?.value ?? '')).catch((e: Error) => form.setFieldError('storage', e.message));
      volumesOf(node, 'vztmpl').then((t) => form.setOptions('ostemplate', t, t[0]?.value ?? '')).catch((e: Error) => form.setFieldError('ostemplate', e.message));
    },
    params: createCtParams,
    submit: (v) => api.post<string>(apiPath('nodes', node, 'lxc'), createCtParams(v)),
    done: (upid, v) => {
      taskStarted(upid);
      resources.refresh();
      navigate(`lxc/${v.vmid}`);
    },
  });
}
