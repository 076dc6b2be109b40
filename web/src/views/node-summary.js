// Node -> Summary: GET /nodes/{node}/status, refreshed every few seconds.

import { api, apiPath } from '../api.js';
import { h, replace } from '../dom.js';
import { bytes, duration, percent, usage } from '../format.js';
import { card, errorLine, kvTable, meter } from '../components/widgets.js';

const INTERVAL_MS = 3000;

export function mount(container, ctx) {
  const cpu = meter();
  const mem = meter();
  const swap = meter();
  const rootfs = meter();
  const usageTable = kvTable([
    { key: 'cpu', label: 'CPU usage' },
    { key: 'wait', label: 'IO delay' },
    { key: 'loadavg', label: 'Load average' },
    { key: 'memory', label: 'RAM usage' },
    { key: 'swap', label: 'SWAP usage' },
    { key: 'rootfs', label: 'Root FS (HD space)' },
    { key: 'ksm', label: 'KSM sharing' },
  ]);
  usageTable.update({ cpu, memory: mem, swap, rootfs });
  const infoTable = kvTable([
    { key: 'cpus', label: 'CPU(s)' },
    { key: 'kvm', label: 'KVM virtualization' },
    { key: 'kversion', label: 'Kernel version' },
    { key: 'boot', label: 'Boot mode' },
    { key: 'version', label: 'Manager version' },
    { key: 'uptime', label: 'Uptime' },
  ]);
  const err = errorLine();
  const updated = h('span', { class: 'muted updated' });
  replace(container, h('div', { class: 'view node-summary' },
    err,
    h('div', { class: 'cards' },
      card('Usage', usageTable),
      card('Node', infoTable)),
    h('p', { class: 'muted' }, 'Refreshed every few seconds. ', updated)));

  ctx.scope.poll(async () => {
    let s;
    try {
      s = await api.get(apiPath('nodes', ctx.node, 'status'));
      err.show(null);
    } catch (e) {
      err.show(e);
      return;
    }
    const ci = s.cpuinfo || {};
    cpu.update(s.cpu, `${percent(s.cpu)} of ${ci.cpus ?? '?'} CPU(s)`);
    const m = s.memory || {};
    mem.update(m.total ? m.used / m.total : 0, usage(m.used, m.total));
    const sw = s.swap || {};
    swap.update(sw.total ? sw.used / sw.total : 0, sw.total ? usage(sw.used, sw.total) : 'no swap');
    const fs = s.rootfs || {};
    rootfs.update(fs.total ? fs.used / fs.total : 0, usage(fs.used, fs.total));
    const kvm = s.kvm || {};
    usageTable.update({
      wait: percent(s.wait),
      loadavg: (s.loadavg || []).join(', '),
      ksm: bytes(s.ksm?.shared ?? 0),
    });
    infoTable.update({
      cpus: ci.cpus ? `${ci.cpus} x ${ci.model || 'unknown'} (${ci.sockets || 1} Socket${(ci.sockets || 1) > 1 ? 's' : ''})` : '-',
      kvm: kvm.usable
        ? h('span', { class: 'ok' }, 'usable (hardware acceleration)')
        : h('span', { class: 'warning' }, `not usable${kvm.reason ? `: ${kvm.reason}` : ''} (guests run under TCG emulation)`),
      kversion: s.kversion || '',
      boot: s['boot-info']?.mode === 'efi' ? `EFI${s['boot-info'].secureboot ? ' (Secure Boot)' : ''}` : 'Legacy BIOS',
      version: s.pveversion || '',
      uptime: duration(s.uptime),
    });
    updated.textContent = `Last update: ${new Date().toLocaleTimeString()}`;
  }, INTERVAL_MS);
}
