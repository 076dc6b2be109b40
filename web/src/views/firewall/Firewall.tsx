// Firewall rules and options at datacenter (/cluster/firewall), node (/nodes/{node}/firewall)
// and guest (/nodes/{node}/{qemu|lxc}/{vmid}/firewall) level: add, edit, enable/disable,
// move and remove rules; edit options; all with the file's digest, as Proxmox's UI.

import { useState, type JSX } from 'react';
import { api, apiPath, type Params } from '../../lib/api';
import { usePoll } from '../../lib/hooks';
import { confirmDialog, openFormDialog, runAction } from '../../components/Dialog';
import { Grid, Toolbar, useSelection } from '../../components/Grid';
import type { FieldSpec } from '../../components/form-model';
import { ErrorLine } from '../../components/widgets';
import type { ViewContext } from '../context';
import { guestNode } from '../guest/guest';

export interface FwRule {
  pos: number;
  type: string;
  action: string;
  enable?: number;
  iface?: string;
  source?: string;
  dest?: string;
  proto?: string;
  dport?: string;
  sport?: string;
  macro?: string;
  log?: string;
  comment?: string;
  digest?: string;
}

/** The firewall base path of a tree object. */
export function firewallBase(ctx: ViewContext): string {
  if (ctx.type === 'qemu' || ctx.type === 'lxc') return apiPath('nodes', guestNode(ctx), ctx.type, String(ctx.vmid), 'firewall');
  if (ctx.type === 'node') return apiPath('nodes', ctx.node || '', 'firewall');
  return '/cluster/firewall';
}

const LOG_LEVELS = ['nolog', 'emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];
const RULE_KEYS = ['type', 'action', 'enable', 'iface', 'source', 'dest', 'proto', 'dport', 'sport', 'macro', 'log', 'comment'];

function ruleFields(r: FwRule | null, isGuest: boolean): FieldSpec[] {
  return [
    { name: 'type', label: 'Direction', type: 'select', value: r?.type ?? 'in', options: [{ value: 'in', label: 'in' }, { value: 'out', label: 'out' }, ...(isGuest ? [] : [{ value: 'forward', label: 'forward' }])] },
    { name: 'action', label: 'Action', type: 'select', value: r?.action ?? 'ACCEPT', options: ['ACCEPT', 'DROP', 'REJECT'] },
    { name: 'enable', label: 'Enable', type: 'checkbox', value: r ? Boolean(r.enable) : true },
    { name: 'iface', label: 'Interface', value: r?.iface ?? '', placeholder: isGuest ? 'net0' : 'any' },
    { name: 'source', label: 'Source', value: r?.source ?? '', placeholder: 'any' },
    { name: 'dest', label: 'Destination', value: r?.dest ?? '', placeholder: 'any' },
    { name: 'macro', label: 'Macro', value: r?.macro ?? '', placeholder: 'none (e.g. SSH)' },
    { name: 'proto', label: 'Protocol', value: r?.proto ?? '', list: ['tcp', 'udp', 'icmp', 'icmpv6'], placeholder: 'any' },
    { name: 'sport', label: 'Source port', value: r?.sport ?? '' },
    { name: 'dport', label: 'Dest. port', value: r?.dport ?? '' },
    { name: 'log', label: 'Log level', type: 'select', value: r?.log ?? 'nolog', options: LOG_LEVELS },
    { name: 'comment', label: 'Comment', value: r?.comment ?? '', wide: true },
  ];
}

function ruleParams(v: Record<string, unknown>, editing: boolean): Params {
  const p: Params = {};
  const del: string[] = [];
  for (const k of RULE_KEYS) {
    const x = v[k];
    if (typeof x === 'boolean') p[k] = x ? 1 : 0;
    else if (x === '' || x === undefined) {
      if (editing && k !== 'type' && k !== 'action') del.push(k);
    } else p[k] = String(x);
  }
  if (del.length) p.delete = del.join(',');
  return p;
}

export function FirewallRules({ ctx }: { ctx: ViewContext }): JSX.Element {
  const base = firewallBase(ctx);
  const isGuest = ctx.type === 'qemu' || ctx.type === 'lxc';
  const [rows, setRows] = useState<FwRule[]>([]);
  const [error, setError] = useState<Error | null>(null);
  const reload = usePoll(async () => {
    try {
      setRows(await api.get<FwRule[]>(`${base}/rules`));
      setError(null);
    } catch (e) {
      setError(e as Error);
    }
  }, 10000, [base]);
  const [selected, setSelected, sel] = useSelection(rows, (r) => String(r.pos));
  const digest = rows[0]?.digest;

  const edit = async (r: FwRule | null): Promise<void> => {
    const done = await openFormDialog({
      title: r ? `Edit: Rule ${r.pos}` : 'Add: Rule',
      submitText: r ? 'OK' : 'Add',
      columns: 2,
      fields: ruleFields(r, isGuest),
      onSubmit: (v) => (r
        ? api.put(`${base}/rules/${r.pos}`, { ...ruleParams(v, true), digest })
        : api.post(`${base}/rules`, { ...ruleParams(v, false), digest })),
    });
    if (done) reload();
  };
  const toggle = async (r: FwRule): Promise<void> => {
    await runAction(() => api.put(`${base}/rules/${r.pos}`, { enable: r.enable ? 0 : 1, digest }), 'Cannot change the rule');
    reload();
  };
  const move = async (r: FwRule, by: number): Promise<void> => {
    const to = r.pos + by;
    if (to < 0 || to >= rows.length) return;
    // The server takes the rule out and puts it back at index moveto.
    await runAction(() => api.put(`${base}/rules/${r.pos}`, { moveto: to, digest }), 'Cannot move the rule');
    setSelected(String(to));
    reload();
  };
  const remove = async (r: FwRule): Promise<void> => {
    if (!await confirmDialog({ title: 'Remove rule', message: `Remove rule ${r.pos} (${r.type} ${r.action})?`, confirmText: 'Remove', danger: true })) return;
    await runAction(() => api.delete(`${base}/rules/${r.pos}`, { digest }), 'Cannot remove the rule');
    setSelected(null);
    reload();
  };
  return (
    <div className="view grid-view firewall-rules">
      <Toolbar items={[
        { text: 'Add', primary: true, onClick: () => void edit(null) },
        { text: 'Edit', enabled: Boolean(sel), onClick: () => sel && void edit(sel) },
        { text: 'Remove', danger: true, enabled: Boolean(sel), onClick: () => sel && void remove(sel) },
        { text: sel && !sel.enable ? 'Enable' : 'Disable', enabled: Boolean(sel), onClick: () => sel && void toggle(sel) },
        { text: 'Move up', enabled: Boolean(sel && sel.pos > 0), onClick: () => sel && void move(sel, -1) },
        { text: 'Move down', enabled: Boolean(sel && sel.pos < rows.length - 1), onClick: () => sel && void move(sel, 1) },
      ]} />
      <ErrorLine error={error} />
      <Grid label="Firewall rules" rows={rows} rowKey={(r) => String(r.pos)} selected={selected} onSelect={setSelected}
        onActivate={(r) => void edit(r)} emptyText="No rules"
        columns={[
          { key: 'pos', title: '#', width: '32px', sortable: false },
          { key: 'enable', title: 'On', width: '36px', sortable: false, render: (r) => (r.enable ? '✔' : '') },
          { key: 'type', title: 'Direction', width: '80px', sortable: false },
          { key: 'action', title: 'Action', width: '72px', sortable: false },
          { key: 'iface', title: 'Interface', width: '80px', sortable: false },
          { key: 'source', title: 'Source', width: '100px', sortable: false },
          { key: 'dest', title: 'Destination', width: '100px', sortable: false },
          { key: 'proto', title: 'Proto/Macro', width: '95px', sortable: false, render: (r) => r.macro ?? r.proto ?? '' },
          { key: 'dport', title: 'Dest. port', width: '85px', sortable: false },
          { key: 'comment', title: 'Comment', sortable: false, render: (r) => [r.comment, r.log && r.log !== 'nolog' ? `(log ${r.log})` : ''].filter(Boolean).join(' ') },
        ]} />
    </div>
  );
}

interface OptionSpec {
  key: string;
  title: string;
  kind: 'bool' | 'policy' | 'log' | 'number' | 'text';
  default: string;
  options?: string[];
}

const POLICY = ['ACCEPT', 'REJECT', 'DROP'];

function optionSpecs(type: ViewContext['type']): OptionSpec[] {
  if (type === 'datacenter') {
    return [
      { key: 'enable', title: 'Firewall', kind: 'bool', default: '0' },
      { key: 'ebtables', title: 'ebtables', kind: 'bool', default: '1' },
      { key: 'policy_in', title: 'Input Policy', kind: 'policy', default: 'DROP' },
      { key: 'policy_out', title: 'Output Policy', kind: 'policy', default: 'ACCEPT' },
      { key: 'policy_forward', title: 'Forward Policy', kind: 'policy', default: 'ACCEPT', options: ['ACCEPT', 'DROP'] },
      { key: 'log_ratelimit', title: 'Log rate limit', kind: 'text', default: 'enable=1,burst=5,rate=1/second' },
    ];
  }
  if (type === 'node') {
    return [
      { key: 'enable', title: 'Firewall', kind: 'bool', default: '1' },
      { key: 'nosmurfs', title: 'SMURFS filter', kind: 'bool', default: '1' },
      { key: 'tcpflags', title: 'TCP flags filter', kind: 'bool', default: '0' },
      { key: 'ndp', title: 'NDP', kind: 'bool', default: '1' },
      { key: 'nftables', title: 'nftables', kind: 'bool', default: '0' },
      { key: 'nf_conntrack_max', title: 'nf_conntrack_max', kind: 'number', default: '262144' },
      { key: 'log_level_in', title: 'log_level_in', kind: 'log', default: 'nolog' },
      { key: 'log_level_out', title: 'log_level_out', kind: 'log', default: 'nolog' },
    ];
  }
  return [
    { key: 'enable', title: 'Firewall', kind: 'bool', default: '0' },
    { key: 'dhcp', title: 'DHCP', kind: 'bool', default: '1' },
    { key: 'ndp', title: 'NDP', kind: 'bool', default: '1' },
    { key: 'radv', title: 'Router Advertisement', kind: 'bool', default: '0' },
    { key: 'macfilter', title: 'MAC filter', kind: 'bool', default: '1' },
    { key: 'ipfilter', title: 'IP filter', kind: 'bool', default: '0' },
    { key: 'log_level_in', title: 'log_level_in', kind: 'log', default: 'nolog' },
    { key: 'log_level_out', title: 'log_level_out', kind: 'log', default: 'nolog' },
    { key: 'policy_in', title: 'Input Policy', kind: 'policy', default: 'DROP' },
    { key: 'policy_out', title: 'Output Policy', kind: 'policy', default: 'ACCEPT' },
  ];
}

function showOption(spec: OptionSpec, v: unknown): string {
  if (v === undefined || v === null || v === '') {
    return spec.kind === 'bool' ? `${spec.default === '1' ? 'Yes' : 'No'} (default)` : `${spec.default} (default)`;
  }
  if (spec.kind === 'bool') return Number(v) ? 'Yes' : 'No';
  return String(v);
}

export function FirewallOptions({ ctx }: { ctx: ViewContext }): JSX.Element {
  const base = firewallBase(ctx);
  const specs = optionSpecs(ctx.type);
  const [opts, setOpts] = useState<Record<string, unknown>>({});
  const [error, setError] = useState<Error | null>(null);
  const reload = usePoll(async () => {
    try {
      setOpts(await api.get<Record<string, unknown>>(`${base}/options`));
      setError(null);
    } catch (e) {
      setError(e as Error);
    }
  }, 10000, [base]);
  const [selected, setSelected, sel] = useSelection(specs, (s) => s.key);

  const edit = async (spec: OptionSpec): Promise<void> => {
    const cur = opts[spec.key];
    const value = cur === undefined || cur === null ? '' : String(cur);
    const field: FieldSpec = spec.kind === 'bool'
      ? { name: spec.key, label: spec.title, type: 'checkbox', value: (value || spec.default) === '1' }
      : spec.kind === 'policy' || spec.kind === 'log'
        ? { name: spec.key, label: spec.title, type: 'select', value: value || spec.default, options: spec.options ?? (spec.kind === 'policy' ? POLICY : LOG_LEVELS) }
        : { name: spec.key, label: spec.title, type: spec.kind === 'number' ? 'number' : 'text', value, placeholder: spec.default };
    const done = await openFormDialog({
      title: `Edit: ${spec.title}`,
      fields: [field],
      onSubmit: (v) => {
        const x = v[spec.key];
        const text = typeof x === 'boolean' ? (x ? '1' : '0') : String(x);
        return api.put(`${base}/options`, text === '' ? { delete: spec.key, digest: opts.digest as string } : { [spec.key]: text, digest: opts.digest as string });
      },
    });
    if (done) reload();
  };
  return (
    <div className="view grid-view firewall-options">
      <Toolbar items={[{ text: 'Edit', enabled: Boolean(sel), onClick: () => sel && void edit(sel) }]} />
      <ErrorLine error={error} />
      <Grid label="Firewall options" rows={specs} rowKey={(s) => s.key} selected={selected} onSelect={setSelected}
        onActivate={(s) => void edit(s)}
        columns={[
          { key: 'title', title: 'Option', width: '220px', sortable: false, render: (s) => <span data-option={s.key}>{s.title}</span> },
          { key: 'value', title: 'Value', sortable: false, render: (s) => showOption(s, opts[s.key]) },
        ]} />
    </div>
  );
}
