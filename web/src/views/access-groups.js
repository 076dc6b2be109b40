// Datacenter -> Permissions -> Groups: list, add, edit (comment), remove.

import { api, apiPath } from '../api.js';
import { h, replace } from '../dom.js';
import { confirmDialog, openFormDialog, runAction } from '../components/dialog.js';
import { createGrid, createToolbar } from '../components/grid.js';
import { errorLine } from '../components/widgets.js';

export function mount(container) {
  const grid = createGrid({
    label: 'Groups',
    rowKey: 'groupid',
    emptyText: 'No groups',
    onActivate: (g) => editGroup(g),
    columns: [
      { key: 'groupid', title: 'Name', width: '220px' },
      { key: 'comment', title: 'Comment' },
      { key: 'users', title: 'Users', render: (g) => String(g.users || '').split(',').filter(Boolean).join(', ') },
    ],
  });
  const err = errorLine();
  const toolbar = createToolbar([
    { text: 'Create', handler: () => addGroup() },
    { text: 'Edit', handler: (g) => editGroup(g), enabled: (g) => Boolean(g) },
    { text: 'Remove', handler: (g) => removeGroup(g), enabled: (g) => Boolean(g) },
  ], grid);
  replace(container, h('div', { class: 'view grid-view' }, toolbar.el, err, grid.el));

  async function load() {
    try {
      grid.setRows(await api.get('/access/groups'));
      err.show(null);
    } catch (e) {
      err.show(e);
    }
  }
  load();

  async function addGroup() {
    const created = await openFormDialog({
      title: 'Create: Group',
      submitText: 'Create',
      fields: [
        { name: 'groupid', label: 'Name', required: true },
        { name: 'comment', label: 'Comment' },
      ],
      onSubmit: async (v) => {
        await api.post('/access/groups', { groupid: v.groupid, comment: v.comment || undefined });
        return v.groupid;
      },
    });
    if (created) {
      await load();
      grid.select(created);
    }
  }

  async function editGroup(g) {
    const changed = await openFormDialog({
      title: `Edit: Group ${g.groupid}`,
      fields: [
        { name: 'groupid', label: 'Name', type: 'display', value: g.groupid },
        { name: 'comment', label: 'Comment', value: g.comment || '' },
      ],
      onSubmit: (v) => api.put(apiPath('access', 'groups', g.groupid), { comment: v.comment }),
    });
    if (changed) load();
  }

  async function removeGroup(g) {
    const ok = await confirmDialog({ title: 'Remove group', message: `Remove group ${g.groupid}?`, confirmText: 'Remove', danger: true });
    if (!ok) return;
    await runAction(() => api.delete(apiPath('access', 'groups', g.groupid)), 'Cannot remove group');
    load();
  }
}
