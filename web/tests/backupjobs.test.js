// Datacenter -> Backup: backup jobs through the UI against a real daemon (GET/POST
// /cluster/backup, PUT/DELETE /cluster/backup/{id}): create with schedule, selection, storage,
// mode, compression and retention (a bad schedule shows at its field), the next run listed, edit,
// remove. Driven by the keyboard where a user would: Escape cancels, Enter submits, Tab order.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dialog, eventually, field, gridRow, loginAsAdmin, openTab, screenshot, setup } from './helpers.js';

const view = (page) => page.locator('.content-view');

/** A short description of the focused element: role or tag, and its name. */
function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return 'body';
    const role = el.getAttribute('role') || el.tagName.toLowerCase();
    const name = el.getAttribute('aria-label') || el.textContent?.trim().slice(0, 30) || el.getAttribute('name') || '';
    return `${role}:${name}`;
  });
}

test('backup jobs: create, list with next run, edit, remove; keyboard in dialogs', async (t) => {
  const { page, api, assertNoErrors } = await setup(t, { allowErrors: [/status of 400/] });
  await loginAsAdmin(page);
  await openTab(page, 'Datacenter', 'Backup');
  const jobs = view(page);
  await jobs.locator('.grid-status', { hasText: 'No backup jobs' }).waitFor();

  // Escape closes the window without creating anything; the focus starts inside it.
  await jobs.getByRole('button', { name: 'Add' }).click();
  let dlg = dialog(page, 'Create: Backup Job');
  await dlg.locator('select[name=storage] option[value=local]').waitFor({ state: 'attached' });
  assert.equal(await dlg.evaluate((el) => el.contains(document.activeElement)), true, 'the focus is in the window');
  // Tab stays inside the window (focus trap), through all its controls.
  for (let i = 0; i < 25; i += 1) await page.keyboard.press('Tab');
  assert.equal(await dlg.evaluate((el) => el.contains(document.activeElement)), true, 'Tab stays in the window');
  await page.keyboard.press('Escape');
  await dlg.waitFor({ state: 'detached' });
  assert.deepEqual(await api.get('/cluster/backup'), []);
  // The focus goes back to the button that opened it.
  await eventually(async () => /button:Add/.test(await focused(page)));

  // Create: a bad schedule is refused at its field; Enter in a field submits.
  await page.keyboard.press('Enter');
  dlg = dialog(page, 'Create: Backup Job');
  await dlg.locator('select[name=storage] option[value=local]').waitFor({ state: 'attached' });
  await dlg.getByLabel('Schedule').fill('someday at noon');
  await dlg.getByLabel('Selection mode').selectOption('include');
  await dlg.getByLabel('VM IDs').fill('100, 101');
  await dlg.getByLabel('Mode', { exact: true }).selectOption('stop');
  await dlg.getByLabel('Compression').selectOption('gzip');
  await dlg.getByLabel('Keep last', { exact: true }).fill('3');
  await dlg.getByLabel('Keep daily').fill('7');
  await dlg.getByLabel('Comment').fill('nightly');
  await dlg.getByLabel('Comment').press('Enter');
  await field(dlg, 'Schedule').locator('.field-error').waitFor();
  await dlg.getByLabel('Schedule').fill('mon..fri 22:30');
  await screenshot(page, 'backup-job-create');
  await dlg.getByLabel('Schedule').press('Enter');
  await dlg.waitFor({ state: 'detached' });

  const [job] = await api.get('/cluster/backup');
  assert.equal(job.schedule, 'mon..fri 22:30');
  assert.equal(job.vmid, '100,101');
  assert.equal(job.storage, 'local');
  assert.equal(job.mode, 'stop');
  assert.equal(job.compress, 'gzip');
  assert.equal(job.comment, 'nightly');
  assert.deepEqual(job['prune-backups'], { 'keep-last': 3, 'keep-daily': 7 });
  assert.ok(job['next-run'] > Date.now() / 1000, JSON.stringify(job));
  const row = gridRow(jobs, 'mon..fri 22:30');
  await row.waitFor();
  const text = await row.innerText();
  assert.match(text, /100,101/);
  assert.match(text, /nightly/);
  assert.match(text, /\d{4}-\d{2}-\d{2}/, 'the next run is shown');
  await screenshot(page, 'dc-backup-jobs');

  // Edit (Enter on the row): back to all guests, one retention setting less, disabled.
  await row.click();
  await page.keyboard.press('Enter');
  dlg = dialog(page, `Edit: Backup Job ${job.id}`);
  assert.equal(await dlg.getByLabel('VM IDs').inputValue(), '100,101');
  assert.equal(await dlg.getByLabel('Keep last', { exact: true }).inputValue(), '3');
  assert.equal(await dlg.getByLabel('Schedule').inputValue(), 'mon..fri 22:30');
  await dlg.getByLabel('Selection mode').selectOption('all');
  await dlg.getByLabel('Keep daily').fill('');
  await dlg.getByLabel('Enabled').uncheck();
  await dlg.getByRole('button', { name: 'OK' }).click();
  await dlg.waitFor({ state: 'detached' });
  const edited = await api.get(`/cluster/backup/${job.id}`);
  assert.equal(Number(edited.all), 1);
  assert.equal(edited.vmid, undefined);
  assert.equal(Number(edited.enabled), 0);
  assert.deepEqual(edited['prune-backups'], { 'keep-last': 3 });
  await eventually(async () => /All/.test(await gridRow(jobs, 'mon..fri 22:30').innerText()));
  assert.match(await gridRow(jobs, 'mon..fri 22:30').locator('td').first().innerText(), /no/);

  // Remove: Escape in the confirmation keeps the job; then confirm.
  await gridRow(jobs, 'mon..fri 22:30').click();
  await jobs.getByRole('button', { name: 'Remove' }).click();
  await dialog(page, 'Remove backup job').waitFor();
  await page.keyboard.press('Escape');
  await dialog(page, 'Remove backup job').waitFor({ state: 'detached' });
  assert.equal((await api.get('/cluster/backup')).length, 1);
  await jobs.getByRole('button', { name: 'Remove' }).click();
  await dialog(page, 'Remove backup job').getByRole('button', { name: 'Remove' }).click();
  await jobs.locator('.grid-status', { hasText: 'No backup jobs' }).waitFor();
  assert.deepEqual(await api.get('/cluster/backup'), []);
  assertNoErrors();
});
