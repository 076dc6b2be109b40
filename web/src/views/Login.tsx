// The login form: user name, password, realm (from GET /access/domains).

import { useEffect, useRef, useState, type JSX } from 'react';
import { ApiError, api } from '../lib/api';
import * as session from '../lib/session';
import { FormView } from '../components/Form';
import { FormModel } from '../components/form-model';

const REALM_KEY = 'oxve.realm';

interface Domain {
  realm: string;
  comment?: string;
  default?: number;
}

function defaultRealm(domains: Domain[]): string {
  const remembered = localStorage.getItem(REALM_KEY);
  if (remembered && domains.some((d) => d.realm === remembered)) return remembered;
  const flagged = domains.find((d) => Number(d.default) === 1);
  if (flagged) return flagged.realm;
  if (domains.some((d) => d.realm === 'pve')) return 'pve';
  return domains[0]?.realm || 'pam';
}

/** `username` pre-fills (and, after an expired ticket, fixes) the user. */
export function Login({ username = '', message = '', onLogin }: { username?: string; message?: string; onLogin: (s: session.Session) => void }): JSX.Element {
  const [busy, setBusy] = useState(false);
  const model = useRef<FormModel | null>(null);
  let fixedRealm: string | null = null;
  let user = username;
  if (username.includes('@')) {
    const at = username.lastIndexOf('@');
    user = username.slice(0, at);
    fixedRealm = username.slice(at + 1);
  }
  if (!model.current) {
    model.current = new FormModel([
      { name: 'username', label: 'User name', required: true, value: user, autocomplete: 'username' },
      { name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'current-password' },
      { name: 'realm', label: 'Realm', type: 'select', options: fixedRealm ? [fixedRealm] : [], value: fixedRealm },
    ]);
  }
  const form = model.current;

  useEffect(() => {
    api.get<Domain[]>('/access/domains', null, { auth: false }).then((domains) => {
      const list = (domains || []).slice().sort((a, b) => a.realm.localeCompare(b.realm));
      const options = list.map((d) => ({ value: d.realm, label: d.comment || d.realm }));
      if (fixedRealm && !list.some((d) => d.realm === fixedRealm)) options.push({ value: fixedRealm, label: fixedRealm });
      form.setOptions('realm', options, fixedRealm || defaultRealm(list));
    }).catch((err: Error) => {
      form.setMessage(`Cannot load the realms: ${err.message}`);
      form.setOptions('realm', ['pam', 'pve'], fixedRealm || 'pve');
    });
    setTimeout(() => form.focus(form.get('username') ? 'password' : 'username'), 0);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const submit = async (ev: React.FormEvent): Promise<void> => {
    ev.preventDefault();
    if (busy || !form.validate()) return;
    const v = form.getValues();
    setBusy(true);
    try {
      const s = await session.login(String(v.username), String(v.password), String(v.realm));
      localStorage.setItem(REALM_KEY, String(v.realm));
      onLogin(s);
    } catch (err) {
      const e = err as ApiError;
      form.set('password', '');
      if (e.status === 401 || e.status === 403) {
        form.showError({ message: `Login failed: ${e.message}. Please try again.`, errors: e.errors });
        form.focus('password');
      } else {
        form.showError(e);
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className={busy ? 'login-card busy' : 'login-card'} role="region" aria-label="Login">
      <div className="login-header"><span className="logo" aria-hidden="true" /><h1>oxve Login</h1></div>
      <form className="login-form" noValidate onSubmit={submit}>
        {message ? <p className="login-notice" role="status">{message}</p> : null}
        <FormView model={form} />
        <div className="login-buttons"><button type="submit" className="btn primary login-button" disabled={busy}>Login</button></div>
      </form>
    </div>
  );
}
