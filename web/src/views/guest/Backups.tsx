// VM/CT -> Backup: this guest's archives on every backup storage of its node
// (GET .../storage/{storage}/content?content=backup&vmid=), with notes, protection and the last
// verification; Backup now, Restore (over this guest), Edit notes/protection, Verify, the prune
// simulation and Remove.

import { useState, type JSX } from 'react';
import { api, apiPath } from '../../lib/api';
import { bytes, time } from '../../lib/format';
import { usePoll } from '../../lib/hooks';
import { confirmDialog, runAction } from '../../components/Dialog';
import { Grid, Toolbar, useSelection } from '../../components/Grid';
import { ErrorLine } from '../../components/widgets';
import type { ViewContext } from '../context';
import { storagesFor } from '../qemu/storages';
import { backupNow, restoreBackup } from './dialogs';
import { editBackupAttributes, showPruneSimulation, verifyBackup } from './backup-actions';
import { guestNode, guestType } from './guest';

export interface BackupEntry {
  volid: string;
  storage: string;
  ctime?: number;
  size?: number;
  format?: string;
  notes?: string;
  protected?: number;
  vmid?: number;
  verification?: { state: string; upid?: string };
}

/** The verification column: ok / failed, or nothing before the first verify. */
function verifyState(b: BackupEntry): JSX.Element | string {
  const state = b.verification?.state;
  if (!state) return '';
  return <span className={`verify-state verify-${state}`} data-verify={state}>{state === 'ok' ? '✔ ok' : `✖ ${state}`}</span>;
}

/** The backups of `vmid` on every backup storage of `node`. */
export async function guestBackups(node: string, vmid: number): Promise<BackupEntry[]> {
  const storages = await storagesFor(node, 'backup');
  const lists = await Promise.all(storages.map(async (s) => {
    const items = await api.get<BackupEntry[]>(apiPath('nodes', node, 'storage', s.value, 'content'), { content: 'backup', vmid });
    return items.filter((b) => b.vmid === undefined || Number(b.vmid) === vmid).map((b) => ({ ...b, storage: s.value }));
  }));
  return lists.flat().sort((a, b) => (b.ctime ?? 0) - (a.ctime ?? 0));
}

/** Resolves once the task `upid` has ended (polled every 2 s; gives up after 10 minutes). */
async function taskEnded(upid: string): Promise<void> {
  const node = upid.split(':')[1];
  for (let i = 0; i < 300; i += 1) {
    await new Promise((r) => setTimeout(r, 2000));
    const st = await api.get<{ status: string }>(apiPath('nodes', node, 'tasks', upid, 'status')).catch(() => null);
    if (st?.status === 'stopped') return;
  }
}

export function GuestBackups({ ctx }: { ctx: ViewContext }): JSX.Element {
  const node = guestNode(ctx);
  const vmid = Number(ctx.vmid);
  const [rows, setRows] = useState<BackupEntry[]>([]);
  const [error, setError] = useState<Error | null>(null);
  const reload = usePoll(async () => {
    if (!node) return;
    try {
      setRows(await guestBackups(node, vmid));
      setError(null);
    } catch (e) {
      setError(e as Error);
    }
  }, 10000, [node, vmid]);
  const [selected, setSelected, sel] = useSelection(rows, (b) => b.volid);
  // Tasks started here change the list when they end (a new backup, a verify state, a removal).
  const started = (upid: string | undefined): void => {
    reload();
    if (upid) void taskEnded(upid).then(reload);
  };

  const remove = async (b: BackupEntry): Promise<void> => {
    if (!await confirmDialog({ title: 'Remove backup', message: `Remove ${b.volid}?`, confirmText: 'Remove', danger: true })) return;
    const upid = await runAction(() => api.delete<string | null>(apiPath('nodes', node, 'storage', b.storage, 'content', b.volid)), 'Cannot remove backup');
    if (typeof upid === 'string' && upid.startsWith('UPID:')) {
      ctx.taskStarted(upid);
      started(upid);
    } else reload();
  };
  return (
    <div className="view grid-view guest-backups">
      <Toolbar items={[
        { text: 'Backup now', primary: true, onClick: () => void backupNow(ctx, started) },
        { text: 'Restore', enabled: Boolean(sel), onClick: () => sel && void restoreBackup(node, sel.volid, { vmid, taskStarted: ctx.taskStarted }) },
        { text: 'Edit', enabled: Boolean(sel), title: 'Notes and protection',
          onClick: () => sel && void editBackupAttributes(node, sel).then((saved) => saved && reload()) },
        { text: 'Verify', enabled: Boolean(sel), title: 'Read the archive back and check its checksums',
          onClick: () => sel && void verifyBackup(node, sel).then((upid) => {
            if (upid) ctx.taskStarted(upid);
            started(upid);
          }) },
        { text: 'Prune simulation', enabled: rows.length > 0, title: 'What a prune with the retention settings would keep or remove',
          onClick: () => showPruneSimulation(node, (sel ?? rows[0]).storage, vmid, guestType(ctx)) },
        { text: 'Remove', danger: true, enabled: Boolean(sel && !Number(sel.protected)),
          title: sel && Number(sel.protected) ? 'Protected backups cannot be removed' : undefined, onClick: () => sel && void remove(sel) },
      ]} />
      <ErrorLine error={error} />
      <Grid label="Backups" rows={rows} rowKey={(b) => b.volid} selected={selected} onSelect={setSelected} emptyText="No backups"
        columns={[
          { key: 'volid', title: 'Name', render: (b) => <span title={b.volid}>{b.volid.replace(/^[^:]+:(backup\/)?/, '')}</span> },
          { key: 'storage', title: 'Storage', width: '80px' },
          { key: 'notes', title: 'Notes', width: '110px', render: (b) => <span title={b.notes}>{b.notes}</span> },
          { key: 'protected', title: 'Protected', width: '94px', render: (b) => (Number(b.protected) ? 'yes' : '') },
          { key: 'verification', title: 'Verified', width: '76px', sortValue: (b) => b.verification?.state ?? '', render: verifyState },
          { key: 'ctime', title: 'Date', width: '160px', render: (b) => (b.ctime ? time(b.ctime) : '') },
          { key: 'size', title: 'Size', width: '72px', render: (b) => (b.size !== undefined ? bytes(b.size) : '') },
        ]} />
    </div>
  );
}
