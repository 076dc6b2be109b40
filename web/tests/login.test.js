// Login, session cookie, renewal, expiry and logout in a real browser against a real daemon.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, NODE, login, loginAsAdmin, setup, treeItem, dialog } from './helpers.js';

test('a wrong password shows the error and stays on the login screen', async (t) => {
  // The browser logs the refused request itself.
  const { page, assertNoErrors } = await setup(t, { allowErrors: [/status of 401/] });
  const card = page.locator('.login-card');
  await card.getByRole('button', { name: 'Login' }).click();
  // Empty fields: the form says so next to them, nothing is sent.
  await assert.doesNotReject(card.locator('.field[data-field=username] .field-error', { hasText: 'required' }).waitFor());

  await login(page, { password: 'not-the-password' });
  const message = card.locator('.form-message');
  await message.waitFor();
  assert.match(await message.innerText(), /Login failed: authentication failure/);
  assert.equal(await card.getByLabel('Password').inputValue(), '', 'the password field is cleared');
  assert.equal(await page.locator('.tree-panel').count(), 0, 'no main screen');
  const cookies = await page.context().cookies();
  assert.ok(!cookies.some((c) => c.name === 'PVEAuthCookie'), 'no ticket cookie');
  assertNoErrors();
});

test('login shows the tree with the node; the session survives a reload; logout returns to login', async (t) => {
  const { page, api, assertNoErrors } = await setup(t);
  // The realm list comes from /access/domains.
  const domains = (await api.get('/access/domains')).map((d) => d.realm).sort();
  await page.locator(`.login-card select[name=realm] option[value="${domains[0]}"]`).waitFor({ state: 'attached' });
  const realms = await page.locator('.login-card select[name=realm] option').evaluateAll((os) => os.map((o) => o.value));
  assert.deepEqual(realms.sort(), domains);

  await loginAsAdmin(page);
  await treeItem(page, 'Datacenter').waitFor();
  assert.equal(await page.locator('.current-user').innerText(), 'admin@pve');

  const cookie = (await page.context().cookies()).find((c) => c.name === 'PVEAuthCookie');
  assert.ok(cookie, 'ticket cookie set');
  assert.match(decodeURIComponent(cookie.value), /^PVE:admin@pve:[0-9A-F]{8}::/);
  assert.equal(cookie.path, '/');
  assert.equal(cookie.secure, true);
  assert.equal(cookie.sameSite, 'Strict');

  // A reload continues the session (the ticket is renewed to get a CSRF token).
  await page.reload();
  await treeItem(page, NODE).waitFor();
  assert.equal(await page.locator('.login-card').count(), 0);

  await page.getByRole('button', { name: 'Logout' }).click();
  await page.locator('.login-card').waitFor();
  assert.ok(!(await page.context().cookies()).some((c) => c.name === 'PVEAuthCookie'), 'cookie cleared');
  await page.reload();
  await page.locator('.login-card').waitFor();
  assert.equal(await page.locator('.tree-panel').count(), 0);
  assertNoErrors();
});

test('the ticket is renewed every 15 minutes and the new CSRF token is used', async (t) => {
  const { page, api, daemon, assertNoErrors } = await setup(t);
  await page.clock.install();
  await page.goto(`${daemon.url}/`);
  await loginAsAdmin(page);

  const renewal = page.waitForRequest((req) => req.method() === 'POST' && req.url().endsWith('/api2/json/access/ticket') &&
    new URLSearchParams(req.postData()).get('password')?.startsWith('PVE:admin@pve:'));
  await page.clock.fastForward('15:05');
  const req = await renewal;
  const resp = await req.response();
  assert.equal(resp.status(), 200);
  const renewed = (await resp.json()).data;
  await page.waitForFunction((ticket) => document.cookie.includes(encodeURIComponent(ticket)), renewed.ticket);

  // A write after the renewal works (it carries the new CSRF token).
  await treeItem(page, 'Datacenter').locator(':scope > .tree-row').click();
  await page.locator('.content-tabs').getByRole('tab', { name: 'Groups', exact: true }).click();
  await page.locator('.content-view').getByRole('button', { name: 'Create', exact: true }).click();
  const dlg = dialog(page, 'Create: Group');
  await dlg.getByLabel('Name').fill('renewed');
  await dlg.getByRole('button', { name: 'Create' }).click();
  await dlg.waitFor({ state: 'detached' });
  const groups = await api.get('/access/groups');
  assert.ok(groups.some((g) => g.groupid === 'renewed'));
  assertNoErrors();
});

test('a refused ticket brings a login window over the screen, keeping the view', async (t) => {
  const { page, assertNoErrors } = await setup(t, { allowErrors: [/status of 401/] });
  await loginAsAdmin(page);
  await treeItem(page, NODE).locator(':scope > .tree-row').click();
  await page.locator('.node-summary td[data-key=kversion]').filter({ hasText: /\S/ }).waitFor();
  // The ticket disappears (as when it expires): the next poll gets 401.
  await page.context().clearCookies();
  const relogin = page.locator('.window.relogin[data-state=open]');
  await relogin.waitFor();
  assert.match(await relogin.innerText(), /session has expired/);
  await relogin.getByLabel('Password').fill(ADMIN_PASSWORD);
  await relogin.getByRole('button', { name: 'Login' }).click();
  await relogin.waitFor({ state: 'detached' });
  // Still on the node's summary, which goes on refreshing.
  assert.match(page.url(), /#node\/testnode/);
  await page.locator('.node-summary').waitFor();
  assert.ok((await page.context().cookies()).some((c) => c.name === 'PVEAuthCookie'));
  assertNoErrors();
});

test('an expired ticket while a form is open: log in again over it and send it unchanged', async (t) => {
  const { page, api, assertNoErrors } = await setup(t, { allowErrors: [/status of 401/] });
  await loginAsAdmin(page);
  await treeItem(page, 'Datacenter').locator(':scope > .tree-row').click();
  await page.locator('.content-tabs').getByRole('tab', { name: 'Groups', exact: true }).click();
  await page.locator('.content-view').getByRole('button', { name: 'Create', exact: true }).click();
  const dlg = dialog(page, 'Create: Group');
  await dlg.getByLabel('Name').fill('kept');
  await dlg.getByLabel('Comment').fill('typed before the ticket expired');
  await page.context().clearCookies();
  await dlg.getByRole('button', { name: 'Create' }).click();
  // The login window comes over the form; the form keeps what was typed.
  const relogin = page.locator('.window.relogin[data-state=open]');
  await relogin.waitFor();
  await relogin.getByLabel('Password').fill(ADMIN_PASSWORD);
  await relogin.getByRole('button', { name: 'Login' }).click();
  await relogin.waitFor({ state: 'detached' });
  assert.equal(await dlg.getByLabel('Name').inputValue(), 'kept');
  assert.match(await dlg.locator('.form-message').innerText(), /session has expired/);
  await dlg.getByRole('button', { name: 'Create' }).click();
  await dlg.waitFor({ state: 'detached' });
  const groups = await api.get('/access/groups');
  assert.ok(groups.some((g) => g.groupid === 'kept' && g.comment === 'typed before the ticket expired'), JSON.stringify(groups));
  assertNoErrors();
});
