// The summary of a guest or storage from its /cluster/resources entry, until the VM, CT and
// storage screens of their own arrive.

import { h, replace } from '../dom.js';
import { bytes, duration, percent, usage } from '../format.js';
import { icon, resourceStatus } from '../icons.js';
import { resources } from '../resources.js';
import { card, kvTable } from '../components/widgets.js';

export function mount(container, ctx) {
  const isGuest = ctx.type === 'qemu' || ctx.type === 'lxc';
  const rows = isGuest
    ? [
        { key: 'status', label: 'Status' },
        { key: 'node', label: 'Node' },
        { key: 'name', label: 'Name' },
        { key: 'cpu', label: 'CPU usage' },
        { key: 'mem', label: 'Memory usage' },
        { key: 'disk', label: 'Bootdisk size' },
        { key: 'uptime', label: 'Uptime' },
        { key: 'tags', label: 'Tags' },
        { key: 'template', label: 'Template' },
      ]
    : [
        { key: 'status', label: 'Status' },
        { key: 'node', label: 'Node' },
        { key: 'plugintype', label: 'Type' },
        { key: 'content', label: 'Content' },
        { key: 'shared', label: 'Shared' },
        { key: 'disk', label: 'Usage' },
      ];
  const table = kvTable(rows);
  const missing = h('p', { class: 'view-error', role: 'alert', hidden: true }, 'This resource does not exist (any more).');
  replace(container, h('div', { class: 'view resource-summary' }, missing, h('div', { class: 'cards' }, card('Status', table))));

  ctx.scope.add(resources.subscribe(() => {
    const r = ctx.resource();
    missing.hidden = Boolean(r) || !resources.loaded();
    if (!r) return;
    const status = h('span', { class: 'with-icon' }, icon(r.type, resourceStatus(r)), r.status || 'unknown');
    if (isGuest) {
      table.update({
        status,
        node: r.node,
        name: r.name || '',
        cpu: r.status === 'running' ? `${percent(r.cpu)} of ${r.maxcpu ?? '?'} CPU(s)` : '-',
        mem: r.maxmem ? usage(r.mem || 0, r.maxmem) : '-',
        disk: r.maxdisk ? bytes(r.maxdisk) : '-',
        uptime: r.uptime ? duration(r.uptime) : '-',
        tags: String(r.tags || '').split(/[;,\s]+/).filter(Boolean).join(', '),
        template: r.template ? 'yes' : 'no',
      });
    } else {
      table.update({
        status,
        node: r.node,
        plugintype: r.plugintype || '',
        content: String(r.content || '').split(',').join(', '),
        shared: r.shared ? 'yes' : 'no',
        disk: r.maxdisk ? usage(r.disk || 0, r.maxdisk) : '-',
      });
    }
  }));
}
