// A container's config tabs with pending changes as Proxmox shows them: Resources (memory,
// swap, cores, root disk, mount points), Network (netN), DNS and Options. Each key is edited
// in a small dialog (PUT /nodes/{node}/lxc/{vmid}/config with the digest), or reverted.

import { useState, type JSX } from 'react';
import { api, apiPath, type Params } from '../../lib/api';
import { parsePropertyString, type PendingEntry } from '../../lib/qemu';
import { confirmDialog, openFormDialog, runAction } from '../../components/Dialog';
import { Toolbar, type ToolItem } from '../../components/Grid';
import type { FieldSpec, FieldValue } from '../../components/form-model';
import type { ViewContext } from '../context';
import { PendingGrid } from '../qemu/PendingGrid';
import { storagesFor } from '../qemu/storages';
import { useVmConfig } from '../qemu/useConfig';
import { guestNode } from '../guest/guest';
import { nicValue } from './ct-params';

const TITLES: Record<string, string> = {
  memory: 'Memory', swap: 'Swap', cores: 'Cores', cpulimit: 'CPU limit', cpuunits: 'CPU units', rootfs: 'Root Disk',
  hostname: 'Hostname', searchdomain: 'DNS domain', nameserver: 'DNS servers',
  onboot: 'Start at boot', startup: 'Start/Shutdown order', ostype: 'OS Type', arch: 'Architecture', console: '/dev/console',
  tty: 'TTY count', cmode: 'Console mode', protection: 'Protection', unprivileged: 'Unprivileged container', features: 'Features',
  description: 'Notes', tags: 'Tags',
};
const BOOLEANS: Record<string, boolean> = { onboot: false, console: true, protection: false };
/** Set when the container is created (or restored), not edited afterwards. */
const READ_ONLY = new Set(['unprivileged', 'arch']);

export function ctKeyTitle(key: string): string {
  const m = /^(mp|net|unused)(\d+)$/.exec(key);
  if (m) return `${m[1] === 'mp' ? 'Mount Point' : m[1] === 'net' ? 'Network Device' : 'Unused Disk'} (${key})`;
  return TITLES[key] ?? key;
}

function formatValue(key: string, v: string): string {
  if (key in BOOLEANS || key === 'unprivileged') return v === '1' ? 'Yes' : 'No';
  if (key === 'memory' || key === 'swap') return `${v} MiB`;
  if (key === 'cores' && !v) return 'unlimited';
  return v;
}

function fieldFor(key: string, value: string | undefined): FieldSpec {
  const label = TITLES[key] ?? key;
  if (key in BOOLEANS) return { name: key, label, type: 'checkbox', value: value === undefined ? BOOLEANS[key] : value === '1' };
  if (key === 'memory') return { name: key, label: 'Memory (MiB)', type: 'number', required: true, min: 16, value: value ?? '512' };
  if (key === 'swap') return { name: key, label: 'Swap (MiB)', type: 'number', required: true, min: 0, value: value ?? '512' };
  if (key === 'cores') return { name: key, label: 'Cores', type: 'number', min: 1, max: 8192, value: value ?? '', placeholder: 'unlimited' };
  if (key === 'cpulimit') return { name: key, label: 'CPU limit', type: 'number', min: 0, max: 8192, value: value ?? '', placeholder: 'unlimited' };
  if (key === 'cpuunits') return { name: key, label: 'CPU units', type: 'number', min: 1, max: 10000, value: value ?? '', placeholder: '100' };
  if (key === 'ostype') return { name: key, label, type: 'select', value: value ?? 'unmanaged', options: ['debian', 'ubuntu', 'centos', 'fedora', 'opensuse', 'archlinux', 'alpine', 'gentoo', 'nixos', 'unmanaged'] };
  if (key === 'cmode') return { name: key, label, type: 'select', value: value ?? 'tty', options: ['tty', 'console', 'shell'] };
  if (key === 'tty') return { name: key, label, type: 'number', min: 0, max: 6, value: value ?? '2' };
  if (key === 'description') return { name: key, label, type: 'textarea', rows: 6, value: value ?? '' };
  if (key === 'features') return { name: key, label, value: value ?? '', placeholder: 'nesting=1,keyctl=1' };
  return { name: key, label, value: value ?? '' };
}

function currentOf(e: PendingEntry | undefined): string | undefined {
  const v = e?.pending ?? e?.value;
  return v === undefined ? undefined : String(v);
}

interface KeysState {
  all: PendingEntry[];
  digest?: string;
  reload: () => void;
}

/** A list of config keys with Edit/Revert (and `extra` toolbar items). */
function CtKeys({ ctx, keys, label, extra, editorFor }: {
  ctx: ViewContext;
  keys: (all: PendingEntry[]) => string[];
  label: string;
  extra?: (cfg: KeysState & { sel: PendingEntry | null }) => ToolItem[];
  /** A special editor of this entry (else a dialog of its one field). */
  editorFor?: (e: PendingEntry, cfg: KeysState) => (() => Promise<void>) | null;
}): JSX.Element {
  const node = guestNode(ctx);
  const vmid = Number(ctx.vmid);
  const { rows: all, digest, error, reload } = useVmConfig(node, vmid, 'lxc');
  const [selected, setSelected] = useState<string | null>(null);
  const byKey = new Map(all.map((e) => [e.key, e]));
  const rows: PendingEntry[] = keys(all).map((k) => byKey.get(k) ?? { key: k });
  const sel = rows.find((e) => e.key === selected) ?? null;
  const configPath = apiPath('nodes', node, 'lxc', String(vmid), 'config');

  const edit = async (e: PendingEntry): Promise<void> => {
    if (READ_ONLY.has(e.key)) return;
    const custom = editorFor?.(e, { all, digest, reload });
    if (custom) return custom();
    const changed = await openFormDialog({
      title: `Edit: ${ctKeyTitle(e.key)}`,
      width: e.key === 'description' ? 620 : 460,
      fields: [fieldFor(e.key, currentOf(e))],
      onSubmit: async (v) => {
        const val = v[e.key];
        const text = typeof val === 'boolean' ? (val ? '1' : '0') : String(val);
        await api.put(configPath, text === '' ? { delete: e.key, digest } : { [e.key]: text, digest });
      },
    });
    if (changed) {
      reload();
      ctx.refreshResources();
    }
  };
  const revert = async (e: PendingEntry): Promise<void> => {
    await runAction(() => api.put(configPath, { revert: e.key }), `Cannot revert ${e.key}`);
    reload();
  };
  return (
    <div className="view grid-view ct-config">
      <Toolbar items={[
        ...(extra?.({ sel, all, digest, reload }) ?? []),
        { text: 'Edit', enabled: Boolean(sel && !READ_ONLY.has(sel.key)), onClick: () => sel && void edit(sel) },
        { text: 'Revert', enabled: Boolean(sel && (sel.pending !== undefined || sel.delete)), onClick: () => sel && void revert(sel) },
      ]} />
      <PendingGrid label={label} rows={rows} title={ctKeyTitle} format={formatValue} selected={selected} onSelect={setSelected}
        onActivate={(e) => void edit(e)} error={error?.message} />
    </div>
  );
}

const byIndex = (prefix: string) => (all: PendingEntry[]): string[] => all.map((e) => e.key).filter((k) => new RegExp(`^${prefix}\\d+$`).test(k))
  .sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)));

function freeIndex(all: PendingEntry[], prefix: string): number {
  const used = new Set(byIndex(prefix)(all).map((k) => Number(k.slice(prefix.length))));
  let i = 0;
  while (used.has(i)) i += 1;
  return i;
}

async function putConfig(ctx: ViewContext, params: Params): Promise<void> {
  await api.put(apiPath('nodes', guestNode(ctx), 'lxc', String(ctx.vmid), 'config'), params);
}

/** Add a mount point: a new volume on a storage, mounted at a path. */
async function addMountPoint(ctx: ViewContext, all: PendingEntry[], digest: string | undefined): Promise<boolean> {
  const key = `mp${freeIndex(all, 'mp')}`;
  const done = await openFormDialog({
    title: `Add: Mount Point (${key})`,
    submitText: 'Add',
    fields: [
      { name: 'storage', label: 'Storage', type: 'select', required: true, options: [], params: [key] },
      { name: 'size', label: 'Disk size (GiB)', type: 'number', required: true, min: 0.001, value: '8', params: [key] },
      { name: 'mp', label: 'Path', required: true, placeholder: '/mnt/data', params: [key],
        validate: (v) => (String(v).startsWith('/') ? null : 'An absolute path.') },
      { name: 'backup', label: 'Backup', type: 'checkbox', value: true },
    ],
    setup: (form) => {
      storagesFor(guestNode(ctx), 'rootdir').then((s) => form.setOptions('storage', s, s[0]?.value ?? '')).catch((e: Error) => form.setFieldError('storage', e.message));
    },
    onSubmit: (v) => putConfig(ctx, { [key]: `${v.storage}:${v.size},mp=${v.mp}${v.backup ? ',backup=1' : ''}`, digest }),
  });
  return Boolean(done);
}

/** Resize the root disk or a mount point (PUT .../resize, a task). */
async function resizeVolume(ctx: ViewContext, key: string): Promise<void> {
  const upid = await openFormDialog({
    title: `Resize ${ctKeyTitle(key)}`,
    submitText: 'Resize',
    fields: [{ name: 'size', label: 'Size increment (GiB)', type: 'number', required: true, min: 0, value: '1' }],
    onSubmit: (v) => api.put<string>(apiPath('nodes', guestNode(ctx), 'lxc', String(ctx.vmid), 'resize'), { disk: key, size: `+${v.size}G` }),
  });
  if (typeof upid === 'string') ctx.taskStarted(upid);
}

async function removeKey(ctx: ViewContext, key: string, digest: string | undefined): Promise<boolean> {
  if (!await confirmDialog({ title: 'Confirm', message: `Remove ${ctKeyTitle(key)}?`, confirmText: 'Remove', danger: true })) return false;
  return (await runAction(() => putConfig(ctx, { delete: key, digest }), `Cannot remove ${key}`)) !== undefined;
}

const isVolume = (k?: string): boolean => Boolean(k && (k === 'rootfs' || /^mp\d+$/.test(k)));

export function CtResources({ ctx }: { ctx: ViewContext }): JSX.Element {
  return (
    <CtKeys ctx={ctx} label="Resources"
      keys={(all) => ['memory', 'swap', 'cores', 'cpulimit', 'cpuunits', 'rootfs', ...byIndex('mp')(all), ...byIndex('unused')(all)]}
      editorFor={(e) => (isVolume(e.key) ? () => resizeVolume(ctx, e.key) : null)}
      extra={({ sel, all, digest, reload }) => [
        { text: 'Add Mount Point', onClick: () => void addMountPoint(ctx, all, digest).then((ok) => ok && reload()) },
        { text: 'Resize volume', enabled: isVolume(sel?.key), onClick: () => sel && void resizeVolume(ctx, sel.key).then(reload) },
        { text: 'Remove', enabled: Boolean(sel && /^(mp|unused)\d+$/.test(sel.key)), danger: true,
          onClick: () => sel && void removeKey(ctx, sel.key, digest).then((ok) => ok && reload()) },
      ]} />
  );
}

/** The fields of a container NIC (netN: name=eth0,bridge=vmbr0,ip=dhcp,...). */
function nicFields(key: string, value: string | undefined, all: PendingEntry[]): FieldSpec[] {
  const p = parsePropertyString(value ?? '');
  const ipmode = !p.ip ? 'manual' : p.ip === 'dhcp' ? 'dhcp' : 'static';
  const show = (m: { get: (n: string) => FieldValue | undefined; show: (n: string, v: boolean) => void }): void => {
    m.show('ip', m.get('ipmode') === 'static');
    m.show('gw', m.get('ipmode') === 'static');
  };
  const names = new Set(all.filter((e) => e.key !== key && /^net\d+$/.test(e.key)).map((e) => parsePropertyString(currentOf(e) ?? '').name));
  return [
    { name: 'name', label: 'Name', required: true, value: p.name ?? `eth${key.slice(3)}`, params: [key],
      validate: (v) => (names.has(String(v)) ? 'Another device has this name.' : null) },
    { name: 'hwaddr', label: 'MAC address', value: p.hwaddr ?? '', placeholder: 'auto', params: [key] },
    { name: 'bridge', label: 'Bridge', required: true, value: p.bridge ?? 'vmbr0', params: [key] },
    { name: 'tag', label: 'VLAN Tag', type: 'number', min: 1, max: 4094, value: p.tag ?? '', placeholder: 'no VLAN', params: [key] },
    { name: 'ipmode', label: 'IPv4', type: 'select', value: ipmode, params: [key],
      options: [{ value: 'dhcp', label: 'DHCP' }, { value: 'static', label: 'Static' }, { value: 'manual', label: 'None (manual)' }],
      onChange: (_v, m) => show(m) },
    { name: 'ip', label: 'IPv4/CIDR', required: true, value: ipmode === 'static' ? p.ip : '', hidden: ipmode !== 'static', params: [key] },
    { name: 'gw', label: 'Gateway (IPv4)', value: p.gw ?? '', hidden: ipmode !== 'static', params: [key] },
    { name: 'firewall', label: 'Firewall', type: 'checkbox', value: p.firewall === '1', params: [key] },
  ];
}

async function editNic(ctx: ViewContext, key: string, all: PendingEntry[], digest: string | undefined, adding: boolean): Promise<boolean> {
  const done = await openFormDialog({
    title: `${adding ? 'Add' : 'Edit'}: Network Device (${key})`,
    submitText: adding ? 'Add' : 'OK',
    fields: nicFields(key, adding ? undefined : currentOf(all.find((e) => e.key === key)), all),
    onSubmit: (v) => putConfig(ctx, { [key]: nicValue(v), digest }),
  });
  return Boolean(done);
}

export function CtNetwork({ ctx }: { ctx: ViewContext }): JSX.Element {
  return (
    <CtKeys ctx={ctx} label="Network" keys={byIndex('net')}
      editorFor={(e, { all, digest, reload }) => () => editNic(ctx, e.key, all, digest, false).then((ok) => { if (ok) reload(); })}
      extra={({ sel, all, digest, reload }) => [
        { text: 'Add', onClick: () => void editNic(ctx, `net${freeIndex(all, 'net')}`, all, digest, true).then((ok) => ok && reload()) },
        { text: 'Remove', danger: true, enabled: Boolean(sel), onClick: () => sel && void removeKey(ctx, sel.key, digest).then((ok) => ok && reload()) },
      ]} />
  );
}

export function CtDns({ ctx }: { ctx: ViewContext }): JSX.Element {
  return <CtKeys ctx={ctx} label="DNS" keys={() => ['hostname', 'searchdomain', 'nameserver']} />;
}

export function CtOptions({ ctx }: { ctx: ViewContext }): JSX.Element {
  return (
    <CtKeys ctx={ctx} label="Options"
      keys={() => ['onboot', 'startup', 'ostype', 'arch', 'console', 'tty', 'cmode', 'protection', 'unprivileged', 'features', 'tags', 'description']} />
  );
}
