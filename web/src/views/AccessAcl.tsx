// Datacenter -> Permissions: the ACL (GET/PUT /access/acl): add and remove user, group and API
// token permissions with path, role and propagate. The Permissions tab of a node, guest or
// storage is the same list limited to that object's path.

import { useState, type JSX } from 'react';
import { api } from '../lib/api';
import { useLoad } from '../lib/hooks';
import { resources } from '../lib/resources';
import { confirmDialog, openFormDialog, runAction } from '../components/Dialog';
import { Grid, Toolbar, useSelection } from '../components/Grid';
import { ErrorLine } from '../components/widgets';
import type { ViewContext } from './context';

const TYPES = [
  { value: 'user', label: 'User', param: 'users' },
  { value: 'group', label: 'Group', param: 'groups' },
  { value: 'token', label: 'API Token', param: 'tokens' },
];

interface Acl {
  path: string;
  type: string;
  ugid: string;
  roleid: string;
  propagate: number;
}

const aclKey = (a: Pick<Acl, 'path' | 'type' | 'ugid' | 'roleid'>): string => `${a.path}|${a.type}|${a.ugid}|${a.roleid}`;

/** ACL paths to suggest: the fixed ones and one per node, guest and storage. */
export function pathSuggestions(): string[] {
  const paths = ['/', '/access', '/access/groups', '/access/realm', '/mapping', '/nodes', '/pool', '/sdn', '/storage', '/vms'];
  for (const r of resources.state().list) {
    if (r.type === 'node') paths.push(`/nodes/${r.node}`);
    else if (r.type === 'qemu' || r.type === 'lxc') paths.push(`/vms/${r.vmid}`);
    else if (r.type === 'storage') paths.push(`/storage/${r.storage}`);
  }
  return [...new Set(paths)].sort();
}

async function loadSubjects(type: string): Promise<string[]> {
  if (type === 'group') return (await api.get<{ groupid: string }[]>('/access/groups')).map((g) => g.groupid).sort();
  const users = await api.get<{ userid: string; tokens?: { tokenid: string }[] }[]>('/access/users', { full: 1 });
  if (type === 'user') return users.map((u) => u.userid).sort();
  return users.flatMap((u) => (u.tokens || []).map((t) => `${u.userid}!${t.tokenid}`)).sort();
}

/** The ACL path of an object of the tree (/vms/100, /storage/local, /nodes/pve). */
export function aclPathOf(ctx: ViewContext): string {
  if (ctx.type === 'qemu' || ctx.type === 'lxc') return `/vms/${ctx.vmid}`;
  if (ctx.type === 'storage') return `/storage/${ctx.storage}`;
  if (ctx.type === 'node') return `/nodes/${ctx.node}`;
  return '/';
}

/** A node's, guest's or storage's Permissions tab. */
export function ObjectPermissions({ ctx }: { ctx: ViewContext }): JSX.Element {
  return <AccessAcl path={aclPathOf(ctx)} />;
}

/** The ACL; with `path`, only the entries of that path, and new ones are added there. */
export function AccessAcl({ path }: { path?: string } = {}): JSX.Element {
  const { data, error, reload } = useLoad(() => api.get<Acl[]>('/access/acl'));
  const rows = (data ?? []).filter((a) => !path || a.path === path);
  const [selected, setSelected, sel] = useSelection(rows, aclKey);
  const [pending, setPending] = useState<string | null>(null);
  if (pending && rows.some((a) => aclKey(a) === pending)) {
    setPending(null);
    setSelected(pending);
  }

  const add = async (type: string): Promise<void> => {
    const info = TYPES.find((t) => t.value === type) ?? TYPES[0];
    const added = await openFormDialog({
      title: `Add: ${info.label} Permission`,
      submitText: 'Add',
      fields: [
        path
          ? { name: 'path', label: 'Path', type: 'display', value: path, params: ['path'] }
          : { name: 'path', label: 'Path', required: true, list: pathSuggestions(), value: '/', params: ['path'] },
        { name: 'ugid', label: info.label, type: 'select', required: true, options: [], params: TYPES.map((t) => t.param) },
        { name: 'role', label: 'Role', type: 'select', required: true, options: [], params: ['roles'] },
        { name: 'propagate', label: 'Propagate', type: 'checkbox', value: true, params: ['propagate'] },
      ],
      setup: (form) => {
        loadSubjects(type).then((list) => form.setOptions('ugid', list, list[0] ?? ''))
          .catch((e: Error) => form.setFieldError('ugid', e.message));
        api.get<{ roleid: string }[]>('/access/roles').then((roles) => {
          const ids = roles.map((r) => r.roleid).sort();
          form.setOptions('role', ids, ids.includes('PVEAuditor') ? 'PVEAuditor' : ids[0]);
        }).catch((e: Error) => form.setFieldError('role', e.message));
      },
      onSubmit: async (v) => {
        v.path = path ?? v.path;
        await api.put('/access/acl', { path: String(v.path), roles: String(v.role), [info.param]: String(v.ugid), propagate: Boolean(v.propagate) });
        return aclKey({ path: String(v.path), type, ugid: String(v.ugid), roleid: String(v.role) });
      },
    });
    if (typeof added === 'string') {
      setPending(added);
      reload();
    }
  };
  const remove = async (a: Acl): Promise<void> => {
    if (!await confirmDialog({ title: 'Remove permission', message: `Remove role ${a.roleid} of ${a.ugid} on ${a.path}?`, confirmText: 'Remove', danger: true })) return;
    const param = TYPES.find((t) => t.value === a.type)?.param || 'users';
    await runAction(() => api.put('/access/acl', { path: a.path, roles: a.roleid, [param]: a.ugid, delete: 1 }), 'Cannot remove permission');
    reload();
  };

  return (
    <div className="view grid-view">
      <Toolbar items={[
        { text: 'Add User Permission', onClick: () => add('user') },
        { text: 'Add Group Permission', onClick: () => add('group') },
        { text: 'Add API Token Permission', onClick: () => add('token') },
        { text: 'Remove', enabled: Boolean(sel), onClick: () => sel && remove(sel) },
      ]} />
      <ErrorLine error={error} />
      <Grid label="Permissions" rows={rows} rowKey={aclKey} emptyText="No permissions" selected={selected} onSelect={setSelected}
        columns={[
          { key: 'path', title: 'Path', width: '200px' },
          { key: 'ugid', title: 'User/Group/API Token' },
          { key: 'type', title: 'Type', width: '100px', render: (a) => TYPES.find((t) => t.value === a.type)?.label || a.type },
          { key: 'roleid', title: 'Role', width: '180px' },
          { key: 'propagate', title: 'Propagate', width: '90px', render: (a) => (Number(a.propagate) ? 'true' : 'false') },
        ]} />
    </div>
  );
}

/** Datacenter -> Permissions: every ACL entry. */
export function DatacenterPermissions(): JSX.Element {
  return <AccessAcl />;
}
