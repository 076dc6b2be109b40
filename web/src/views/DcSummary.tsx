// Datacenter -> Summary: health, guest counts, resource totals and the nodes, from
// /cluster/resources and /cluster/status.

import { useEffect, useState, type JSX } from 'react';
import { api } from '../lib/api';
import { bytes, duration, percent } from '../lib/format';
import { useResources, type Resource } from '../lib/resources';
import { navigate } from '../lib/router';
import { Grid } from '../components/Grid';
import { Icon, resourceStatus } from '../components/icons';
import { Card, ErrorLine, KvTable, Meter } from '../components/widgets';
import type { ViewContext } from './context';

function counts(list: Resource[], type: string): string {
  const of = list.filter((r) => r.type === type);
  const running = of.filter((r) => r.status === 'running').length;
  const stopped = of.filter((r) => r.status === 'stopped').length;
  return `${of.length} (${running} running, ${stopped} stopped)`;
}

export function DcSummary(_props: { ctx: ViewContext }): JSX.Element {
  const { list, error } = useResources();
  const [cluster, setCluster] = useState('');
  const [clusterError, setClusterError] = useState<Error | null>(null);
  const [selected, setSelected] = useState<string | null>(null);

  useEffect(() => {
    api.get<{ type: string; name: string; quorate?: number }[]>('/cluster/status').then((status) => {
      const c = (status || []).find((s) => s.type === 'cluster');
      setCluster(c ? `${c.name} (quorate: ${c.quorate ? 'yes' : 'no'})` : 'Standalone node - no cluster defined');
    }).catch(setClusterError);
  }, []);

  const nodeList = list.filter((r) => r.type === 'node');
  const online = nodeList.filter((n) => n.status === 'online');
  const maxcpu = online.reduce((a, n) => a + (n.maxcpu || 0), 0);
  const usedcpu = online.reduce((a, n) => a + (n.cpu || 0) * (n.maxcpu || 0), 0);
  const maxmem = online.reduce((a, n) => a + (n.maxmem || 0), 0);
  const usedmem = online.reduce((a, n) => a + (n.mem || 0), 0);
  // Shared storages are listed once per node: count each once.
  const seen = new Set<string>();
  let used = 0;
  let total = 0;
  for (const s of list.filter((r) => r.type === 'storage' && r.status === 'available')) {
    const key = s.shared ? String(s.storage) : s.id;
    if (seen.has(key)) continue;
    seen.add(key);
    used += s.disk || 0;
    total += s.maxdisk || 0;
  }

  return (
    <div className="view dc-summary">
      <ErrorLine error={error || clusterError} />
      <div className="cards">
        <Card title="Health">
          <KvTable rows={[
            ['cluster', 'Cluster', cluster],
            ['online', 'Nodes online', String(online.length)],
            ['offline', 'Nodes offline', String(nodeList.length - online.length)],
          ]} />
        </Card>
        <Card title="Guests">
          <KvTable rows={[
            ['vms', 'Virtual machines', counts(list, 'qemu')],
            ['cts', 'LXC containers', counts(list, 'lxc')],
            ['storages', 'Storages', String(list.filter((r) => r.type === 'storage').length)],
          ]} />
        </Card>
        <Card title="Resources">
          <KvTable rows={[
            ['cpu', 'CPU', <Meter fraction={maxcpu ? usedcpu / maxcpu : 0} text={maxcpu ? `${percent(usedcpu / maxcpu)} of ${maxcpu} CPU(s)` : '-'} />],
            ['memory', 'Memory', <Meter fraction={maxmem ? usedmem / maxmem : 0} text={maxmem ? `${percent(usedmem / maxmem)} (${bytes(usedmem)} of ${bytes(maxmem)})` : '-'} />],
            ['storage', 'Storage', <Meter fraction={total ? used / total : 0} text={total ? `${percent(used / total)} (${bytes(used)} of ${bytes(total)})` : 'no storage yet'} />],
          ]} />
        </Card>
      </div>
      <Card title="Nodes">
        <Grid label="Nodes" rows={nodeList} rowKey={(n) => n.id} emptyText="No nodes" selected={selected} onSelect={setSelected}
          onActivate={(n) => navigate(n.id)}
          columns={[
            { key: 'node', title: 'Name', render: (n) => <span className="with-icon"><Icon name="node" status={resourceStatus(n)} />{n.node}</span> },
            { key: 'status', title: 'Status', width: '90px' },
            { key: 'cpu', title: 'CPU usage', width: '120px', render: (n) => (n.status === 'online' ? percent(n.cpu) : '-') },
            { key: 'mem', title: 'Memory usage', width: '220px', sortValue: (n) => (n.maxmem ? (n.mem || 0) / n.maxmem : 0), render: (n) => (n.maxmem ? `${percent((n.mem || 0) / n.maxmem)} (${bytes(n.mem)} of ${bytes(n.maxmem)})` : '-') },
            { key: 'uptime', title: 'Uptime', width: '160px', render: (n) => (n.uptime ? duration(n.uptime) : '-') },
          ]} />
      </Card>
    </div>
  );
}
