// What can be done to one backup archive besides restoring it: edit its notes and protection
// (PUT .../content/{volume}), verify it (oxve's POST .../content/{volume}/verify task), and see
// what a prune would keep or remove (GET .../storage/{storage}/prunebackups, a dry run).

import { useEffect, useState, type JSX } from 'react';
import { api, apiPath } from '../../lib/api';
import { time } from '../../lib/format';
import { openFormDialog, openWindow, runAction, WindowButtons } from '../../components/Dialog';
import { Grid } from '../../components/Grid';
import { ErrorLine } from '../../components/widgets';
import { KEEP_OPTIONS, pruneBackupsString } from './backup-params';

export interface BackupRef {
  volid: string;
  storage: string;
  notes?: string;
  protected?: number | boolean;
}

function contentPath(node: string, b: BackupRef, ...rest: string[]): string {
  return apiPath('nodes', node, 'storage', b.storage, 'content', b.volid, ...rest);
}

/** Edit the notes and the protected flag of a backup. Resolves true when saved. */
export async function editBackupAttributes(node: string, b: BackupRef): Promise<boolean> {
  const done = await openFormDialog({
    title: 'Edit: Backup',
    intro: b.volid,
    fields: [
      { name: 'notes', label: 'Notes', type: 'textarea', rows: 4, value: b.notes ?? '', wide: true },
      { name: 'protected', label: 'Protected', type: 'checkbox', value: Boolean(Number(b.protected)),
        help: 'A protected backup is neither pruned nor removable.' },
    ],
    onSubmit: (v) => api.put(contentPath(node, b), { notes: String(v.notes ?? ''), protected: v.protected ? 1 : 0 }),
  });
  return done !== null;
}

/** Start the verify task of a backup; resolves its UPID. */
export function verifyBackup(node: string, b: BackupRef): Promise<string | undefined> {
  return runAction(() => api.post<string>(contentPath(node, b, 'verify')), 'Cannot verify backup');
}

interface PruneEntry {
  volid: string;
  ctime?: number;
  mark: string;
  type?: string;
  vmid?: number;
}

function PruneView({ node, storage, vmid, type, close }: { node: string; storage: string; vmid: number; type: string; close: () => void }): JSX.Element {
  const [keep, setKeep] = useState<Record<string, string>>({});
  const [rows, setRows] = useState<PruneEntry[]>([]);
  const [error, setError] = useState<Error | null>(null);
  const setting = pruneBackupsString(keep);
  useEffect(() => {
    let live = true;
    api.get<PruneEntry[]>(apiPath('nodes', node, 'storage', storage, 'prunebackups'), { vmid, type, 'prune-backups': setting })
      .then((r) => { if (live) { setRows(r); setError(null); } })
      .catch((e: Error) => { if (live) setError(e); });
    return () => { live = false; };
  }, [node, storage, vmid, type, setting]);
  return (
    <>
      <div className="window-body prune-view">
        <p className="intro">What a prune of {type === 'lxc' ? 'CT' : 'VM'} {vmid}&apos;s backups on {storage} would do (nothing is removed here). Empty fields: the storage&apos;s retention.</p>
        <div className="prune-keep">
          {KEEP_OPTIONS.map((k) => (
            <label key={k.name} className="field">
              <span className="label">{k.label}</span>
              <input type="number" min={0} name={k.name} value={keep[k.name] ?? ''} onChange={(e) => setKeep({ ...keep, [k.name]: e.target.value })} />
            </label>
          ))}
        </div>
        <ErrorLine error={error} />
        <Grid label="Prune simulation" rows={rows} rowKey={(r) => r.volid} emptyText="No backups"
          columns={[
            { key: 'volid', title: 'Backup', render: (r) => r.volid.replace(/^[^:]+:(backup\/)?/, '') },
            { key: 'ctime', title: 'Date', width: '170px', render: (r) => (r.ctime ? time(r.ctime) : '') },
            { key: 'mark', title: 'Keep?', width: '100px', render: (r) => <span className={`prune-mark mark-${r.mark}`}>{r.mark}</span> },
          ]} />
      </div>
      <WindowButtons buttons={[{ text: 'Close', primary: true, onClick: close }]} />
    </>
  );
}

/** The prune dry run of one guest's backups on a storage, with retention to try out. */
export function showPruneSimulation(node: string, storage: string, vmid: number, type: 'qemu' | 'lxc'): void {
  openWindow({ title: `Prune simulation: ${storage}`, width: 720 }, (w) => (
    <PruneView node={node} storage={storage} vmid={vmid} type={type} close={() => w.close()} />
  ));
}
