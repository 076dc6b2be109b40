// Datacenter -> Permissions -> Groups: list, add, edit (comment), remove.

import { useState, type JSX } from 'react';
import { api, apiPath } from '../lib/api';
import { useLoad } from '../lib/hooks';
import { confirmDialog, openFormDialog, runAction } from '../components/Dialog';
import { Grid, Toolbar, useSelection } from '../components/Grid';
import { ErrorLine } from '../components/widgets';

interface Group {
  groupid: string;
  comment?: string;
  users?: string;
}

export function AccessGroups(): JSX.Element {
  const { data, error, reload } = useLoad(() => api.get<Group[]>('/access/groups'));
  const rows = data ?? [];
  const [selected, setSelected, sel] = useSelection(rows, (g) => g.groupid);
  const [pending, setPending] = useState<string | null>(null);
  if (pending && rows.some((g) => g.groupid === pending)) {
    setPending(null);
    setSelected(pending);
  }

  const add = async (): Promise<void> => {
    const created = await openFormDialog({
      title: 'Create: Group',
      submitText: 'Create',
      fields: [
        { name: 'groupid', label: 'Name', required: true },
        { name: 'comment', label: 'Comment' },
      ],
      onSubmit: async (v) => {
        await api.post('/access/groups', { groupid: String(v.groupid), comment: v.comment ? String(v.comment) : undefined });
        return String(v.groupid);
      },
    });
    if (typeof created === 'string') {
      setPending(created);
      reload();
    }
  };
  const edit = async (g: Group): Promise<void> => {
    const changed = await openFormDialog({
      title: `Edit: Group ${g.groupid}`,
      fields: [
        { name: 'groupid', label: 'Name', type: 'display', value: g.groupid },
        { name: 'comment', label: 'Comment', value: g.comment || '' },
      ],
      onSubmit: (v) => api.put(apiPath('access', 'groups', g.groupid), { comment: String(v.comment) }),
    });
    if (changed) reload();
  };
  const remove = async (g: Group): Promise<void> => {
    if (!await confirmDialog({ title: 'Remove group', message: `Remove group ${g.groupid}?`, confirmText: 'Remove', danger: true })) return;
    await runAction(() => api.delete(apiPath('access', 'groups', g.groupid)), 'Cannot remove group');
    reload();
  };

  return (
    <div className="view grid-view">
      <Toolbar items={[
        { text: 'Create', onClick: add },
        { text: 'Edit', enabled: Boolean(sel), onClick: () => sel && edit(sel) },
        { text: 'Remove', enabled: Boolean(sel), onClick: () => sel && remove(sel) },
      ]} />
      <ErrorLine error={error} />
      <Grid label="Groups" rows={rows} rowKey={(g) => g.groupid} emptyText="No groups" selected={selected} onSelect={setSelected}
        onActivate={edit}
        columns={[
          { key: 'groupid', title: 'Name', width: '220px' },
          { key: 'comment', title: 'Comment' },
          { key: 'users', title: 'Users', render: (g) => String(g.users || '').split(',').filter(Boolean).join(', ') },
        ]} />
    </div>
  );
}
