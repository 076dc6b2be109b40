// Keyboard use of the main screens: the Tab order of the login form and of the main screen
// (header, tree, tabs, the view, the task bar), every stop visibly focused, and Enter / Escape in
// windows (the focus back on the opening button afterwards).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dialog, eventually, loginAsAdmin, openTab, setup } from './helpers.js';

/** The focused element: `role:name`, and whether it shows a focus ring (outline or shadow). */
function focusStop(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return { id: 'body', visible: true, ring: true };
    const cs = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    // The tree shows its ring on the item's row.
    const ringOf = el.matches('[role=treeitem]') ? getComputedStyle(el.querySelector('.tree-row')) : cs;
    const ring = (ringOf.outlineStyle !== 'none' && parseFloat(ringOf.outlineWidth) > 0) || ringOf.boxShadow !== 'none';
    const name = (el.getAttribute('aria-label') || el.textContent || el.getAttribute('name') || '').trim().slice(0, 30);
    return {
      id: `${el.getAttribute('role') || el.tagName.toLowerCase()}:${name}`,
      visible: r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth,
      ring,
    };
  });
}

async function tabStops(page, n) {
  const stops = [];
  for (let i = 0; i < n; i += 1) {
    await page.keyboard.press('Tab');
    stops.push(await focusStop(page));
  }
  for (const s of stops) {
    assert.ok(s.visible, `focus stop ${s.id} is off screen`);
    assert.ok(s.ring, `focus stop ${s.id} shows no focus ring`);
  }
  return stops.map((s) => s.id);
}

/** `ids` has these entries in this order (others may come between). */
function assertOrder(ids, expected) {
  let at = -1;
  for (const e of expected) {
    const next = ids.findIndex((id, i) => i > at && e.test(id));
    assert.ok(next > at, `${e} after position ${at} in the Tab order:\n${ids.join('\n')}`);
    at = next;
  }
}

test('Tab order and focus rings of the login and main screens; Enter and Escape in windows', async (t) => {
  const { page, assertNoErrors } = await setup(t);

  // Login: the user name first, then password, realm, Login; Enter in the password logs in.
  await page.locator('.login-card').waitFor();
  await eventually(async () => (await focusStop(page)).id === 'input:username');
  const login = await tabStops(page, 3);
  assert.deepEqual(login.map((id) => id.split(':')[0]), ['input', 'select', 'button']);
  assert.match(login[2], /Login/);
  await loginAsAdmin(page);

  // Main screen: header, tree filter and search, the tree (one stop), the tab list (one stop:
  // the active tab), the view's controls, then the task bar.
  await openTab(page, 'testnode', 'Summary');
  // From the logo link, the page's first stop.
  await page.locator('header a').first().focus();
  const main = await tabStops(page, 14);
  assertOrder(main, [/button:Create VM/, /button:Logout/, /select:Filter by type/, /input:Search resources/, /treeitem:testnode/,
    /^tab:Summary/, /select:Timeframe/, /th:Start Time/]);
  assert.equal(main.filter((id) => id.startsWith('treeitem')).length, 1, 'the tree is one Tab stop');
  assert.equal(main.filter((id) => id.startsWith('tablist')).length, 0, 'the tab list is no stop of its own');
  assert.equal(main.filter((id) => id.startsWith('tab:')).length, 1, 'the tabs are one Tab stop');

  // Arrow keys move between tabs; Enter on a tree item opens it.
  await page.locator('.content-tabs [role=tab][data-state=active]').focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await eventually(async () => (await page.locator('.content-tabs [role=tab][data-state=active]').innerText()) !== 'Summary');

  // A wizard window: Enter on the button opens it with the focus inside; Escape closes it and
  // the focus goes back to the button.
  await page.getByRole('button', { name: 'Create VM' }).focus();
  await page.keyboard.press('Enter');
  const wiz = dialog(page, 'Create: Virtual Machine');
  await wiz.waitFor();
  await eventually(() => wiz.evaluate((el) => el.contains(document.activeElement)));
  await page.keyboard.press('Escape');
  await wiz.waitFor({ state: 'detached' });
  await eventually(async () => (await focusStop(page)).id === 'button:Create VM');

  // A form window: Enter in a field submits it (the error shows at the field), Escape cancels.
  await openTab(page, 'Datacenter', 'Groups');
  await page.locator('.content-view').getByRole('button', { name: 'Create' }).click();
  const form = dialog(page, 'Create: Group');
  await form.getByLabel('Name').press('Enter');
  await form.locator('.field-error').first().waitFor();
  await form.getByLabel('Name').fill('kbd');
  await form.getByLabel('Name').press('Enter');
  await form.waitFor({ state: 'detached' });
  await page.locator('.content-view tbody tr', { hasText: 'kbd' }).waitFor();
  assertNoErrors();
});
