// Dialogs of VMs and CTs that start tasks: clone, convert to template, backup now and restore,
// with Proxmox's parameters (POST .../clone, .../template, /nodes/{node}/vzdump,
// /nodes/{node}/qemu with archive=, /nodes/{node}/lxc with restore=1 and ostemplate=).

import { api, apiPath, type Params } from '../../lib/api';
import { resources } from '../../lib/resources';
import { confirmDialog, openFormDialog, runAction } from '../../components/Dialog';
import type { FieldSpec } from '../../components/form-model';
import type { ViewContext } from '../context';
import { storagesFor } from '../qemu/storages';
import { guestNode, guestPath, guestType, guestWord } from './guest';
import { BACKUP_MODES, COMPRESSIONS, backupGuestType, restoreRequest, vzdumpParams } from './backup-params';

const SAME_STORAGE = { value: '', label: 'Same as source' };

function nextId(set: (id: string) => void): void {
  api.get<number | string>('/cluster/nextid').then((id) => set(String(id))).catch(() => {});
}

/** Clone a VM or CT: full or linked (linked only from a template), target storage and format. */
export async function cloneGuest(ctx: ViewContext): Promise<void> {
  const node = guestNode(ctx);
  const isVm = guestType(ctx) === 'qemu';
  const template = Boolean(Number(ctx.resource?.template ?? 0));
  const fields: FieldSpec[] = [
    { name: 'target', label: 'Target node', type: 'display', value: node },
    { name: 'newid', label: isVm ? 'VM ID' : 'CT ID', type: 'number', required: true, min: 100, max: 999999999 },
    { name: isVm ? 'name' : 'hostname', label: isVm ? 'Name' : 'Hostname', placeholder: isVm ? 'e.g. web2' : 'e.g. ct2' },
    { name: 'full', label: 'Mode', type: 'select', value: template ? '0' : '1', disabled: !template,
      options: [{ value: '1', label: 'Full Clone' }, { value: '0', label: 'Linked Clone' }],
      help: template ? undefined : 'Only templates can be cloned as linked clones.',
      onChange: (v, m) => {
        m.show('storage', v === '1');
        m.show('format', isVm && v === '1');
      } },
    { name: 'storage', label: 'Target Storage', type: 'select', options: [SAME_STORAGE], value: '', hidden: template },
    ...(isVm ? [{ name: 'format', label: 'Format', type: 'select' as const, options: [{ value: '', label: 'Same as source' }, 'qcow2', 'raw', 'vmdk'], value: '', hidden: template }] : []),
  ];
  const done = await openFormDialog({
    title: `Clone ${guestWord(ctx)} ${ctx.vmid}`,
    submitText: 'Clone',
    fields,
    setup: (form) => {
      nextId((id) => form.set('newid', id));
      storagesFor(node, isVm ? 'images' : 'rootdir').then((s) => form.setOptions('storage', [SAME_STORAGE, ...s], '')).catch(() => {});
    },
    onSubmit: async (v) => {
      const full = v.full === '1';
      const params: Params = {
        newid: String(v.newid),
        full: full ? 1 : 0,
        storage: full && v.storage ? String(v.storage) : undefined,
        format: full && v.format ? String(v.format) : undefined,
      };
      if (isVm) params.name = v.name ? String(v.name) : undefined;
      else params.hostname = v.hostname ? String(v.hostname) : undefined;
      const upid = await api.post<string>(guestPath(ctx, node, 'clone'), params);
      return { upid, newid: String(v.newid) };
    },
  });
  if (done && typeof done === 'object') {
    ctx.taskStarted(done.upid);
    resources.refresh();
  }
}

/** Convert a stopped VM or CT into a template (POST .../template). */
export async function convertToTemplate(ctx: ViewContext): Promise<void> {
  const node = guestNode(ctx);
  if (!await confirmDialog({ title: 'Confirm', message: `Convert ${guestWord(ctx)} ${ctx.vmid} into a template? This cannot be undone.`, confirmText: 'Convert' })) return;
  const res = await runAction(() => api.post<string | null>(guestPath(ctx, node, 'template')), 'Cannot convert to template');
  if (typeof res === 'string' && res.startsWith('UPID:')) ctx.taskStarted(res);
  resources.refresh();
  ctx.refreshResources();
}

/** Backup now: POST /nodes/{node}/vzdump for this guest; `after` gets the task's UPID. */
export async function backupNow(ctx: ViewContext, after?: (upid?: string) => void): Promise<void> {
  const node = guestNode(ctx);
  const upid = await openFormDialog({
    title: `Backup ${guestWord(ctx)} ${ctx.vmid}`,
    submitText: 'Backup',
    fields: [
      { name: 'storage', label: 'Storage', type: 'select', required: true, options: [] },
      { name: 'mode', label: 'Mode', type: 'select', options: BACKUP_MODES, value: 'snapshot' },
      { name: 'compress', label: 'Compression', type: 'select', options: COMPRESSIONS, value: 'zstd' },
      { name: 'protected', label: 'Protected', type: 'checkbox' },
      { name: 'notes', label: 'Notes', type: 'textarea', rows: 3, value: '{{guestname}}', params: ['notes-template'],
        help: 'Variables: {{cluster}}, {{guestname}}, {{node}}, {{vmid}}' },
    ],
    setup: (form) => {
      storagesFor(node, 'backup').then((s) => form.setOptions('storage', s, s[0]?.value ?? ''))
        .catch((e: Error) => form.setFieldError('storage', e.message));
    },
    onSubmit: (v) => api.post<string>(apiPath('nodes', node, 'vzdump'), vzdumpParams(String(ctx.vmid), v)),
  });
  if (typeof upid === 'string') ctx.taskStarted(upid);
  after?.(typeof upid === 'string' ? upid : undefined);
}

/** Restore a backup archive, over its guest (`vmid`, force) or as a new one. */
export async function restoreBackup(node: string, volid: string, { vmid, taskStarted }: { vmid?: number; taskStarted: (upid: string) => void }): Promise<void> {
  const type = backupGuestType(volid);
  const word = type === 'qemu' ? 'VM' : 'CT';
  // Restoring over a guest that exists needs force=1, and the user's say-so.
  const existing = vmid !== undefined && resources.state().list.some((r) => Number(r.vmid) === Number(vmid)) ? vmid : undefined;
  const upid = await openFormDialog({
    title: `Restore: ${word}`,
    submitText: 'Restore',
    intro: `Source: ${volid}`,
    fields: [
      { name: 'storage', label: 'Storage', type: 'select', options: [{ value: '', label: 'From backup configuration' }], value: '' },
      { name: 'vmid', label: `${word} ID`, type: 'number', required: true, min: 100, value: vmid ?? '',
        onChange: (value, m) => m.show('force', existing !== undefined && String(value) === String(existing)) },
      { name: 'force', label: `Overwrite ${word} ${existing ?? ''} (its current disks are lost)`, type: 'checkbox', hidden: existing === undefined,
        validate: (v, all) => (existing !== undefined && String(all.vmid) === String(existing) && !v ? 'The guest exists: tick to overwrite it, or choose another ID.' : null) },
      { name: 'unique', label: 'Unique (new MAC addresses)', type: 'checkbox' },
      { name: 'start', label: 'Start after restore', type: 'checkbox' },
    ],
    setup: (form) => {
      if (!vmid) nextId((id) => form.set('vmid', id));
      storagesFor(node, type === 'qemu' ? 'images' : 'rootdir')
        .then((s) => form.setOptions('storage', [{ value: '', label: 'From backup configuration' }, ...s], '')).catch(() => {});
    },
    onSubmit: (v) => {
      const { path, params } = restoreRequest(node, volid, v);
      return api.post<string>(path, params);
    },
  });
  if (typeof upid === 'string') {
    taskStarted(upid);
    resources.refresh();
  }
}
