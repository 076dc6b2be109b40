// Datacenter -> Permissions -> API Tokens: list, create (the secret is shown once), edit, remove.

import { api, apiPath } from '../api.js';
import { h, replace } from '../dom.js';
import { dateInput, epochFromDateInput, time } from '../format.js';
import { confirmDialog, openDialog, openFormDialog, runAction } from '../components/dialog.js';
import { createGrid, createToolbar } from '../components/grid.js';
import { errorLine } from '../components/widgets.js';
import * as session from '../session.js';

const tokenKey = (t) => `${t.userid}!${t.tokenid}`;

/** The secret of a new token, shown this one time. */
function showSecret(fullTokenid, secret) {
  const secretField = h('input', { type: 'text', class: 'secret', readOnly: true, value: secret, 'aria-label': 'Secret', spellcheck: 'false' });
  const copied = h('span', { class: 'muted', role: 'status' });
  const copy = h('button', {
    type: 'button', class: 'btn',
    onclick: async () => {
      secretField.select();
      try {
        await navigator.clipboard.writeText(secret);
        copied.textContent = 'Copied.';
      } catch {
        copied.textContent = 'Select the secret and copy it with Ctrl+C.';
      }
    },
  }, 'Copy secret');
  const dlg = openDialog({
    title: 'Token Secret',
    width: 560,
    className: 'token-secret',
    body: h('div', { class: 'form' },
      h('div', { class: 'form-grid' },
        h('div', { class: 'field' }, h('span', { class: 'label' }, 'Token ID:'), h('div', { class: 'control' }, h('output', { class: 'token-id' }, fullTokenid))),
        h('div', { class: 'field' }, h('span', { class: 'label' }, 'Secret:'), h('div', { class: 'control' }, secretField))),
      h('p', { class: 'warning-text' }, 'Please record the API token secret - it will only be displayed now.'),
      h('div', null, copy, ' ', copied)),
    buttons: [{ text: 'OK', key: 'ok', primary: true, close: true }],
  });
  secretField.select();
  return new Promise((resolve) => {
    dlg.el.addEventListener('close', () => resolve(), { once: true });
  });
}

export function mount(container) {
  const grid = createGrid({
    label: 'API Tokens',
    rowKey: tokenKey,
    emptyText: 'No API tokens',
    onActivate: (t) => editToken(t),
    columns: [
      { key: 'userid', title: 'User', width: '200px' },
      { key: 'tokenid', title: 'Token name', width: '160px' },
      { key: 'expire', title: 'Expire', width: '110px', render: (t) => (Number(t.expire) ? time(t.expire).slice(0, 10) : 'never') },
      { key: 'privsep', title: 'Privilege Separation', width: '150px', render: (t) => (Number(t.privsep ?? 1) ? 'Yes' : 'No') },
      { key: 'comment', title: 'Comment' },
    ],
  });
  const err = errorLine();
  const toolbar = createToolbar([
    { text: 'Add', handler: () => addToken() },
    { text: 'Edit', handler: (t) => editToken(t), enabled: (t) => Boolean(t) },
    { text: 'Remove', handler: (t) => removeToken(t), enabled: (t) => Boolean(t) },
  ], grid);
  replace(container, h('div', { class: 'view grid-view' }, toolbar.el, err, grid.el));

  let users = [];
  async function load() {
    try {
      users = await api.get('/access/users', { full: 1 });
      grid.setRows(users.flatMap((u) => (u.tokens || []).map((t) => ({ ...t, userid: u.userid }))));
      err.show(null);
    } catch (e) {
      err.show(e);
    }
  }
  load();

  async function addToken() {
    const me = session.username();
    const userids = users.map((u) => u.userid).sort();
    const created = await openFormDialog({
      title: 'Add: Token',
      submitText: 'Add',
      fields: [
        { name: 'userid', label: 'User', type: 'select', options: userids, value: userids.includes(me) ? me : userids[0], required: true, params: ['userid'] },
        { name: 'tokenid', label: 'Token ID', required: true, params: ['tokenid'] },
        { name: 'privsep', label: 'Privilege Separation', type: 'checkbox', value: true, params: ['privsep'] },
        { name: 'expire', label: 'Expire', type: 'date', help: 'Empty: never', params: ['expire'] },
        { name: 'comment', label: 'Comment', params: ['comment'] },
      ],
      onSubmit: async (v) => {
        const data = await api.post(apiPath('access', 'users', v.userid, 'token', v.tokenid), {
          privsep: v.privsep,
          expire: v.expire ? epochFromDateInput(v.expire) : undefined,
          comment: v.comment || undefined,
        });
        return { key: `${v.userid}!${v.tokenid}`, data };
      },
    });
    if (!created) return;
    await showSecret(created.data['full-tokenid'] || created.key, created.data.value);
    await load();
    grid.select(created.key);
  }

  async function editToken(t) {
    const changed = await openFormDialog({
      title: `Edit: Token ${tokenKey(t)}`,
      fields: [
        { name: 'id', label: 'Token ID', type: 'display', value: tokenKey(t) },
        { name: 'privsep', label: 'Privilege Separation', type: 'checkbox', value: Boolean(Number(t.privsep ?? 1)), params: ['privsep'] },
        { name: 'expire', label: 'Expire', type: 'date', value: dateInput(t.expire), help: 'Empty: never', params: ['expire'] },
        { name: 'comment', label: 'Comment', value: t.comment || '', params: ['comment'] },
      ],
      onSubmit: (v) => api.put(apiPath('access', 'users', t.userid, 'token', t.tokenid), {
        privsep: v.privsep,
        expire: epochFromDateInput(v.expire),
        comment: v.comment || undefined,
        delete: v.comment ? undefined : 'comment',
      }),
    });
    if (changed) load();
  }

  async function removeToken(t) {
    const ok = await confirmDialog({ title: 'Remove token', message: `Remove API token ${tokenKey(t)}?`, confirmText: 'Remove', danger: true });
    if (!ok) return;
    await runAction(() => api.delete(apiPath('access', 'users', t.userid, 'token', t.tokenid)), 'Cannot remove token');
    load();
  }
}
