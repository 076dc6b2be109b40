// The request parameters of Backup now (POST /nodes/{node}/vzdump) and restore (POST
// /nodes/{node}/qemu with archive=, /nodes/{node}/lxc with restore=1 and ostemplate=).

import { apiPath, type Params } from '../../lib/api';

export const BACKUP_MODES = [
  { value: 'snapshot', label: 'Snapshot' },
  { value: 'suspend', label: 'Suspend' },
  { value: 'stop', label: 'Stop' },
];
export const COMPRESSIONS = [
  { value: 'zstd', label: 'ZSTD (fast and good)' },
  { value: 'gzip', label: 'GZIP (good)' },
  { value: 'lzo', label: 'LZO (fast)' },
  { value: '0', label: 'none' },
];

/** The vzdump parameters of the Backup now dialog. */
export function vzdumpParams(vmid: number | string, v: Record<string, unknown>): Params {
  return {
    vmid: String(vmid),
    storage: String(v.storage),
    mode: String(v.mode),
    compress: String(v.compress),
    'notes-template': v.notes ? String(v.notes) : undefined,
    protected: v.protected ? 1 : undefined,
    remove: 0,
  };
}

/** The guest type a backup archive holds (vzdump-qemu-... or vzdump-lxc-...). */
export function backupGuestType(volid: string): 'qemu' | 'lxc' {
  return /vzdump-lxc-/.test(volid) ? 'lxc' : 'qemu';
}

/** The restore request: POST /nodes/{node}/qemu with archive=, or /nodes/{node}/lxc with restore=1. */
export function restoreRequest(node: string, volid: string, v: Record<string, unknown>): { path: string; params: Params } {
  const type = backupGuestType(volid);
  const params: Params = {
    vmid: String(v.vmid),
    storage: v.storage ? String(v.storage) : undefined,
    unique: v.unique ? 1 : undefined,
    start: v.start ? 1 : undefined,
    force: v.force ? 1 : undefined,
  };
  if (type === 'qemu') params.archive = volid;
  else {
    params.ostemplate = volid;
    params.restore = 1;
  }
  return { path: apiPath('nodes', node, type), params };
}

/** The retention options of `prune-backups` (Proxmox's keep-* keys). */
export const KEEP_OPTIONS = [
  { name: 'keep-last', label: 'Keep last' },
  { name: 'keep-hourly', label: 'Keep hourly' },
  { name: 'keep-daily', label: 'Keep daily' },
  { name: 'keep-weekly', label: 'Keep weekly' },
  { name: 'keep-monthly', label: 'Keep monthly' },
  { name: 'keep-yearly', label: 'Keep yearly' },
];

/** `prune-backups` from keep-* values ('keep-last=3,keep-daily=7'); undefined when none is set. */
export function pruneBackupsString(values: Record<string, unknown>): string | undefined {
  const parts = KEEP_OPTIONS
    .map((k) => [k.name, String(values[k.name] ?? '').trim()])
    .filter(([, v]) => /^\d+$/.test(v))
    .map(([k, v]) => `${k}=${Number(v)}`);
  return parts.length ? parts.join(',') : undefined;
}
