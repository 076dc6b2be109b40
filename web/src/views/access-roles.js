// Datacenter -> Permissions -> Roles: built-in roles read-only; custom roles created, edited and
// removed with a privilege picker. Every privilege is listed by GET /access/roles/Administrator.

import { api, apiPath } from '../api.js';
import { h, replace } from '../dom.js';
import { confirmDialog, openFormDialog, runAction } from '../components/dialog.js';
import { createGrid, createToolbar } from '../components/grid.js';
import { errorLine } from '../components/widgets.js';

function privList(role) {
  return String(role.privs || '').split(',').filter(Boolean);
}

/** A form field (type 'custom') with a checkbox per privilege, grouped by prefix. */
export function privilegePicker({ name = 'privs', label = 'Privileges', value = [] } = {}) {
  return {
    name,
    label,
    type: 'custom',
    wide: true,
    params: ['privs'],
    render(field, id) {
      let boxes = [];
      let selected = new Set(value);
      const filter = h('input', { type: 'search', class: 'priv-filter', placeholder: 'Filter privileges', 'aria-label': 'Filter privileges', spellcheck: 'false' });
      const list = h('div', { class: 'priv-groups' }, h('span', { class: 'muted' }, 'Loading privileges…'));
      const count = h('span', { class: 'muted priv-count' });
      const el = h('div', { class: 'priv-picker', id, role: 'group', 'aria-label': label }, h('div', { class: 'priv-tools' }, filter, count), list);
      const updateCount = () => {
        count.textContent = `${boxes.filter((b) => b.checked).length} of ${boxes.length} selected`;
      };

      function render(allPrivs) {
        selected = new Set(boxes.length ? boxes.filter((b) => b.checked).map((b) => b.value) : selected);
        const groups = new Map();
        for (const p of allPrivs) {
          const prefix = p.split('.')[0];
          if (!groups.has(prefix)) groups.set(prefix, []);
          groups.get(prefix).push(p);
        }
        boxes = [];
        replace(list, [...groups].map(([prefix, privs]) => {
          const groupBoxes = privs.map((p) => h('input', { type: 'checkbox', value: p, checked: selected.has(p), onchange: () => { syncAll(); updateCount(); } }));
          boxes.push(...groupBoxes);
          const groupBox = h('input', { type: 'checkbox', 'aria-label': `All ${prefix} privileges` });
          const syncAll = () => {
            const n = groupBoxes.filter((b) => b.checked).length;
            groupBox.checked = n === groupBoxes.length;
            groupBox.indeterminate = n > 0 && n < groupBoxes.length;
          };
          groupBox.addEventListener('change', () => {
            for (const b of groupBoxes) b.checked = groupBox.checked;
            updateCount();
          });
          syncAll();
          return h('fieldset', { class: 'priv-group', dataset: { prefix } },
            h('legend', null, h('label', { class: 'check' }, groupBox, ` ${prefix}`)),
            privs.map((p, i) => h('label', { class: 'check priv', dataset: { priv: p } }, groupBoxes[i], ` ${p}`)));
        }));
        updateCount();
      }

      filter.addEventListener('input', () => {
        const q = filter.value.trim().toLowerCase();
        for (const fs of list.querySelectorAll('.priv-group')) {
          let any = false;
          for (const lbl of fs.querySelectorAll('.priv')) {
            const show = !q || lbl.dataset.priv.toLowerCase().includes(q);
            lbl.hidden = !show;
            any ||= show;
          }
          fs.hidden = !any;
        }
      });

      api.get('/access/roles/Administrator').then((privs) => {
        render(Object.keys(privs || {}).sort());
      }).catch((e) => replace(list, h('span', { class: 'field-error' }, `Cannot load privileges: ${e.message}`)));

      return {
        el,
        get: () => (boxes.length ? boxes.filter((b) => b.checked).map((b) => b.value) : [...selected]),
        set: (v) => {
          selected = new Set(v || []);
          for (const b of boxes) b.checked = selected.has(b.value);
          updateCount();
        },
        focus: () => filter.focus(),
      };
    },
  };
}

export function mount(container) {
  const grid = createGrid({
    label: 'Roles',
    rowKey: 'roleid',
    emptyText: 'No roles',
    onActivate: (r) => (Number(r.special) ? null : editRole(r)),
    columns: [
      { key: 'roleid', title: 'Name', width: '190px' },
      { key: 'special', title: 'Built-in', width: '80px', render: (r) => (Number(r.special) ? 'Yes' : 'No') },
      { key: 'privs', title: 'Privileges', className: 'wrap', render: (r) => privList(r).join(' ') },
    ],
  });
  const err = errorLine();
  const custom = (r) => Boolean(r) && !Number(r.special);
  const toolbar = createToolbar([
    { text: 'Create', handler: () => addRole() },
    { text: 'Edit', handler: (r) => editRole(r), enabled: custom, title: 'Built-in roles cannot be changed' },
    { text: 'Remove', handler: (r) => removeRole(r), enabled: custom },
  ], grid);
  replace(container, h('div', { class: 'view grid-view' }, toolbar.el, err, grid.el));

  async function load() {
    try {
      grid.setRows(await api.get('/access/roles'));
      err.show(null);
    } catch (e) {
      err.show(e);
    }
  }
  load();

  async function addRole() {
    const created = await openFormDialog({
      title: 'Create: Role',
      submitText: 'Create',
      width: 760,
      fields: [
        { name: 'roleid', label: 'Name', required: true },
        privilegePicker(),
      ],
      onSubmit: async (v) => {
        await api.post('/access/roles', { roleid: v.roleid, privs: v.privs.join(',') });
        return v.roleid;
      },
    });
    if (created) {
      await load();
      grid.select(created);
    }
  }

  async function editRole(r) {
    const changed = await openFormDialog({
      title: `Edit: Role ${r.roleid}`,
      width: 760,
      fields: [
        { name: 'roleid', label: 'Name', type: 'display', value: r.roleid },
        privilegePicker({ value: privList(r) }),
      ],
      onSubmit: (v) => api.put(apiPath('access', 'roles', r.roleid), { privs: v.privs.join(',') }),
    });
    if (changed) load();
  }

  async function removeRole(r) {
    const ok = await confirmDialog({ title: 'Remove role', message: `Remove role ${r.roleid}?`, confirmText: 'Remove', danger: true });
    if (!ok) return;
    await runAction(() => api.delete(apiPath('access', 'roles', r.roleid)), 'Cannot remove role');
    load();
  }
}
