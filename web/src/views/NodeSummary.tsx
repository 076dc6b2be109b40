// Node -> Summary: GET /nodes/{node}/status, refreshed every few seconds, and the node's
// history graphs (GET /nodes/{node}/rrddata).

import { useState, type JSX } from 'react';
import { api, apiPath } from '../lib/api';
import { bytes, duration, percent, usage } from '../lib/format';
import { usePoll } from '../lib/hooks';
import { Card, ErrorLine, KvTable, Meter } from '../components/widgets';
import { RrdGraphs, NODE_GRAPHS } from '../components/RrdGraphs';
import type { ViewContext } from './context';

const INTERVAL_MS = 3000;

interface NodeStatus {
  cpu: number;
  wait?: number;
  loadavg?: string[];
  cpuinfo?: { cpus?: number; model?: string; sockets?: number };
  memory?: { used: number; total: number };
  swap?: { used: number; total: number };
  rootfs?: { used: number; total: number };
  ksm?: { shared?: number };
  kvm?: { usable?: boolean; reason?: string };
  kversion?: string;
  pveversion?: string;
  uptime?: number;
  'boot-info'?: { mode?: string; secureboot?: number };
}

const frac = (u?: { used: number; total: number }): number => (u?.total ? u.used / u.total : 0);

export function NodeSummary({ ctx }: { ctx: ViewContext }): JSX.Element {
  const [s, setStatus] = useState<NodeStatus | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [updated, setUpdated] = useState('');
  usePoll(async () => {
    try {
      setStatus(await api.get<NodeStatus>(apiPath('nodes', String(ctx.node), 'status')));
      setError(null);
      setUpdated(`Last update: ${new Date().toLocaleTimeString()}`);
    } catch (e) {
      setError(e as Error);
    }
  }, INTERVAL_MS, [ctx.node]);

  const ci = s?.cpuinfo || {};
  const kvm = s?.kvm || {};
  const sockets = ci.sockets || 1;
  return (
    <div className="view node-summary">
      <ErrorLine error={error} />
      <RrdGraphs path={apiPath('nodes', String(ctx.node), 'rrddata')} graphs={NODE_GRAPHS}
        note={<span className="muted">Refreshed every few seconds. <span className="muted updated">{updated}</span></span>} lead={<>
        <Card title="Usage">
          <KvTable rows={[
            ['cpu', 'CPU usage', <Meter fraction={s?.cpu ?? 0} text={s ? `${percent(s.cpu)} of ${ci.cpus ?? '?'} CPU(s)` : ''} />],
            ['wait', 'IO delay', s ? percent(s.wait) : ''],
            ['loadavg', 'Load average', (s?.loadavg || []).join(', ')],
            ['memory', 'RAM usage', <Meter fraction={frac(s?.memory)} text={s ? usage(s.memory?.used ?? 0, s.memory?.total) : ''} />],
            ['swap', 'SWAP usage', <Meter fraction={frac(s?.swap)} text={s ? (s.swap?.total ? usage(s.swap.used, s.swap.total) : 'no swap') : ''} />],
            ['rootfs', 'Root FS (HD space)', <Meter fraction={frac(s?.rootfs)} text={s ? usage(s.rootfs?.used ?? 0, s.rootfs?.total) : ''} />],
            ['ksm', 'KSM sharing', s ? bytes(s.ksm?.shared ?? 0) : ''],
          ]} />
        </Card>
        <Card title="Node">
          <KvTable rows={[
            ['cpus', 'CPU(s)', s ? (ci.cpus ? `${ci.cpus} x ${ci.model || 'unknown'} (${sockets} Socket${sockets > 1 ? 's' : ''})` : '-') : ''],
            ['kvm', 'KVM virtualization', !s ? '' : kvm.usable
              ? <span className="ok">usable (hardware acceleration)</span>
              : <span className="warning">{`not usable${kvm.reason ? `: ${kvm.reason}` : ''} (guests run under TCG emulation)`}</span>],
            ['kversion', 'Kernel version', s?.kversion || ''],
            ['boot', 'Boot mode', !s ? '' : s['boot-info']?.mode === 'efi' ? `EFI${s['boot-info'].secureboot ? ' (Secure Boot)' : ''}` : 'Legacy BIOS'],
            ['version', 'Manager version', s?.pveversion || ''],
            ['uptime', 'Uptime', s ? duration(s.uptime) : ''],
          ]} />
        </Card>
      </>} />
    </div>
  );
}
