// VM/CT -> Snapshots: the snapshot tree (GET .../snapshot, parents first, "NOW" the current
// state under its parent), take (POST .../snapshot), rollback (POST .../snapshot/{name}/rollback),
// edit the description (PUT .../snapshot/{name}/config) and remove (DELETE .../snapshot/{name}).
// Each runs as a task whose log window opens.

import { useState, type JSX } from 'react';
import { api } from '../../lib/api';
import { usePoll } from '../../lib/hooks';
import { time } from '../../lib/format';
import { confirmDialog, openFormDialog, runAction } from '../../components/Dialog';
import { Grid, Toolbar, useSelection } from '../../components/Grid';
import { ErrorLine } from '../../components/widgets';
import type { ViewContext } from '../context';
import { guestNode, guestPath, guestWord } from './guest';
import { snapshotTree, type Snapshot, type SnapshotRow as Row } from './snapshot-tree';

export function GuestSnapshots({ ctx }: { ctx: ViewContext }): JSX.Element {
  const node = guestNode(ctx);
  const isVm = ctx.type === 'qemu';
  const [list, setList] = useState<Snapshot[]>([]);
  const [error, setError] = useState<Error | null>(null);
  const reload = usePoll(async () => {
    if (!node) return;
    try {
      setList(await api.get<Snapshot[]>(guestPath(ctx, node, 'snapshot')));
      setError(null);
    } catch (e) {
      setError(e as Error);
    }
  }, 5000, [node, ctx.vmid]);
  const rows = snapshotTree(list);
  const [selected, setSelected, sel] = useSelection(rows, (r) => r.name);
  const isSnap = Boolean(sel && sel.name !== 'current');
  const running = list.find((s) => s.name === 'current')?.running === 1 || ctx.resource?.status === 'running';

  const started = (upid: unknown): void => {
    if (typeof upid === 'string') ctx.taskStarted(upid);
    reload();
  };
  const take = async (): Promise<void> => {
    const upid = await openFormDialog({
      title: `Take Snapshot of ${guestWord(ctx)} ${ctx.vmid}`,
      submitText: 'Take Snapshot',
      fields: [
        { name: 'snapname', label: 'Name', required: true, placeholder: 'e.g. before_upgrade',
          validate: (v) => (/^[A-Za-z][A-Za-z0-9_-]{1,39}$/.test(String(v)) ? null : 'Start with a letter; letters, digits, _ and -; 2 to 40 characters.') },
        ...(isVm ? [{ name: 'vmstate', label: 'Include RAM', type: 'checkbox' as const, hidden: !running }] : []),
        { name: 'description', label: 'Description', type: 'textarea', rows: 3 },
      ],
      onSubmit: (v) => api.post<string>(guestPath(ctx, node, 'snapshot'), {
        snapname: String(v.snapname),
        description: v.description ? String(v.description) : undefined,
        vmstate: v.vmstate ? 1 : undefined,
      }),
    });
    started(upid);
  };
  const rollback = async (s: Row): Promise<void> => {
    if (!await confirmDialog({ title: 'Confirm', message: `Rollback ${guestWord(ctx)} ${ctx.vmid} to snapshot ${s.name}? The current state is lost.`, confirmText: 'Rollback', danger: true })) return;
    started(await runAction(() => api.post<string>(guestPath(ctx, node, 'snapshot', s.name, 'rollback')), `Cannot roll back to ${s.name}`));
  };
  const edit = async (s: Row): Promise<void> => {
    const done = await openFormDialog({
      title: `Edit: Snapshot ${s.name}`,
      fields: [
        { name: 'name', label: 'Name', type: 'display', value: s.name },
        { name: 'snaptime', label: 'Date', type: 'display', value: s.snaptime ? time(s.snaptime) : '' },
        { name: 'description', label: 'Description', type: 'textarea', rows: 4, value: s.description ?? '' },
      ],
      onSubmit: (v) => api.put(guestPath(ctx, node, 'snapshot', s.name, 'config'), { description: String(v.description) }),
    });
    if (done) reload();
  };
  const remove = async (s: Row): Promise<void> => {
    if (!await confirmDialog({ title: 'Remove snapshot', message: `Remove snapshot ${s.name}?`, confirmText: 'Remove', danger: true })) return;
    started(await runAction(() => api.delete<string>(guestPath(ctx, node, 'snapshot', s.name)), `Cannot remove ${s.name}`));
  };

  return (
    <div className="view grid-view guest-snapshots">
      <Toolbar items={[
        { text: 'Take Snapshot', primary: true, onClick: () => void take() },
        { text: 'Rollback', enabled: isSnap, onClick: () => sel && void rollback(sel) },
        { text: 'Edit', enabled: isSnap, onClick: () => sel && void edit(sel) },
        { text: 'Remove', enabled: isSnap, danger: true, onClick: () => sel && void remove(sel) },
      ]} />
      <ErrorLine error={error} />
      <Grid label="Snapshots" rows={rows} rowKey={(r) => r.name} selected={selected} onSelect={setSelected}
        onActivate={(r) => (r.name !== 'current' ? void edit(r) : undefined)} emptyText="No snapshots"
        columns={[
          { key: 'name', title: 'Name', width: '260px', sortable: false,
            render: (r) => <span className="snap-name" style={{ paddingLeft: `${r.depth * 18}px` }} data-snapshot={r.name}>{r.depth ? '└ ' : ''}{r.name === 'current' ? 'NOW' : r.name}</span> },
          ...(isVm ? [{ key: 'vmstate', title: 'RAM', width: '60px', sortable: false, render: (r: Row) => (r.vmstate ? 'yes' : '') }] : []),
          { key: 'snaptime', title: 'Date/Status', width: '190px', sortable: false,
            render: (r) => (r.snaptime && r.name !== 'current' ? time(r.snaptime) : '') },
          { key: 'description', title: 'Description', sortable: false, className: 'wrap',
            render: (r) => (r.name === 'current' ? 'You are here!' : r.description ?? '') },
        ]} />
    </div>
  );
}
