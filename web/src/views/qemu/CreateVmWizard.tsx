// The Create VM wizard (General, OS, System, Disks, CPU, Memory, Network, Confirm) in one
// window; Finish sends POST /nodes/{node}/qemu with Proxmox's parameters. The API's
// per-parameter errors show next to their fields, on the step that has them.

import { useEffect, useRef, useState, useSyncExternalStore, type JSX } from 'react';
import { ApiError, api, apiPath, type Params } from '../../lib/api';
import { OSTYPES } from '../../lib/qemu';
import { resources } from '../../lib/resources';
import { navigate } from '../../lib/router';
import { openWindow } from '../../components/Dialog';
import { FormView } from '../../components/Form';
import { FormModel, type FieldValue } from '../../components/form-model';
import { CPU_TYPES, NIC_MODELS } from './hardwareDialogs';
import { isoImages, storagesFor } from './storages';

const DISK_PARAMS = ['scsi0', 'virtio0', 'sata0', 'ide0'];

const STEPS: { id: string; title: string; fields: string[] }[] = [
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

function Wizard({ node, close }: { node: string; close: (upid: string | null, vmid?: string) => void }): JSX.Element {
  const form = useRef(model(node)).current;
  useSyncExternalStore(form.subscribe, form.snapshot);
  const [step, setStep] = useState(0);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.get<number | string>('/cluster/nextid').then((id) => { if (!form.get('vmid')) form.set('vmid', String(id)); }).catch(() => {});
    storagesFor(node, 'images').then((s) => form.setOptions('storage', s, s[0]?.value ?? '')).catch((e: Error) => form.setFieldError('storage', e.message));
    isoImages(node).then((isos) => form.setOptions('iso', [{ value: 'none', label: 'Do not use any media' }, ...isos])).catch(() => {});
    setTimeout(() => form.focus('vmid'), 0);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const goto = (i: number): void => {
    // Forward only past valid steps.
    for (let s = step; s < i; s += 1) {
      if (!form.validate(STEPS[s].fields)) {
        setStep(s);
        return;
      }
    }
    setStep(i);
  };
  const finish = async (): Promise<void> => {
    for (let s = 0; s < STEPS.length; s += 1) {
      if (!form.validate(STEPS[s].fields)) {
        setStep(s);
        return;
      }
    }
    setBusy(true);
    try {
      const v = form.getValues();
      const upid = await api.post<string>(apiPath('nodes', node, 'qemu'), createParams(v));
      close(upid, String(v.vmid));
    } catch (err) {
      setBusy(false);
      const e = err as ApiError;
      if (e.status === 401) {
        form.setMessage('Your session has expired: log in again, then press Finish again.');
        return;
      }
      form.showError(e);
      const bad = STEPS.findIndex((s) => s.fields.some((f) => form.errors[f]));
      if (bad >= 0) setStep(bad);
    }
  };

  const v = form.getValues();
  const confirm = step === STEPS.length - 1 ? Object.entries(createParams(v)).filter(([k, x]) => x !== undefined && k !== 'start') : [];
  return (
    <>
      <div className="window-body wizard">
        <div className="wizard-steps" role="tablist" aria-label="Steps">
          {STEPS.map((s, i) => (
            <button key={s.id} type="button" role="tab" className="tab" aria-selected={i === step} data-step={s.id}
              onClick={() => (i < step ? setStep(i) : goto(i))}>
              {s.title}{STEPS[i].fields.some((f) => form.errors[f]) ? ' ⚠' : ''}
            </button>
          ))}
        </div>
        {form.message ? <div className="form-message" role="alert">{form.message}</div> : null}
        <form className="dialog-form" noValidate onSubmit={(e) => { e.preventDefault(); if (step < STEPS.length - 1) goto(step + 1); else void finish(); }}>
          <FormView model={form} only={STEPS[step].fields} message={false} />
          {confirm.length ? (
            <table className="kv-table wizard-summary" aria-label="Settings">
              <tbody>{confirm.map(([k, x]) => <tr key={k}><th scope="row">{k}</th><td data-key={k}>{String(x)}</td></tr>)}</tbody>
            </table>
          ) : null}
          <button type="submit" hidden />
        </form>
      </div>
      <div className="window-buttons">
        <button type="button" className="btn" onClick={() => close(null)} disabled={busy}>Cancel</button>
        <span className="spacer" />
        <button type="button" className="btn" disabled={step === 0 || busy} onClick={() => setStep(step - 1)}>Back</button>
        {step < STEPS.length - 1
          ? <button type="button" className="btn primary" onClick={() => goto(step + 1)}>Next</button>
          : <button type="button" className="btn primary" disabled={busy} onClick={() => void finish()}>Finish</button>}
      </div>
    </>
  );
}

/** Open the wizard for `node`; on success the new VM is selected and its task log shown. */
export function openCreateVm(node: string, taskStarted: (upid: string) => void): void {
  const win = openWindow({ title: 'Create: Virtual Machine', width: 760, className: 'create-vm' }, () => (
    <Wizard node={node} close={(upid, vmid) => {
      win.close();
      if (upid) {
        taskStarted(upid);
        resources.refresh();
        if (vmid) navigate(`qemu/${vmid}`);
      }
    }} />
  ));
}
