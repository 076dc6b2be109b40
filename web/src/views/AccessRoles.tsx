// Datacenter -> Permissions -> Roles: built-in roles read-only; custom roles created, edited and
// removed with a privilege picker.

import { useState, type JSX } from 'react';
import { api, apiPath } from '../lib/api';
import { useLoad } from '../lib/hooks';
import { confirmDialog, openFormDialog, runAction } from '../components/Dialog';
import { Grid, Toolbar, useSelection } from '../components/Grid';
import { ErrorLine } from '../components/widgets';
import { privilegePicker } from './PrivilegePicker';

interface Role {
  roleid: string;
  special?: number;
  privs?: string;
}

const privList = (r: Role): string[] => String(r.privs || '').split(',').filter(Boolean);
const custom = (r: Role | null): r is Role => Boolean(r) && !Number(r?.special);

export function AccessRoles(): JSX.Element {
  const { data, error, reload } = useLoad(() => api.get<Role[]>('/access/roles'));
  const rows = data ?? [];
  const [selected, setSelected, sel] = useSelection(rows, (r) => r.roleid);
  const [pending, setPending] = useState<string | null>(null);
  if (pending && rows.some((r) => r.roleid === pending)) {
    setPending(null);
    setSelected(pending);
  }

  const add = async (): Promise<void> => {
    const created = await openFormDialog({
      title: 'Create: Role',
      submitText: 'Create',
      width: 760,
      fields: [{ name: 'roleid', label: 'Name', required: true }, privilegePicker()],
      onSubmit: async (v) => {
        await api.post('/access/roles', { roleid: String(v.roleid), privs: (v.privs as string[]).join(',') });
        return String(v.roleid);
      },
    });
    if (typeof created === 'string') {
      setPending(created);
      reload();
    }
  };
  const edit = async (r: Role): Promise<void> => {
    const changed = await openFormDialog({
      title: `Edit: Role ${r.roleid}`,
      width: 760,
      fields: [{ name: 'roleid', label: 'Name', type: 'display', value: r.roleid }, privilegePicker({ value: privList(r) })],
      onSubmit: (v) => api.put(apiPath('access', 'roles', r.roleid), { privs: (v.privs as string[]).join(',') }),
    });
    if (changed) reload();
  };
  const remove = async (r: Role): Promise<void> => {
    if (!await confirmDialog({ title: 'Remove role', message: `Remove role ${r.roleid}?`, confirmText: 'Remove', danger: true })) return;
    await runAction(() => api.delete(apiPath('access', 'roles', r.roleid)), 'Cannot remove role');
    reload();
  };

  return (
    <div className="view grid-view">
      <Toolbar items={[
        { text: 'Create', onClick: add },
        { text: 'Edit', enabled: custom(sel), title: 'Built-in roles cannot be changed', onClick: () => custom(sel) && edit(sel) },
        { text: 'Remove', enabled: custom(sel), onClick: () => custom(sel) && remove(sel) },
      ]} />
      <ErrorLine error={error} />
      <Grid label="Roles" rows={rows} rowKey={(r) => r.roleid} emptyText="No roles" selected={selected} onSelect={setSelected}
        onActivate={(r) => (custom(r) ? edit(r) : undefined)}
        columns={[
          { key: 'roleid', title: 'Name', width: '190px' },
          { key: 'special', title: 'Built-in', width: '80px', render: (r) => (Number(r.special) ? 'Yes' : 'No') },
          { key: 'privs', title: 'Privileges', className: 'wrap', render: (r) => privList(r).join(' ') },
        ]} />
    </div>
  );
}
