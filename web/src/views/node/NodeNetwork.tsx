// Node -> Network: the host's interfaces (GET /nodes/{node}/network), create/edit/remove
// bridges, bonds and VLANs (staged as pending changes, shown as a diff), Apply Configuration
// (PUT, a task) and Revert (DELETE).

import { useState, type JSX } from 'react';
import { api, apiPath, type Params } from '../../lib/api';
import { usePoll } from '../../lib/hooks';
import { confirmDialog, openFormDialog, runAction } from '../../components/Dialog';
import { Grid, Toolbar, useSelection } from '../../components/Grid';
import { MenuButton } from '../../components/Menu';
import type { FieldSpec } from '../../components/form-model';
import { ErrorLine } from '../../components/widgets';
import type { ViewContext } from '../context';

export interface Iface {
  iface: string;
  type: string;
  active?: number;
  autostart?: number;
  exists?: number;
  cidr?: string;
  address?: string;
  netmask?: string;
  gateway?: string;
  bridge_ports?: string;
  bridge_vlan_aware?: number;
  slaves?: string;
  bond_mode?: string;
  'vlan-id'?: number;
  'vlan-raw-device'?: string;
  mtu?: number;
  comments?: string;
  nat?: number;
}

const KINDS: Record<string, { title: string; prefix: string }> = {
  bridge: { title: 'Linux Bridge', prefix: 'vmbr' },
  bond: { title: 'Linux Bond', prefix: 'bond' },
  vlan: { title: 'Linux VLAN', prefix: 'vlan' },
};

/** The first free name with this prefix (vmbr1, bond0, ...). */
function freeName(list: Iface[], prefix: string): string {
  const used = new Set(list.map((i) => i.iface));
  let n = 0;
  while (used.has(`${prefix}${n}`)) n += 1;
  return `${prefix}${n}`;
}

function fieldsFor(type: string, i: Iface | null, list: Iface[]): FieldSpec[] {
  const common: FieldSpec[] = [
    i ? { name: 'iface', label: 'Name', type: 'display', value: i.iface }
      : { name: 'iface', label: 'Name', required: true, value: freeName(list, KINDS[type]?.prefix ?? 'if') },
    { name: 'cidr', label: 'IPv4/CIDR', value: i?.cidr ?? '', placeholder: '192.168.1.1/24' },
    { name: 'gateway', label: 'Gateway (IPv4)', value: i?.gateway ?? '' },
    { name: 'autostart', label: 'Autostart', type: 'checkbox', value: i ? Boolean(i.autostart) : true },
    { name: 'mtu', label: 'MTU', type: 'number', min: 1280, max: 65520, value: i?.mtu ?? '', placeholder: '1500' },
  ];
  const specific: FieldSpec[] = type === 'bridge'
    ? [
        { name: 'bridge_ports', label: 'Bridge ports', value: i?.bridge_ports ?? '', placeholder: 'none (e.g. eth1)' },
        { name: 'bridge_vlan_aware', label: 'VLAN aware', type: 'checkbox', value: Boolean(i?.bridge_vlan_aware) },
      ]
    : type === 'bond'
      ? [
          { name: 'slaves', label: 'Slaves', required: true, value: i?.slaves ?? '', placeholder: 'eth1 eth2' },
          { name: 'bond_mode', label: 'Mode', type: 'select', value: i?.bond_mode ?? 'balance-rr',
            options: ['balance-rr', 'active-backup', 'balance-xor', 'broadcast', '802.3ad', 'balance-tlb', 'balance-alb'] },
        ]
      : type === 'vlan'
        ? [
            { name: 'vlan-raw-device', label: 'VLAN raw device', value: i?.['vlan-raw-device'] ?? '', placeholder: 'from the name (eth0.10)' },
            { name: 'vlan-id', label: 'VLAN Tag', type: 'number', min: 1, max: 4094, value: i?.['vlan-id'] ?? '' },
          ]
        : [];
  return [...common, ...specific, { name: 'comments', label: 'Comment', value: i?.comments ?? '', wide: true }];
}

function ifaceParams(type: string, v: Record<string, unknown>, creating: boolean): Params {
  const p: Params = { type };
  const del: string[] = [];
  if (creating) p.iface = String(v.iface);
  for (const [k, x] of Object.entries(v)) {
    if (k === 'iface') continue;
    if (typeof x === 'boolean') p[k] = x ? 1 : 0;
    else if (x === '' || x === undefined) {
      if (!creating) del.push(k);
    } else p[k] = String(x);
  }
  if (del.length) p.delete = del.join(',');
  return p;
}

export function NodeNetwork({ ctx }: { ctx: ViewContext }): JSX.Element {
  const node = ctx.node || '';
  const base = apiPath('nodes', node, 'network');
  const [rows, setRows] = useState<Iface[]>([]);
  const [changes, setChanges] = useState('');
  const [error, setError] = useState<Error | null>(null);
  const reload = usePoll(async () => {
    try {
      const r = await api.request<Iface[]>('GET', base);
      setRows((r.data ?? []).sort((a, b) => a.iface.localeCompare(b.iface, undefined, { numeric: true })));
      setChanges(r.changes ?? '');
      setError(null);
    } catch (e) {
      setError(e as Error);
    }
  }, 10000, [node]);
  const [selected, setSelected, sel] = useSelection(rows, (i) => i.iface);

  const edit = async (type: string, i: Iface | null): Promise<void> => {
    const done = await openFormDialog({
      title: `${i ? 'Edit' : 'Create'}: ${KINDS[type]?.title ?? `Network Device ${i?.iface ?? ''}`}`,
      submitText: i ? 'OK' : 'Create',
      columns: 2,
      fields: fieldsFor(type, i, rows),
      onSubmit: (v) => (i
        ? api.put(`${base}/${encodeURIComponent(i.iface)}`, ifaceParams(type, v, false))
        : api.post(base, ifaceParams(type, v, true))),
    });
    if (done) reload();
  };
  const remove = async (i: Iface): Promise<void> => {
    if (!await confirmDialog({ title: 'Confirm', message: `Remove ${i.iface}? (a pending change until applied)`, confirmText: 'Remove', danger: true })) return;
    await runAction(() => api.delete(`${base}/${encodeURIComponent(i.iface)}`), `Cannot remove ${i.iface}`);
    reload();
  };
  const apply = async (): Promise<void> => {
    const upid = await runAction(() => api.put<string>(base), 'Cannot apply the network configuration');
    if (typeof upid === 'string') ctx.taskStarted(upid);
    setTimeout(reload, 1000);
  };
  const revert = async (): Promise<void> => {
    await runAction(() => api.delete(base), 'Cannot revert the network configuration');
    reload();
  };
  const yes = (x?: number): string => (x ? 'Yes' : 'No');
  return (
    <div className="view grid-view node-network">
      <Toolbar items={[
        <MenuButton key="create" text="Create" align="start" items={Object.entries(KINDS).map(([type, k]) => ({ text: k.title, onClick: () => void edit(type, null) }))} />,
        { text: 'Revert', enabled: Boolean(changes), onClick: () => void revert() },
        { text: 'Edit', enabled: Boolean(sel), onClick: () => sel && void edit(sel.type, sel) },
        { text: 'Remove', danger: true, enabled: Boolean(sel && sel.type !== 'eth'), onClick: () => sel && void remove(sel) },
        { text: 'Apply Configuration', primary: true, enabled: Boolean(changes), onClick: () => void apply() },
      ]} />
      <ErrorLine error={error} />
      <Grid label="Network interfaces" rows={rows} rowKey={(i) => i.iface} selected={selected} onSelect={setSelected}
        onActivate={(i) => void edit(i.type, i)} emptyText="No interfaces"
        columns={[
          { key: 'iface', title: 'Name', width: '85px' },
          { key: 'type', title: 'Type', width: '70px' },
          { key: 'active', title: 'Active', width: '65px', render: (i) => yes(i.active) },
          { key: 'autostart', title: 'Autostart', width: '85px', render: (i) => yes(i.autostart) },
          { key: 'bridge_vlan_aware', title: 'VLAN aware', width: '95px', render: (i) => (i.type === 'bridge' ? yes(i.bridge_vlan_aware) : '') },
          { key: 'ports', title: 'Ports/Slaves', width: '115px',
            render: (i) => [i.bridge_ports ?? i.slaves ?? i['vlan-raw-device'] ?? '', i.bond_mode ? `(${i.bond_mode})` : ''].filter(Boolean).join(' ') },
          { key: 'cidr', title: 'CIDR', width: '125px' },
          { key: 'gateway', title: 'Gateway', width: '110px' },
          { key: 'comments', title: 'Comment' },
        ]} />
      {changes ? (
        <section className="pending-changes" aria-label="Pending changes">
          <h3>Pending changes (press Apply Configuration to activate them)</h3>
          <pre className="diff">{changes.split('\n').map((l, n) => (
            <span key={n} className={l.startsWith('+') && !l.startsWith('+++') ? 'add' : l.startsWith('-') && !l.startsWith('---') ? 'del' : undefined}>{l}{'\n'}</span>
          ))}</pre>
        </section>
      ) : null}
    </div>
  );
}
