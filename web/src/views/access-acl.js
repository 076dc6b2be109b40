// Datacenter -> Permissions: the ACL (GET/PUT /access/acl): add and remove user, group and API
// token permissions with path, role and propagate.

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { confirmDialog, openFormDialog, runAction } from '../components/dialog.js';
import { createGrid, createToolbar } from '../components/grid.js';
import { errorLine } from '../components/widgets.js';
import { resources } from '../resources.js';

const TYPES = [
  { value: 'user', label: 'User', param: 'users' },
  { value: 'group', label: 'Group', param: 'groups' },
  { value: 'token', label: 'API Token', param: 'tokens' },
];

const aclKey = (a) => `${a.path}|${a.type}|${a.ugid}|${a.roleid}`;

/** ACL paths to suggest: the fixed ones and one per node, guest and storage. */
export function pathSuggestions() {
  const paths = ['/', '/access', '/access/groups', '/access/realm', '/mapping', '/nodes', '/pool', '/sdn', '/storage', '/vms'];
  for (const r of resources.list()) {
    if (r.type === 'node') paths.push(`/nodes/${r.node}`);
    else if (r.type === 'qemu' || r.type === 'lxc') paths.push(`/vms/${r.vmid}`);
    else if (r.type === 'storage') paths.push(`/storage/${r.storage}`);
  }
  return [...new Set(paths)].sort();
}

async function loadSubjects(type) {
  if (type === 'group') {
    return (await api.get('/access/groups')).map((g) => g.groupid).sort();
  }
  const users = await api.get('/access/users', { full: 1 });
  if (type === 'user') return users.map((u) => u.userid).sort();
  return users.flatMap((u) => (u.tokens || []).map((t) => `${u.userid}!${t.tokenid}`)).sort();
}

export function mount(container) {
  const grid = createGrid({
    label: 'Permissions',
    rowKey: aclKey,
    emptyText: 'No permissions',
    columns: [
      { key: 'path', title: 'Path', width: '200px' },
      { key: 'ugid', title: 'User/Group/API Token' },
      { key: 'type', title: 'Type', width: '100px', render: (a) => TYPES.find((t) => t.value === a.type)?.label || a.type },
      { key: 'roleid', title: 'Role', width: '180px' },
      { key: 'propagate', title: 'Propagate', width: '90px', render: (a) => (Number(a.propagate) ? 'true' : 'false') },
    ],
  });
  const err = errorLine();
  const toolbar = createToolbar([
    { text: 'Add User Permission', handler: () => addAcl('user') },
    { text: 'Add Group Permission', handler: () => addAcl('group') },
    { text: 'Add API Token Permission', handler: () => addAcl('token') },
    { text: 'Remove', handler: (a) => removeAcl(a), enabled: (a) => Boolean(a) },
  ], grid);
  replace(container, h('div', { class: 'view grid-view' }, toolbar.el, err, grid.el));

  async function load() {
    try {
      grid.setRows(await api.get('/access/acl'));
      err.show(null);
    } catch (e) {
      err.show(e);
    }
  }
  load();

  async function addAcl(type) {
    const typeInfo = TYPES.find((t) => t.value === type);
    const added = await openFormDialog({
      title: `Add: ${typeInfo.label} Permission`,
      submitText: 'Add',
      fields: [
        { name: 'path', label: 'Path', required: true, list: pathSuggestions(), value: '/', params: ['path'] },
        { name: 'ugid', label: typeInfo.label, type: 'select', required: true, options: [], params: TYPES.map((t) => t.param) },
        { name: 'role', label: 'Role', type: 'select', required: true, options: [], params: ['roles'] },
        { name: 'propagate', label: 'Propagate', type: 'checkbox', value: true, params: ['propagate'] },
      ],
      setup: (form) => {
        loadSubjects(type).then((list) => form.setOptions('ugid', list, list[0]))
          .catch((e) => form.setFieldError('ugid', e.message));
        api.get('/access/roles').then((roles) => {
          const ids = roles.map((r) => r.roleid).sort();
          form.setOptions('role', ids, ids.includes('PVEAuditor') ? 'PVEAuditor' : ids[0]);
        }).catch((e) => form.setFieldError('role', e.message));
      },
      onSubmit: async (v) => {
        await api.put('/access/acl', {
          path: v.path,
          roles: v.role,
          [typeInfo.param]: v.ugid,
          propagate: v.propagate,
        });
        return { path: v.path, type, ugid: v.ugid, roleid: v.role };
      },
    });
    if (added) {
      await load();
      grid.select(aclKey(added));
    }
  }

  async function removeAcl(a) {
    const ok = await confirmDialog({
      title: 'Remove permission',
      message: `Remove role ${a.roleid} of ${a.ugid} on ${a.path}?`,
      confirmText: 'Remove',
      danger: true,
    });
    if (!ok) return;
    const param = TYPES.find((t) => t.value === a.type)?.param || 'users';
    await runAction(() => api.put('/access/acl', { path: a.path, roles: a.roleid, [param]: a.ugid, delete: 1 }), 'Cannot remove permission');
    load();
  }
}
