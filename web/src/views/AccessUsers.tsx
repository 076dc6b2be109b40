// Datacenter -> Permissions -> Users: list, add, edit, remove, change password.

import { useState, type JSX } from 'react';
import { api, apiPath, type Params } from '../lib/api';
import { dateInput, epochFromDateInput, time } from '../lib/format';
import { useLoad } from '../lib/hooks';
import * as session from '../lib/session';
import { confirmDialog, openFormDialog, runAction } from '../components/Dialog';
import { Grid, Toolbar, useSelection } from '../components/Grid';
import type { FieldSpec, FormModel } from '../components/form-model';
import { ErrorLine } from '../components/widgets';

export interface User {
  userid: string;
  enable?: number;
  expire?: number;
  firstname?: string;
  lastname?: string;
  email?: string;
  comment?: string;
  groups?: string | string[];
  tokens?: { tokenid: string; comment?: string; expire?: number; privsep?: number }[];
}

export function splitUserid(userid: string): { name: string; realm: string } {
  const at = String(userid).lastIndexOf('@');
  return at < 0 ? { name: userid, realm: '' } : { name: userid.slice(0, at), realm: userid.slice(at + 1) };
}

function groupsOf(user: User): string[] {
  const g = user.groups;
  if (Array.isArray(g)) return g;
  return String(g || '').split(',').filter(Boolean);
}

const passwordFields: FieldSpec[] = [
  { name: 'password', label: 'Password', type: 'password', required: true, params: ['password'],
    validate: (v) => (String(v).length < 8 ? 'The password must have at least 8 characters.' : null) },
  { name: 'confirm', label: 'Confirm password', type: 'password', required: true,
    validate: (v, all) => (v !== all.password ? 'The passwords do not match.' : null) },
];

function userFields(create: boolean, user: Partial<User> = {}): FieldSpec[] {
  const fields: FieldSpec[] = create
    ? [
        { name: 'username', label: 'User name', required: true, params: ['userid'], autocomplete: 'off' },
        { name: 'realm', label: 'Realm', type: 'select', options: [], params: [] },
        ...passwordFields,
      ]
    : [{ name: 'userid', label: 'User name', type: 'display', value: user.userid }];
  fields.push(
    { name: 'groups', label: 'Groups', type: 'multiselect', options: [], value: groupsOf(user as User), params: ['groups'], emptyText: 'No groups defined' },
    { name: 'expire', label: 'Expire', type: 'date', value: dateInput(user.expire), help: 'Empty: never', params: ['expire'] },
    { name: 'enable', label: 'Enabled', type: 'checkbox', value: user.enable === undefined ? true : Boolean(Number(user.enable)), params: ['enable'] },
    { name: 'comment', label: 'Comment', value: user.comment || '', params: ['comment'] },
    { name: 'firstname', label: 'First name', value: user.firstname || '', params: ['firstname'] },
    { name: 'lastname', label: 'Last name', value: user.lastname || '', params: ['lastname'] },
    { name: 'email', label: 'E-Mail', type: 'email', value: user.email || '', params: ['email'] },
  );
  return fields;
}

function fillOptions(form: FormModel, create: boolean): void {
  api.get<{ groupid: string }[]>('/access/groups')
    .then((groups) => form.setOptions('groups', groups.map((g) => g.groupid).sort()))
    .catch(() => {});
  if (!create) return;
  api.get<{ realm: string; type: string }[]>('/access/domains').then((domains) => {
    const realms = domains.map((d) => ({ value: d.realm, label: d.realm, type: d.type }));
    form.setOptions('realm', realms, realms.some((r) => r.value === 'pve') ? 'pve' : realms[0]?.value);
    const update = (): void => {
      // Only the pve realm keeps passwords; pam users have the host's.
      const pve = realms.find((r) => r.value === form.get('realm'))?.type === 'pve';
      form.show('password', pve);
      form.show('confirm', pve);
    };
    const field = form.field('realm');
    if (field) field.onChange = update;
    update();
  }).catch(() => {});
}

export function AccessUsers(): JSX.Element {
  const { data, error, reload } = useLoad(() => api.get<User[]>('/access/users', { full: 1 }));
  const [loadError, setLoadError] = useState<Error | null>(null);
  const rows = data ?? [];
  const [selected, setSelected, sel] = useSelection(rows, (u) => u.userid);
  const [pending, setPending] = useState<string | null>(null);
  if (pending && rows.some((u) => u.userid === pending)) {
    setPending(null);
    setSelected(pending);
  }

  const add = async (): Promise<void> => {
    const created = await openFormDialog({
      title: 'Add: User',
      submitText: 'Add',
      columns: 2,
      fields: userFields(true),
      setup: (form) => fillOptions(form, true),
      onSubmit: async (v) => {
        const userid = `${v.username}@${v.realm}`;
        const groups = v.groups as string[];
        await api.post('/access/users', {
          userid,
          password: v.password ? String(v.password) : undefined,
          groups: groups.length ? groups : undefined,
          expire: v.expire ? epochFromDateInput(String(v.expire)) : undefined,
          enable: Boolean(v.enable),
          comment: v.comment ? String(v.comment) : undefined,
          firstname: v.firstname ? String(v.firstname) : undefined,
          lastname: v.lastname ? String(v.lastname) : undefined,
          email: v.email ? String(v.email) : undefined,
        });
        return userid;
      },
    });
    if (typeof created === 'string') {
      setPending(created);
      reload();
    }
  };

  const edit = async (row: User): Promise<void> => {
    let user: User;
    try {
      user = { ...(await api.get<User>(apiPath('access', 'users', row.userid))), userid: row.userid };
      setLoadError(null);
    } catch (e) {
      setLoadError(e as Error);
      return;
    }
    const changed = await openFormDialog({
      title: `Edit: User ${row.userid}`,
      columns: 2,
      fields: userFields(false, user),
      setup: (form) => fillOptions(form, false),
      onSubmit: async (v) => {
        const params: Params = {
          groups: (v.groups as string[]).join(','),
          expire: epochFromDateInput(String(v.expire)),
          enable: Boolean(v.enable),
        };
        // Send text fields that changed only ('' clears them).
        for (const key of ['comment', 'firstname', 'lastname', 'email'] as const) {
          if (v[key] !== (user[key] || '')) params[key] = String(v[key]);
        }
        await api.put(apiPath('access', 'users', row.userid), params);
      },
    });
    if (changed) reload();
  };

  const remove = async (u: User): Promise<void> => {
    if (!await confirmDialog({ title: 'Remove user', message: `Remove user ${u.userid}?`, confirmText: 'Remove', danger: true })) return;
    await runAction(() => api.delete(apiPath('access', 'users', u.userid)), 'Cannot remove user');
    reload();
  };

  const changePassword = async (u: User): Promise<void> => {
    await openFormDialog({
      title: `Change password: ${u.userid}`,
      fields: [{ name: 'userid', label: 'User name', type: 'display', value: u.userid }, ...passwordFields],
      onSubmit: (v) => api.put('/access/password', { userid: u.userid, password: String(v.password) }),
    });
  };

  return (
    <div className="view grid-view">
      <Toolbar items={[
        { text: 'Add', onClick: add },
        { text: 'Edit', enabled: Boolean(sel), onClick: () => sel && edit(sel) },
        { text: 'Remove', enabled: Boolean(sel) && sel?.userid !== session.username(), onClick: () => sel && remove(sel) },
        { text: 'Password', enabled: Boolean(sel) && splitUserid(sel?.userid ?? '').realm === 'pve', onClick: () => sel && changePassword(sel) },
      ]} />
      <ErrorLine error={error || loadError} />
      <Grid label="Users" rows={rows} rowKey={(u) => u.userid} emptyText="No users" selected={selected} onSelect={setSelected}
        onActivate={edit}
        columns={[
          { key: 'name', title: 'User name', sortValue: (u) => splitUserid(u.userid).name, render: (u) => splitUserid(u.userid).name },
          { key: 'realm', title: 'Realm', width: '90px', sortValue: (u) => splitUserid(u.userid).realm, render: (u) => splitUserid(u.userid).realm },
          { key: 'enable', title: 'Enabled', width: '80px', render: (u) => (Number(u.enable ?? 1) ? 'Yes' : 'No') },
          { key: 'expire', title: 'Expire', width: '110px', render: (u) => (Number(u.expire) ? time(u.expire).slice(0, 10) : 'never') },
          { key: 'fullname', title: 'Name', sortValue: (u) => `${u.firstname || ''} ${u.lastname || ''}`, render: (u) => `${u.firstname || ''} ${u.lastname || ''}`.trim() },
          { key: 'groups', title: 'Groups', render: (u) => groupsOf(u).join(', ') },
          { key: 'comment', title: 'Comment' },
        ]} />
    </div>
  );
}
