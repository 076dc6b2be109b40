// The login form: user name, password, realm (from GET /access/domains).

import { api } from '../api.js';
import { h } from '../dom.js';
import { createForm } from '../components/form.js';
import * as session from '../session.js';

const REALM_KEY = 'oxve.realm';

function defaultRealm(domains) {
  const remembered = localStorage.getItem(REALM_KEY);
  if (remembered && domains.some((d) => d.realm === remembered)) return remembered;
  const flagged = domains.find((d) => Number(d.default) === 1);
  if (flagged) return flagged.realm;
  if (domains.some((d) => d.realm === 'pve')) return 'pve';
  return domains[0]?.realm || 'pam';
}

/**
 * createLogin({ username, message, onLogin(session) }) -> { el, focus() }
 * `username` pre-fills (and, after an expired ticket, fixes) the user.
 */
export function createLogin({ username = '', message = '', onLogin }) {
  let fixedRealm = null;
  let user = username;
  if (username.includes('@')) {
    const at = username.lastIndexOf('@');
    user = username.slice(0, at);
    fixedRealm = username.slice(at + 1);
  }
  const form = createForm([
    { name: 'username', label: 'User name', required: true, value: user, autocomplete: 'username', params: ['username'] },
    { name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'current-password', params: ['password'] },
    { name: 'realm', label: 'Realm', type: 'select', options: fixedRealm ? [{ value: fixedRealm, label: fixedRealm }] : [], value: fixedRealm, params: ['realm'] },
  ]);
  const submit = h('button', { type: 'submit', class: 'btn primary login-button' }, 'Login');
  const formEl = h('form', { class: 'login-form', novalidate: true },
    message ? h('p', { class: 'login-notice', role: 'status' }, message) : null,
    form.el,
    h('div', { class: 'login-buttons' }, submit));
  const el = h('div', { class: 'login-card', role: 'region', 'aria-label': 'Login' },
    h('div', { class: 'login-header' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), h('h1', null, 'oxve Login')),
    formEl);

  api.get('/access/domains', null, { auth: false }).then((domains) => {
    const list = (domains || []).slice().sort((a, b) => a.realm.localeCompare(b.realm));
    const options = list.map((d) => ({ value: d.realm, label: d.comment || d.realm }));
    if (fixedRealm && !list.some((d) => d.realm === fixedRealm)) options.push({ value: fixedRealm, label: fixedRealm });
    form.setOptions('realm', options, fixedRealm || defaultRealm(list));
  }).catch((err) => {
    form.setMessage(`Cannot load the realms: ${err.message}`);
    form.setOptions('realm', [{ value: 'pam', label: 'pam' }, { value: 'pve', label: 'pve' }], fixedRealm || 'pve');
  });

  formEl.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (submit.disabled || !form.validate()) return;
    const { username: name, password, realm } = form.values();
    submit.disabled = true;
    el.classList.add('busy');
    try {
      const s = await session.login(name, password, realm);
      localStorage.setItem(REALM_KEY, realm);
      onLogin(s);
    } catch (err) {
      form.set('password', '');
      if (err.status === 401 || err.status === 403) {
        form.showError({ message: `Login failed: ${err.message}. Please try again.`, errors: err.errors });
        form.control('password').focus();
      } else {
        form.showError(err);
      }
    } finally {
      submit.disabled = false;
      el.classList.remove('busy');
    }
  });

  return {
    el,
    focus() {
      if (form.get('username')) form.control('password').focus();
      else form.control('username').focus();
    },
  };
}
