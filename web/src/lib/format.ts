// Formatting of API values for display.

export function bytes(value: unknown, { binary = true }: { binary?: boolean } = {}): string {
  if (value === undefined || value === null || Number.isNaN(Number(value))) return '-';
  let n = Number(value);
  const base = binary ? 1024 : 1000;
  const units = binary ? ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] : ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (Math.abs(n) >= base && i < units.length - 1) {
    n /= base;
    i += 1;
  }
  return i === 0 ? `${n} ${units[0]}` : `${n.toFixed(2)} ${units[i]}`;
}

/** 0.1234 -> "12.34%" */
export function percent(fraction: unknown, digits = 2): string {
  if (fraction === undefined || fraction === null || !Number.isFinite(Number(fraction))) return '-';
  return `${(Number(fraction) * 100).toFixed(digits)}%`;
}

/** used/total as "12.34% (1.00 GiB of 8.00 GiB)" */
export function usage(used: number, total: number | undefined): string {
  if (!total) return '-';
  return `${percent(used / total)} (${bytes(used)} of ${bytes(total)})`;
}

/** Seconds as Proxmox shows uptimes: "3 days 04:05:06". */
export function duration(seconds: unknown): string {
  if (seconds === undefined || seconds === null) return '-';
  let s = Math.max(0, Math.floor(Number(seconds)));
  const days = Math.floor(s / 86400);
  s -= days * 86400;
  const hms = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60]
    .map((v) => String(v).padStart(2, '0')).join(':');
  if (days === 0) return hms;
  return `${days} day${days === 1 ? '' : 's'} ${hms}`;
}

/** Epoch seconds as local "YYYY-MM-DD HH:MM:SS". */
export function time(epoch: unknown): string {
  if (!epoch) return '';
  const d = new Date(Number(epoch) * 1000);
  const p = (v: number) => String(v).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Epoch seconds as a date for a date input ("YYYY-MM-DD"), '' for 0 (never). */
export function dateInput(epoch: unknown): string {
  if (!epoch || Number(epoch) === 0) return '';
  return time(epoch).slice(0, 10);
}

/** A date input's value as epoch seconds (end of that day, local time), 0 for empty. */
export function epochFromDateInput(value: string): number {
  if (!value) return 0;
  const [y, m, d] = value.split('-').map(Number);
  return Math.floor(new Date(y, m - 1, d, 23, 59, 59).getTime() / 1000);
}

/** UPID:node:pid:pstart:starttime:type:id:user: */
export interface Upid {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
}

export function parseUpid(upid: string | null | undefined): Upid | null {
  const m = /^UPID:([^:]+):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:]+):([^:]*):([^:]+):$/.exec(upid || '');
  if (!m) return null;
  return {
    upid: upid as string,
    node: m[1],
    pid: parseInt(m[2], 16),
    pstart: parseInt(m[3], 16),
    starttime: parseInt(m[4], 16),
    type: m[5],
    id: m[6],
    user: m[7],
  };
}

// Task types -> [object kind, action], as Proxmox's UI names them. Extend as engines land.
const TASK_TYPES: Record<string, [string, string]> = {
  qmcreate: ['VM', 'Create'], qmstart: ['VM', 'Start'], qmstop: ['VM', 'Stop'],
  qmshutdown: ['VM', 'Shutdown'], qmreboot: ['VM', 'Reboot'], qmreset: ['VM', 'Reset'],
  qmsuspend: ['VM', 'Hibernate'], qmpause: ['VM', 'Pause'], qmresume: ['VM', 'Resume'],
  qmdestroy: ['VM', 'Destroy'], qmclone: ['VM', 'Clone'], qmconfig: ['VM', 'Configure'],
  qmmigrate: ['VM', 'Migrate'], qmsnapshot: ['VM', 'Snapshot'], qmrollback: ['VM', 'Rollback'],
  qmdelsnapshot: ['VM', 'Delete Snapshot'], qmtemplate: ['VM', 'Convert to template'],
  qmmove: ['VM', 'Move disk'], qmresize: ['VM', 'Resize disk'], qmrestore: ['VM', 'Restore'],
  vncproxy: ['VM/CT', 'Console'], termproxy: ['VM/CT', 'Console (xterm.js)'],
  vzcreate: ['CT', 'Create'], vzstart: ['CT', 'Start'], vzstop: ['CT', 'Stop'],
  vzshutdown: ['CT', 'Shutdown'], vzreboot: ['CT', 'Reboot'], vzdestroy: ['CT', 'Destroy'],
  vzsuspend: ['CT', 'Suspend'], vzresume: ['CT', 'Resume'], vzmigrate: ['CT', 'Migrate'],
  vzsnapshot: ['CT', 'Snapshot'], vzrollback: ['CT', 'Rollback'], vzdelsnapshot: ['CT', 'Delete Snapshot'],
  vztemplate: ['CT', 'Convert to template'], vzrestore: ['CT', 'Restore'], vzclone: ['CT', 'Clone'],
  vzdump: ['VM/CT', 'Backup'], imgcopy: ['', 'Copy data'], imgdel: ['', 'Erase data'],
  download: ['', 'File download'], aptupdate: ['', 'Update package database'],
  startall: ['', 'Bulk start VMs and Containers'], stopall: ['', 'Bulk shutdown VMs and Containers'],
  srvreload: ['SRV', 'Reload'], srvrestart: ['SRV', 'Restart'],
  resize: ['VM/CT', 'Resize disk'], move: ['VM', 'Move disk'],
  testsleep: ['', 'Test sleep'],
  verify: ['VM/CT', 'Verify backup'], prunebackups: ['', 'Prune Backups'],
};

export function taskDescription(type: string, id?: string): string {
  const known = TASK_TYPES[type];
  if (!known) return id ? `${type} ${id}` : type;
  const [kind, action] = known;
  if (kind && id) return `${kind} ${id} - ${action}`;
  if (id) return `${action} ${id}`;
  return action;
}

/**
 * The state of a task from a list entry or /status: 'running' | 'ok' | 'warning' | 'error',
 * and the text to show.
 */
export interface TaskLike {
  status?: string;
  exitstatus?: string;
  endtime?: number;
}

export type TaskStateName = 'running' | 'ok' | 'warning' | 'error';

export function taskState(task: TaskLike): { state: TaskStateName; text: string } {
  const running = task.status === 'running' || task.status === 'RUNNING' ||
    (!task.endtime && !task.exitstatus && (task.status === undefined || task.status === ''));
  if (running) return { state: 'running', text: 'running' };
  const status = task.exitstatus ?? task.status ?? '';
  if (status === 'OK') return { state: 'ok', text: 'OK' };
  if (/^WARNINGS: /.test(status)) return { state: 'warning', text: status };
  if (status === 'stopped' && !task.exitstatus) return { state: 'ok', text: 'stopped' };
  return { state: 'error', text: status ? `Error: ${status}` : 'Error' };
}
