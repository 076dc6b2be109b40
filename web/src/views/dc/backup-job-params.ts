// The request parameters of a backup job (POST /cluster/backup, PUT /cluster/backup/{id}) from
// the job window's values, and the window's values from a job as GET /cluster/backup lists it.

import type { Params } from '../../lib/api';
import { KEEP_OPTIONS, pruneBackupsString } from '../guest/backup-params';

/** How the job picks its guests: all, a list of VMIDs, or all but a list. */
export type Selection = 'all' | 'include' | 'exclude';

export interface BackupJob {
  id: string;
  schedule?: string;
  enabled?: number | boolean;
  node?: string;
  storage?: string;
  mode?: string;
  compress?: string;
  all?: number | boolean;
  vmid?: string;
  exclude?: string;
  comment?: string;
  'prune-backups'?: Record<string, number | string> | string;
  'next-run'?: number;
  [key: string]: unknown;
}

/** The job's keep-* values (prune-backups is listed as an object, or sent as a string). */
export function keepValues(pb: BackupJob['prune-backups']): Record<string, string> {
  const out: Record<string, string> = {};
  if (!pb) return out;
  const entries = typeof pb === 'string'
    ? pb.split(',').map((p) => p.split('=') as [string, string])
    : Object.entries(pb).map(([k, v]) => [k, String(v)] as [string, string]);
  for (const [k, v] of entries) if (KEEP_OPTIONS.some((o) => o.name === k)) out[k] = v;
  return out;
}

export function selectionOf(job: BackupJob): Selection {
  if (Number(job.all)) return job.exclude ? 'exclude' : 'all';
  return 'include';
}

/** The window's values for a job. */
export function jobFormValues(job: BackupJob): Record<string, string | boolean> {
  return {
    enabled: job.enabled === undefined ? true : Boolean(Number(job.enabled)),
    node: job.node ?? '',
    storage: job.storage ?? '',
    schedule: job.schedule ?? '',
    selection: selectionOf(job),
    vmids: String((selectionOf(job) === 'exclude' ? job.exclude : job.vmid) ?? ''),
    mode: job.mode ?? 'snapshot',
    compress: job.compress ?? 'zstd',
    comment: job.comment ?? '',
    ...keepValues(job['prune-backups']),
  };
}

/** A VMID list as vzdump takes it ('100,101'), from any separators. */
export function vmidList(text: unknown): string {
  return String(text ?? '').split(/[\s,;]+/).filter(Boolean).join(',');
}

/**
 * The parameters of create (no `id` given: the daemon makes one) or update (`editing`: the
 * cleared settings go into `delete`, as Proxmox's job window sends them).
 */
export function jobParams(v: Record<string, unknown>, editing: boolean): Params {
  const selection = String(v.selection || 'all') as Selection;
  const ids = vmidList(v.vmids);
  const prune = pruneBackupsString(v);
  const params: Params = {
    enabled: v.enabled ? 1 : 0,
    schedule: String(v.schedule ?? '').trim(),
    storage: String(v.storage ?? ''),
    mode: String(v.mode ?? 'snapshot'),
    compress: String(v.compress ?? 'zstd'),
    node: v.node ? String(v.node) : undefined,
    comment: v.comment ? String(v.comment) : undefined,
    all: selection === 'include' ? undefined : 1,
    vmid: selection === 'include' ? ids : undefined,
    exclude: selection === 'exclude' && ids ? ids : undefined,
    'prune-backups': prune,
  };
  if (editing) {
    const cleared = ['node', 'comment', 'all', 'vmid', 'exclude', 'prune-backups'].filter((k) => params[k] === undefined);
    if (cleared.length) params.delete = cleared.join(',');
  }
  return params;
}

/** Which guests the job backs up, in words. */
export function selectionText(job: BackupJob): string {
  switch (selectionOf(job)) {
    case 'all':
      return 'All';
    case 'exclude':
      return `All except ${job.exclude}`;
    default:
      return String(job.vmid ?? '');
  }
}
