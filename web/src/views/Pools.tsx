// Datacenter -> Permissions -> Pools: resource pools (create, edit comment, remove) and the
// members of the selected pool (add guests or storages, remove them). Pool ids may be nested
// (`a/b`), so every call names the pool with the `poolid` parameter, not in the path.

import { useState, type JSX } from 'react';
import { api } from '../lib/api';
import { useLoad } from '../lib/hooks';
import { confirmDialog, openFormDialog, runAction } from '../components/Dialog';
import { Grid, Toolbar, useSelection } from '../components/Grid';
import { ErrorLine } from '../components/widgets';

interface Pool {
  poolid: string;
  comment?: string;
}

interface Member {
  id: string;
  type: string;
  vmid?: number;
  storage?: string;
  name?: string;
  node?: string;
  status?: string;
}

function memberLabel(m: Member): string {
  if (m.type === 'storage') return String(m.storage);
  return m.name ? `${m.vmid} (${m.name})` : String(m.vmid);
}

function PoolMembers({ pool }: { pool: Pool }): JSX.Element {
  const { data, error, reload } = useLoad(
    () => api.get<{ members: Member[] }[]>('/pools', { poolid: pool.poolid }),
    [pool.poolid],
  );
  const rows = data?.[0]?.members ?? [];
  const [selected, setSelected, sel] = useSelection(rows, (m) => m.id);

  const add = async (kind: 'vms' | 'storage'): Promise<void> => {
    const changed = await openFormDialog({
      title: kind === 'vms' ? 'Add: Virtual Machine' : 'Add: Storage',
      submitText: 'Add',
      fields: [
        kind === 'vms'
          ? { name: 'vms', label: 'VMID', required: true, placeholder: '100,101' }
          : { name: 'storage', label: 'Storage', required: true },
        ...(kind === 'vms' ? [{ name: 'allow-move', label: 'Allow move', type: 'checkbox' as const, value: false }] : []),
      ],
      onSubmit: (v) => api.put('/pools', { poolid: pool.poolid, ...v }),
    });
    if (changed) reload();
  };
  const remove = async (m: Member): Promise<void> => {
    if (!await confirmDialog({ title: 'Remove member', message: `Remove ${memberLabel(m)} from pool ${pool.poolid}?`, confirmText: 'Remove', danger: true })) return;
    const which = m.type === 'storage' ? { storage: m.storage } : { vms: m.vmid };
    await runAction(() => api.put('/pools', { poolid: pool.poolid, delete: true, ...which }), 'Cannot remove member');
    reload();
  };

  return (
    <div className="view grid-view">
      <Toolbar items={[
        { text: 'Add Virtual Machine', onClick: () => add('vms') },
        { text: 'Add Storage', onClick: () => add('storage') },
        { text: 'Remove Member', enabled: Boolean(sel), onClick: () => sel && remove(sel) },
      ]} />
      <ErrorLine error={error} />
      <Grid label={`Members of ${pool.poolid}`} rows={rows} rowKey={(m) => m.id} emptyText="No members" selected={selected} onSelect={setSelected}
        columns={[
          { key: 'id', title: 'ID', width: '220px', render: memberLabel },
          { key: 'type', title: 'Type', width: '100px' },
          { key: 'node', title: 'Node', width: '140px' },
          { key: 'status', title: 'Status' },
        ]} />
    </div>
  );
}

export function Pools(): JSX.Element {
  const { data, error, reload } = useLoad(() => api.get<Pool[]>('/pools'));
  const rows = data ?? [];
  const [selected, setSelected, sel] = useSelection(rows, (p) => p.poolid);
  const [pending, setPending] = useState<string | null>(null);
  if (pending && rows.some((p) => p.poolid === pending)) {
    setPending(null);
    setSelected(pending);
  }

  const add = async (): Promise<void> => {
    const created = await openFormDialog({
      title: 'Create: Pool',
      submitText: 'Create',
      fields: [
        { name: 'poolid', label: 'Name', required: true },
        { name: 'comment', label: 'Comment' },
      ],
      onSubmit: async (v) => {
        await api.post('/pools', { poolid: String(v.poolid), comment: v.comment ? String(v.comment) : undefined });
        return String(v.poolid);
      },
    });
    if (typeof created === 'string') {
      setPending(created);
      reload();
    }
  };
  const edit = async (p: Pool): Promise<void> => {
    const changed = await openFormDialog({
      title: `Edit: Pool ${p.poolid}`,
      fields: [
        { name: 'poolid', label: 'Name', type: 'display', value: p.poolid },
        { name: 'comment', label: 'Comment', value: p.comment || '' },
      ],
      onSubmit: (v) => api.put('/pools', { poolid: p.poolid, comment: String(v.comment) }),
    });
    if (changed) reload();
  };
  const remove = async (p: Pool): Promise<void> => {
    if (!await confirmDialog({ title: 'Remove pool', message: `Remove pool ${p.poolid}?`, confirmText: 'Remove', danger: true })) return;
    await runAction(() => api.delete('/pools', { poolid: p.poolid }), 'Cannot remove pool');
    reload();
  };

  return (
    <div className="view">
      <div className="view grid-view">
        <Toolbar items={[
          { text: 'Create', onClick: add },
          { text: 'Edit', enabled: Boolean(sel), onClick: () => sel && edit(sel) },
          { text: 'Remove', enabled: Boolean(sel), onClick: () => sel && remove(sel) },
        ]} />
        <ErrorLine error={error} />
        <Grid label="Pools" rows={rows} rowKey={(p) => p.poolid} emptyText="No pools" selected={selected} onSelect={setSelected}
          onActivate={edit}
          columns={[
            { key: 'poolid', title: 'Name', width: '220px' },
            { key: 'comment', title: 'Comment' },
          ]} />
      </div>
      {sel && <PoolMembers pool={sel} />}
    </div>
  );
}
