// Datacenter -> Permissions: users, groups, ACL, roles and API tokens through the UI, checked
// through the API.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiClient, dialog, field, gridRow, loginAsAdmin, openTab, request, setup, eventually } from './helpers.js';

const view = (page) => page.locator('.content-view');

test('create a group, a user in it and ACL entries through the UI', async (t) => {
  const { page, api, daemon, assertNoErrors } = await setup(t);
  await loginAsAdmin(page);

  // Group.
  await openTab(page, 'Datacenter', 'Groups');
  await view(page).getByRole('button', { name: 'Create' }).click();
  let dlg = dialog(page, 'Create: Group');
  await dlg.getByLabel('Name').fill('testers');
  await dlg.getByLabel('Comment').fill('QA team');
  await dlg.getByRole('button', { name: 'Create' }).click();
  await dlg.waitFor({ state: 'detached' });
  await gridRow(view(page), 'testers', 'QA team').waitFor();

  // User, member of the group.
  await openTab(page, 'Datacenter', 'Users');
  await gridRow(view(page), 'admin').waitFor();
  await view(page).getByRole('button', { name: 'Add' }).click();
  dlg = dialog(page, 'Add: User');
  await dlg.getByLabel('User name').fill('alice');
  await dlg.locator('select[name=realm] option[value=pve]').waitFor({ state: 'attached' });
  await dlg.getByLabel('Realm').selectOption('pve');
  await field(dlg, 'Password').locator('input').fill('alice-secret-1');
  await field(dlg, 'Confirm password').locator('input').fill('alice-secret-1');
  await dlg.getByLabel('testers').check();
  await dlg.getByLabel('First name').fill('Alice');
  await dlg.getByLabel('E-Mail').fill('alice@example.com');
  await dlg.getByRole('button', { name: 'Add' }).click();
  await dlg.waitFor({ state: 'detached' });
  await gridRow(view(page), 'alice', 'pve', 'testers').waitFor();

  // ACL: a user permission and a group permission.
  await openTab(page, 'Datacenter', 'Permissions');
  await view(page).getByRole('button', { name: 'Add User Permission' }).click();
  dlg = dialog(page, 'Add: User Permission');
  await dlg.getByLabel('Path').fill('/vms');
  await dlg.locator('select[name=ugid] option[value="alice@pve"]').waitFor({ state: 'attached' });
  await dlg.getByLabel('User', { exact: true }).selectOption('alice@pve');
  await dlg.locator('select[name=role] option[value=PVEVMUser]').waitFor({ state: 'attached' });
  await dlg.getByLabel('Role').selectOption('PVEVMUser');
  await dlg.getByRole('button', { name: 'Add' }).click();
  await dlg.waitFor({ state: 'detached' });
  await gridRow(view(page), '/vms', 'alice@pve', 'PVEVMUser').waitFor();

  await view(page).getByRole('button', { name: 'Add Group Permission' }).click();
  dlg = dialog(page, 'Add: Group Permission');
  await dlg.getByLabel('Path').fill('/storage');
  await dlg.locator('select[name=ugid] option[value=testers]').waitFor({ state: 'attached' });
  await dlg.locator('select[name=role] option[value=PVEDatastoreUser]').waitFor({ state: 'attached' });
  await dlg.getByLabel('Role').selectOption('PVEDatastoreUser');
  await dlg.getByLabel('Propagate').uncheck();
  await dlg.getByRole('button', { name: 'Add' }).click();
  await dlg.waitFor({ state: 'detached' });
  await gridRow(view(page), '/storage', 'testers', 'PVEDatastoreUser', 'false').waitFor();

  // All of it is there for API clients.
  const user = await api.get('/access/users/alice@pve');
  assert.deepEqual(user.groups, ['testers']);
  assert.equal(user.firstname, 'Alice');
  assert.equal(user.email, 'alice@example.com');
  assert.equal(Number(user.enable), 1);
  assert.deepEqual((await api.get('/access/groups/testers')).members, ['alice@pve']);
  const acl = await api.get('/access/acl');
  assert.ok(acl.some((a) => a.path === '/vms' && a.type === 'user' && a.ugid === 'alice@pve' && a.roleid === 'PVEVMUser' && Number(a.propagate) === 1), JSON.stringify(acl));
  assert.ok(acl.some((a) => a.path === '/storage' && a.type === 'group' && a.ugid === 'testers' && a.roleid === 'PVEDatastoreUser' && Number(a.propagate) === 0), JSON.stringify(acl));
  await apiClient(daemon.url, 'alice@pve', 'alice-secret-1'); // her password works

  // Remove the group permission again.
  await gridRow(view(page), '/storage', 'testers').click();
  await view(page).getByRole('button', { name: 'Remove' }).click();
  await dialog(page, 'Remove permission').getByRole('button', { name: 'Remove' }).click();
  await gridRow(view(page), '/storage', 'testers').waitFor({ state: 'detached' });
  assert.ok(!(await api.get('/access/acl')).some((a) => a.ugid === 'testers'));
  assertNoErrors();
});

test('the API\'s parameter errors show next to their fields; edit, password and remove work', async (t) => {
  const { page, api, daemon, assertNoErrors } = await setup(t, { allowErrors: [/status of 400/] });
  await loginAsAdmin(page);
  await openTab(page, 'Datacenter', 'Users');
  await view(page).getByRole('button', { name: 'Add' }).click();
  const dlg = dialog(page, 'Add: User');
  await dlg.getByLabel('User name').fill('bob');
  await field(dlg, 'Password').locator('input').fill('short');
  await field(dlg, 'Confirm password').locator('input').fill('other');
  await dlg.getByRole('button', { name: 'Add' }).click();
  // Checked in the form first.
  await field(dlg, 'Password').locator('.field-error', { hasText: 'at least 8' }).waitFor();
  await field(dlg, 'Confirm password').locator('.field-error', { hasText: 'do not match' }).waitFor();

  await field(dlg, 'Password').locator('input').fill('bob-secret-12');
  await field(dlg, 'Confirm password').locator('input').fill('bob-secret-12');
  await dlg.getByLabel('E-Mail').fill('not-an-address');
  await dlg.getByRole('button', { name: 'Add' }).click();
  // The server's per-parameter error, next to the field that sent it.
  const emailError = field(dlg, 'E-Mail').locator('.field-error');
  await emailError.waitFor();
  assert.match(await emailError.innerText(), /email/i);
  assert.match(await dlg.locator('.form-message').innerText(), /Parameter verification failed/);
  assert.equal(await field(dlg, 'E-Mail').locator('input').getAttribute('aria-invalid'), 'true');

  await dlg.getByLabel('E-Mail').fill('bob@example.com');
  await dlg.getByRole('button', { name: 'Add' }).click();
  await dlg.waitFor({ state: 'detached' });
  const row = gridRow(view(page), 'bob');
  await row.waitFor();

  // Edit: comment and disable.
  await row.dblclick();
  const edit = dialog(page, 'Edit: User bob@pve');
  await edit.getByLabel('Comment').fill('build robot');
  await edit.getByLabel('Enabled').uncheck();
  await edit.getByRole('button', { name: 'OK' }).click();
  await edit.waitFor({ state: 'detached' });
  await gridRow(view(page), 'bob', 'build robot', 'No').waitFor();
  let bob = await api.get('/access/users/bob@pve');
  assert.equal(bob.comment, 'build robot');
  assert.equal(Number(bob.enable), 0);
  await api.put('/access/users/bob@pve', { enable: 1 });

  // Password.
  await row.click();
  await view(page).getByRole('button', { name: 'Password' }).click();
  const pw = dialog(page, 'Change password: bob@pve');
  await field(pw, 'Password').locator('input').fill('bob-new-secret');
  await field(pw, 'Confirm password').locator('input').fill('bob-new-secret');
  await pw.getByRole('button', { name: 'OK' }).click();
  await pw.waitFor({ state: 'detached' });
  await apiClient(daemon.url, 'bob@pve', 'bob-new-secret');

  // Remove.
  await row.click();
  await view(page).getByRole('button', { name: 'Remove' }).click();
  await dialog(page, 'Remove user').getByRole('button', { name: 'Remove' }).click();
  await row.waitFor({ state: 'detached' });
  const gone = await request(daemon.url, 'GET', '/access/users/bob@pve', { headers: { Cookie: `PVEAuthCookie=${encodeURIComponent(api.ticket)}` } });
  assert.notEqual(gone.status, 200);
  bob = null;
  assertNoErrors();
});

test('built-in roles are read-only; a custom role is created and edited with the privilege picker', async (t) => {
  const { page, api, assertNoErrors } = await setup(t);
  await loginAsAdmin(page);
  await openTab(page, 'Datacenter', 'Roles');
  await gridRow(view(page), 'PVEAuditor').click();
  assert.equal(await view(page).getByRole('button', { name: 'Edit' }).isDisabled(), true);
  assert.equal(await view(page).getByRole('button', { name: 'Remove' }).isDisabled(), true);

  await view(page).getByRole('button', { name: 'Create' }).click();
  let dlg = dialog(page, 'Create: Role');
  await dlg.getByLabel('Name').fill('Watcher');
  await dlg.locator('.priv[data-priv="VM.Audit"]').waitFor();
  await dlg.getByLabel('VM.Audit', { exact: true }).check();
  await dlg.getByLabel('Filter privileges').fill('sys.au');
  assert.equal(await dlg.locator('.priv:visible').count(), 1);
  await dlg.getByLabel('Sys.Audit', { exact: true }).check();
  await dlg.getByLabel('Filter privileges').fill('');
  await dlg.getByLabel('All Datastore privileges').check();
  await dlg.getByRole('button', { name: 'Create' }).click();
  await dlg.waitFor({ state: 'detached' });
  await gridRow(view(page), 'Watcher', 'No').waitFor();
  const privs = Object.keys(await api.get('/access/roles/Watcher')).sort();
  assert.deepEqual(privs, ['Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.AllocateTemplate', 'Datastore.Audit', 'Sys.Audit', 'VM.Audit']);

  await gridRow(view(page), 'Watcher').dblclick();
  dlg = dialog(page, 'Edit: Role Watcher');
  await dlg.locator('.priv[data-priv="Sys.Audit"] input:checked').waitFor();
  await dlg.getByLabel('All Datastore privileges').uncheck();
  await dlg.getByLabel('Sys.Audit', { exact: true }).uncheck();
  await dlg.getByRole('button', { name: 'OK' }).click();
  await dlg.waitFor({ state: 'detached' });
  await eventually(async () => JSON.stringify(Object.keys(await api.get('/access/roles/Watcher'))) === '["VM.Audit"]');

  await gridRow(view(page), 'Watcher').click();
  await view(page).getByRole('button', { name: 'Remove' }).click();
  await dialog(page, 'Remove role').getByRole('button', { name: 'Remove' }).click();
  await gridRow(view(page), 'Watcher').waitFor({ state: 'detached' });
  assert.ok(!(await api.get('/access/roles')).some((r) => r.roleid === 'Watcher'));
  assertNoErrors();
});

test('a new API token shows its secret once; it works; it can be removed', async (t) => {
  const { page, api, daemon, assertNoErrors } = await setup(t);
  await loginAsAdmin(page);
  await openTab(page, 'Datacenter', 'API Tokens');
  await view(page).locator('.grid-status', { hasText: 'No API tokens' }).waitFor();
  await view(page).getByRole('button', { name: 'Add' }).click();
  const dlg = dialog(page, 'Add: Token');
  assert.equal(await dlg.getByLabel('User').inputValue(), 'admin@pve');
  await dlg.getByLabel('Token ID').fill('automation');
  await dlg.getByLabel('Comment').fill('CI scripts');
  await dlg.getByRole('button', { name: 'Add' }).click();

  const secretWindow = dialog(page, 'Token Secret');
  await secretWindow.waitFor();
  assert.equal(await secretWindow.locator('.token-id').innerText(), 'admin@pve!automation');
  const secret = await secretWindow.getByLabel('Secret').inputValue();
  assert.match(secret, /^[0-9a-f-]{36}$/);
  assert.match(await secretWindow.innerText(), /only be displayed now/);

  // The secret authenticates API calls.
  const withToken = await request(daemon.url, 'GET', '/access/users', { headers: { Authorization: `PVEAPIToken=admin@pve!automation=${secret}` } });
  assert.equal(withToken.status, 200);

  await secretWindow.getByRole('button', { name: 'OK' }).click();
  await secretWindow.waitFor({ state: 'detached' });
  await gridRow(view(page), 'admin@pve', 'automation', 'CI scripts', 'Yes').waitFor();
  // Shown once: nowhere on the page any more.
  assert.ok(!(await page.content()).includes(secret), 'the secret is gone from the page');
  const tokens = await api.get('/access/users/admin@pve/token');
  assert.deepEqual(tokens.map((x) => x.tokenid), ['automation']);

  await gridRow(view(page), 'automation').click();
  await view(page).getByRole('button', { name: 'Remove' }).click();
  await dialog(page, 'Remove token').getByRole('button', { name: 'Remove' }).click();
  await gridRow(view(page), 'automation').waitFor({ state: 'detached' });
  assert.deepEqual(await api.get('/access/users/admin@pve/token'), []);
  assertNoErrors();
});
