// The summary of a guest or storage from its /cluster/resources entry, with its history graphs
// (.../rrddata).

import type { JSX } from 'react';
import { apiPath } from '../lib/api';
import { bytes, duration, percent, usage } from '../lib/format';
import { useResources } from '../lib/resources';
import { Icon, resourceStatus } from '../components/icons';
import { Card, KvTable } from '../components/widgets';
import { GUEST_GRAPHS, RrdGraphs, STORAGE_GRAPHS } from '../components/RrdGraphs';
import type { ViewContext } from './context';
import { useVmStatus } from './qemu/VmTools';

export function ResourceSummary({ ctx }: { ctx: ViewContext }): JSX.Element {
  const { loaded } = useResources();
  // A VM's own status (QEMU's figures) over its /cluster/resources entry.
  const isGuest = ctx.type === 'qemu' || ctx.type === 'lxc';
  const vm = useVmStatus(ctx, isGuest ? ctx.resource?.node || '' : '');
  const r = ctx.resource && vm.status ? { ...ctx.resource, ...vm.status, status: vm.status.qmpstatus === 'paused' ? 'paused' : vm.status.status, maxcpu: vm.status.cpus ?? ctx.resource.maxcpu } : ctx.resource;
  const statusText = r ? <span className="with-icon"><Icon name={r.type} status={resourceStatus(r)} />{r.status || 'unknown'}</span> : '';
  const rows: [string, string, React.ReactNode][] = isGuest
    ? [
        ['status', 'Status', statusText],
        ['node', 'Node', r?.node ?? ''],
        ['name', 'Name', r?.name || ''],
        ['cpu', 'CPU usage', r ? (r.status === 'running' ? `${percent(r.cpu)} of ${r.maxcpu ?? '?'} CPU(s)` : '-') : ''],
        ['mem', 'Memory usage', r ? (r.maxmem ? usage(r.mem || 0, r.maxmem) : '-') : ''],
        ['disk', ctx.type === 'lxc' ? 'Root disk size' : 'Bootdisk size', r ? (r.maxdisk ? bytes(r.maxdisk) : '-') : ''],
        ['uptime', 'Uptime', r ? (r.uptime ? duration(r.uptime) : '-') : ''],
        ['tags', 'Tags', String(r?.tags || '').split(/[;,\s]+/).filter(Boolean).join(', ')],
        ['template', 'Template', r ? (r.template ? 'yes' : 'no') : ''],
      ]
    : [
        ['status', 'Status', statusText],
        ['node', 'Node', r?.node ?? ''],
        ['plugintype', 'Type', r?.plugintype || ''],
        ['content', 'Content', String(r?.content || '').split(',').join(', ')],
        ['shared', 'Shared', r ? (r.shared ? 'yes' : 'no') : ''],
        ['disk', 'Usage', r ? (r.maxdisk ? usage(r.disk || 0, r.maxdisk) : '-') : ''],
      ];
  const node = r?.node || ctx.node || '';
  const rrdPath = isGuest
    ? apiPath('nodes', node, ctx.type, String(ctx.vmid), 'rrddata')
    : apiPath('nodes', node, 'storage', String(ctx.storage), 'rrddata');
  const status = <Card title="Status"><KvTable rows={rows} /></Card>;
  return (
    <div className="view resource-summary">
      {!r && loaded ? <p className="view-error" role="alert">This resource does not exist (any more).</p> : null}
      {node ? <RrdGraphs path={rrdPath} graphs={isGuest ? GUEST_GRAPHS : STORAGE_GRAPHS} lead={status} /> : <div className="cards">{status}</div>}
    </div>
  );
}
