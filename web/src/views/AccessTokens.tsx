// Datacenter -> Permissions -> API Tokens: list, create (the secret is shown once), edit, remove.

import { useRef, useState, type JSX } from 'react';
import { api, apiPath } from '../lib/api';
import { dateInput, epochFromDateInput, time } from '../lib/format';
import { useLoad } from '../lib/hooks';
import * as session from '../lib/session';
import { confirmDialog, openFormDialog, openWindow, runAction, WindowButtons } from '../components/Dialog';
import { Grid, Toolbar, useSelection } from '../components/Grid';
import { ErrorLine } from '../components/widgets';
import type { User } from './AccessUsers';

interface Token {
  userid: string;
  tokenid: string;
  comment?: string;
  expire?: number;
  privsep?: number;
}

const tokenKey = (t: Pick<Token, 'userid' | 'tokenid'>): string => `${t.userid}!${t.tokenid}`;

function SecretBody({ fullTokenid, secret, onOk }: { fullTokenid: string; secret: string; onOk: () => void }): JSX.Element {
  const [copied, setCopied] = useState('');
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <div className="window-body">
        <div className="form">
          <div className="form-grid">
            <div className="field"><span className="label">Token ID:</span><div className="control"><output className="token-id">{fullTokenid}</output></div></div>
            <div className="field"><span className="label">Secret:</span><div className="control">
              <input ref={input} type="text" className="secret" readOnly value={secret} aria-label="Secret" spellCheck={false} autoFocus onFocus={(e) => e.target.select()} />
            </div></div>
          </div>
          <p className="warning-text">Please record the API token secret - it will only be displayed now.</p>
          <div>
            <button type="button" className="btn" onClick={async () => {
              input.current?.select();
              try {
                await navigator.clipboard.writeText(secret);
                setCopied('Copied.');
              } catch {
                setCopied('Select the secret and copy it with Ctrl+C.');
              }
            }}>Copy Secret Value</button> <span className="muted" role="status">{copied}</span>
          </div>
        </div>
      </div>
      <WindowButtons buttons={[{ text: 'OK', primary: true, onClick: onOk }]} />
    </>
  );
}

/** The secret of a new token, shown this one time. */
function showSecret(fullTokenid: string, secret: string): Promise<void> {
  return new Promise((resolve) => {
    const win = openWindow({ title: 'Token Secret', width: 560, className: 'token-secret', onClose: () => resolve() },
      () => <SecretBody fullTokenid={fullTokenid} secret={secret} onOk={() => win.close()} />);
  });
}

export function AccessTokens(): JSX.Element {
  const { data: users, error, reload } = useLoad(() => api.get<User[]>('/access/users', { full: 1 }));
  const rows: Token[] = (users ?? []).flatMap((u) => (u.tokens || []).map((t) => ({ ...t, userid: u.userid })));
  const [selected, setSelected, sel] = useSelection(rows, tokenKey);
  const [pending, setPending] = useState<string | null>(null);
  if (pending && rows.some((t) => tokenKey(t) === pending)) {
    setPending(null);
    setSelected(pending);
  }

  const add = async (): Promise<void> => {
    const me = session.username() ?? '';
    const userids = (users ?? []).map((u) => u.userid).sort();
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
        const data = await api.post<{ 'full-tokenid'?: string; value: string }>(apiPath('access', 'users', String(v.userid), 'token', String(v.tokenid)), {
          privsep: Boolean(v.privsep),
          expire: v.expire ? epochFromDateInput(String(v.expire)) : undefined,
          comment: v.comment ? String(v.comment) : undefined,
        });
        return { key: `${v.userid}!${v.tokenid}`, data };
      },
    });
    if (!created || created === true) return;
    await showSecret(created.data['full-tokenid'] || created.key, created.data.value);
    setPending(created.key);
    reload();
  };
  const edit = async (t: Token): Promise<void> => {
    const changed = await openFormDialog({
      title: `Edit: Token ${tokenKey(t)}`,
      fields: [
        { name: 'id', label: 'Token ID', type: 'display', value: tokenKey(t) },
        { name: 'privsep', label: 'Privilege Separation', type: 'checkbox', value: Boolean(Number(t.privsep ?? 1)), params: ['privsep'] },
        { name: 'expire', label: 'Expire', type: 'date', value: dateInput(t.expire), help: 'Empty: never', params: ['expire'] },
        { name: 'comment', label: 'Comment', value: t.comment || '', params: ['comment'] },
      ],
      onSubmit: (v) => api.put(apiPath('access', 'users', t.userid, 'token', t.tokenid), {
        privsep: Boolean(v.privsep),
        expire: epochFromDateInput(String(v.expire)),
        comment: v.comment ? String(v.comment) : undefined,
        delete: v.comment ? undefined : 'comment',
      }),
    });
    if (changed) reload();
  };
  const remove = async (t: Token): Promise<void> => {
    if (!await confirmDialog({ title: 'Remove token', message: `Remove API token ${tokenKey(t)}?`, confirmText: 'Remove', danger: true })) return;
    await runAction(() => api.delete(apiPath('access', 'users', t.userid, 'token', t.tokenid)), 'Cannot remove token');
    reload();
  };

  return (
    <div className="view grid-view">
      <Toolbar items={[
        // The user list fills the dialog's User field: no Add before it is loaded.
        { text: 'Add', enabled: Boolean(users), onClick: add },
        { text: 'Edit', enabled: Boolean(sel), onClick: () => sel && edit(sel) },
        { text: 'Remove', enabled: Boolean(sel), onClick: () => sel && remove(sel) },
      ]} />
      <ErrorLine error={error} />
      <Grid label="API Tokens" rows={rows} rowKey={tokenKey} emptyText={users ? 'No API tokens' : 'Loading…'} selected={selected} onSelect={setSelected}
        onActivate={edit}
        columns={[
          { key: 'userid', title: 'User', width: '200px' },
          { key: 'tokenid', title: 'Token name', width: '160px' },
          { key: 'expire', title: 'Expire', width: '110px', render: (t) => (Number(t.expire) ? time(t.expire).slice(0, 10) : 'never') },
          { key: 'privsep', title: 'Privilege Separation', width: '150px', render: (t) => (Number(t.privsep ?? 1) ? 'Yes' : 'No') },
          { key: 'comment', title: 'Comment' },
        ]} />
    </div>
  );
}
