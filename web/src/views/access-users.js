// Datacenter -> Permissions -> Users: list, add, edit, remove, change password.

import { api, apiPath } from '../api.js';
import { h, replace } from '../dom.js';
import { dateInput, epochFromDateInput, time } from '../format.js';
import { confirmDialog, openFormDialog, runAction } from '../components/dialog.js';
import { createGrid, createToolbar } from '../components/grid.js';
import { errorLine } from '../components/widgets.js';
import * as session from '../session.js';

export function splitUserid(userid) {
  const at = String(userid).lastIndexOf('@');
  return at < 0 ? { name: userid, realm: '' } : { name: userid.slice(0, at), realm: userid.slice(at + 1) };
}

function groupsOf(user) {
  const g = user.groups;
  if (Array.isArray(g)) return g;
  return String(g || '').split(',').filter(Boolean);
}

export async function loadRealms() {
  const domains = await api.get('/access/domains');
  return (domains || []).map((d) => ({ value: d.realm, label: d.realm, type: d.type }));
}

async function loadGroupOptions() {
  const groups = await api.get('/access/groups');
  return (groups || []).map((g) => g.groupid).sort().map((g) => ({ value: g, label: g }));
}

const passwordFields = [
  { name: 'password', label: 'Password', type: 'password', required: true, params: ['password'],
    validate: (v) => (v.length < 8 ? 'The password must have at least 8 characters.' : null) },
  { name: 'confirm', label: 'Confirm password', type: 'password', required: true,
    validate: (v, all) => (v !== all.password ? 'The passwords do not match.' : null) },
];

function userFields({ create, user = {} }) {
  const fields = [];
  if (create) {
    fields.push(
      { name: 'username', label: 'User name', required: true, params: ['userid'], autocomplete: 'off' },
      { name: 'realm', label: 'Realm', type: 'select', options: [], params: [] },
      ...passwordFields,
    );
  } else {
    fields.push({ name: 'userid', label: 'User name', type: 'display', value: user.userid });
  }
  fields.push(
    { name: 'groups', label: 'Groups', type: 'multiselect', options: [], value: groupsOf(user), params: ['groups'], emptyText: 'No groups defined' },
    { name: 'expire', label: 'Expire', type: 'date', value: dateInput(user.expire), help: 'Empty: never', params: ['expire'] },
    { name: 'enable', label: 'Enabled', type: 'checkbox', value: user.enable === undefined ? true : Boolean(Number(user.enable)), params: ['enable'] },
    { name: 'comment', label: 'Comment', value: user.comment || '', params: ['comment'] },
    { name: 'firstname', label: 'First name', value: user.firstname || '', params: ['firstname'] },
    { name: 'lastname', label: 'Last name', value: user.lastname || '', params: ['lastname'] },
    { name: 'email', label: 'E-Mail', type: 'email', value: user.email || '', params: ['email'] },
  );
  return fields;
}

export function mount(container, ctx) {
  const grid = createGrid({
    label: 'Users',
    rowKey: 'userid',
    emptyText: 'No users',
    onActivate: (u) => editUser(u),
    columns: [
      { key: 'name', title: 'User name', sortValue: (u) => splitUserid(u.userid).name, render: (u) => splitUserid(u.userid).name },
      { key: 'realm', title: 'Realm', width: '90px', sortValue: (u) => splitUserid(u.userid).realm, render: (u) => splitUserid(u.userid).realm },
      { key: 'enable', title: 'Enabled', width: '80px', render: (u) => (Number(u.enable ?? 1) ? 'Yes' : 'No') },
      { key: 'expire', title: 'Expire', width: '110px', render: (u) => (Number(u.expire) ? time(u.expire).slice(0, 10) : 'never') },
      { key: 'fullname', title: 'Name', sortValue: (u) => `${u.firstname || ''} ${u.lastname || ''}`, render: (u) => `${u.firstname || ''} ${u.lastname || ''}`.trim() },
      { key: 'groups', title: 'Groups', render: (u) => groupsOf(u).join(', ') },
      { key: 'comment', title: 'Comment' },
    ],
  });
  const err = errorLine();
  const toolbar = createToolbar([
    { text: 'Add', handler: () => addUser() },
    { text: 'Edit', handler: (u) => editUser(u), enabled: (u) => Boolean(u) },
    { text: 'Remove', handler: (u) => removeUser(u), enabled: (u) => Boolean(u) && u.userid !== session.username() },
    { text: 'Password', handler: (u) => changePassword(u), enabled: (u) => Boolean(u) && splitUserid(u.userid).realm === 'pve' },
  ], grid);
  replace(container, h('div', { class: 'view grid-view' }, toolbar.el, err, grid.el));

  async function load() {
    try {
      grid.setRows(await api.get('/access/users', { full: 1 }));
      err.show(null);
    } catch (e) {
      err.show(e);
    }
  }
  load();

  function fillOptions(form, { create }) {
    loadGroupOptions().then((groups) => form.setOptions('groups', groups)).catch(() => {});
    if (!create) return;
    loadRealms().then((realms) => {
      form.setOptions('realm', realms, realms.some((r) => r.value === 'pve') ? 'pve' : realms[0]?.value);
      const update = () => {
        // Only the pve realm keeps passwords; pam users have the host's.
        const pve = realms.find((r) => r.value === form.get('realm'))?.type === 'pve';
        form.show('password', pve);
        form.show('confirm', pve);
      };
      form.control('realm').el.addEventListener('change', update);
      update();
    }).catch(() => {});
  }

  async function addUser() {
    const created = await openFormDialog({
      title: 'Add: User',
      submitText: 'Add',
      columns: 2,
      fields: userFields({ create: true }),
      setup: (form) => fillOptions(form, { create: true }),
      onSubmit: async (v) => {
        const userid = `${v.username}@${v.realm}`;
        await api.post('/access/users', {
          userid,
          password: v.password || undefined,
          groups: v.groups.length ? v.groups : undefined,
          expire: v.expire ? epochFromDateInput(v.expire) : undefined,
          enable: v.enable,
          comment: v.comment || undefined,
          firstname: v.firstname || undefined,
          lastname: v.lastname || undefined,
          email: v.email || undefined,
        });
        return userid;
      },
    });
    if (created) {
      await load();
      grid.select(created);
    }
  }

  async function editUser(row) {
    let user;
    try {
      user = { ...(await api.get(apiPath('access', 'users', row.userid))), userid: row.userid };
    } catch (e) {
      err.show(e);
      return;
    }
    const changed = await openFormDialog({
      title: `Edit: User ${row.userid}`,
      columns: 2,
      fields: userFields({ create: false, user }),
      setup: (form) => fillOptions(form, { create: false }),
      onSubmit: async (v) => {
        const params = {
          groups: v.groups.join(','),
          expire: epochFromDateInput(v.expire),
          enable: v.enable,
        };
        // Send text fields that changed only ('' clears them).
        for (const key of ['comment', 'firstname', 'lastname', 'email']) {
          if (v[key] !== (user[key] || '')) params[key] = v[key];
        }
        await api.put(apiPath('access', 'users', row.userid), params);
      },
    });
    if (changed) load();
  }

  async function removeUser(u) {
    const ok = await confirmDialog({ title: 'Remove user', message: `Remove user ${u.userid}?`, confirmText: 'Remove', danger: true });
    if (!ok) return;
    await runAction(() => api.delete(apiPath('access', 'users', u.userid)), 'Cannot remove user');
    load();
  }

  async function changePassword(u) {
    await openFormDialog({
      title: `Change password: ${u.userid}`,
      fields: [{ name: 'userid', label: 'User name', type: 'display', value: u.userid }, ...passwordFields],
      onSubmit: (v) => api.put('/access/password', { userid: u.userid, password: v.password }),
    });
  }

}
