// Datacenter -> Summary: health, guest counts, resource totals and the nodes, from
// /cluster/resources and /cluster/status.

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { bytes, duration, percent } from '../format.js';
import { icon, resourceStatus } from '../icons.js';
import { resources } from '../resources.js';
import { navigate } from '../router.js';
import { createGrid } from '../components/grid.js';
import { card, errorLine, kvTable, meter } from '../components/widgets.js';

function counts(list, type) {
  const of = list.filter((r) => r.type === type);
  return {
    total: of.length,
    running: of.filter((r) => r.status === 'running').length,
    stopped: of.filter((r) => r.status === 'stopped').length,
  };
}

export function mount(container, ctx) {
  const health = kvTable([
    { key: 'cluster', label: 'Cluster' },
    { key: 'online', label: 'Nodes online' },
    { key: 'offline', label: 'Nodes offline' },
  ]);
  const guests = kvTable([
    { key: 'vms', label: 'Virtual machines' },
    { key: 'cts', label: 'LXC containers' },
    { key: 'storages', label: 'Storages' },
  ]);
  const cpu = meter();
  const mem = meter();
  const disk = meter();
  const usage = kvTable([
    { key: 'cpu', label: 'CPU' },
    { key: 'memory', label: 'Memory' },
    { key: 'storage', label: 'Storage' },
  ]);
  usage.update({ cpu, memory: mem, storage: disk });

  const nodes = createGrid({
    label: 'Nodes',
    rowKey: 'id',
    emptyText: 'No nodes',
    onActivate: (n) => navigate(n.id),
    columns: [
      { key: 'node', title: 'Name', render: (n) => h('span', { class: 'with-icon' }, icon('node', resourceStatus(n)), n.node) },
      { key: 'status', title: 'Status', width: '90px' },
      { key: 'cpu', title: 'CPU usage', width: '120px', render: (n) => (n.status === 'online' ? percent(n.cpu) : '-') },
      { key: 'mem', title: 'Memory usage', width: '220px', sortValue: (n) => (n.maxmem ? n.mem / n.maxmem : 0), render: (n) => (n.maxmem ? `${percent(n.mem / n.maxmem)} (${bytes(n.mem)} of ${bytes(n.maxmem)})` : '-') },
      { key: 'uptime', title: 'Uptime', width: '160px', render: (n) => (n.uptime ? duration(n.uptime) : '-') },
    ],
  });
  const err = errorLine();

  replace(container, h('div', { class: 'view dc-summary' },
    err,
    h('div', { class: 'cards' },
      card('Health', health),
      card('Guests', guests),
      card('Resources', usage)),
    card('Nodes', nodes.el)));

  let clusterName = null;
  api.get('/cluster/status').then((status) => {
    const cluster = (status || []).find((s) => s.type === 'cluster');
    clusterName = cluster ? `${cluster.name} (quorate: ${cluster.quorate ? 'yes' : 'no'})` : 'Standalone node - no cluster defined';
    health.update({ cluster: clusterName });
  }).catch((e) => err.show(e));

  ctx.scope.add(resources.subscribe((list, error) => {
    err.show(error);
    const nodeList = list.filter((r) => r.type === 'node');
    const online = nodeList.filter((n) => n.status === 'online');
    health.update({
      cluster: clusterName ?? '',
      online: String(online.length),
      offline: String(nodeList.length - online.length),
    });
    const vm = counts(list, 'qemu');
    const ct = counts(list, 'lxc');
    guests.update({
      vms: `${vm.total} (${vm.running} running, ${vm.stopped} stopped)`,
      cts: `${ct.total} (${ct.running} running, ${ct.stopped} stopped)`,
      storages: String(list.filter((r) => r.type === 'storage').length),
    });
    const maxcpu = online.reduce((a, n) => a + (n.maxcpu || 0), 0);
    const usedcpu = online.reduce((a, n) => a + (n.cpu || 0) * (n.maxcpu || 0), 0);
    cpu.update(maxcpu ? usedcpu / maxcpu : 0, maxcpu ? `${percent(usedcpu / maxcpu)} of ${maxcpu} CPU(s)` : '-');
    const maxmem = online.reduce((a, n) => a + (n.maxmem || 0), 0);
    const usedmem = online.reduce((a, n) => a + (n.mem || 0), 0);
    mem.update(maxmem ? usedmem / maxmem : 0, maxmem ? `${percent(usedmem / maxmem)} (${bytes(usedmem)} of ${bytes(maxmem)})` : '-');
    // Shared storages are listed once per node: count each once.
    const seen = new Set();
    let used = 0;
    let total = 0;
    for (const s of list.filter((r) => r.type === 'storage' && r.status === 'available')) {
      const key = s.shared ? s.storage : s.id;
      if (seen.has(key)) continue;
      seen.add(key);
      used += s.disk || 0;
      total += s.maxdisk || 0;
    }
    disk.update(total ? used / total : 0, total ? `${percent(used / total)} (${bytes(used)} of ${bytes(total)})` : 'no storage yet');
    nodes.setRows(nodeList);
  }));
}
