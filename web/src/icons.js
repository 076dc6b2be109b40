// Inline SVG icons (16x16) for the resource tree and the task list; no icon fonts, no downloads.

import { h, svg } from './dom.js';

const SHAPES = {
  datacenter: [
    ['path', { d: 'M2 14V5l4-2v11M6 14V3h8v11M1 14h14', fill: 'none' }],
    ['path', { d: 'M8 5h1M11 5h1M8 8h1M11 8h1M8 11h1M11 11h1M3.5 7h1M3.5 10h1', fill: 'none' }],
  ],
  node: [
    ['rect', { x: 2, y: 2, width: 12, height: 5, rx: 1, fill: 'none' }],
    ['rect', { x: 2, y: 9, width: 12, height: 5, rx: 1, fill: 'none' }],
    ['path', { d: 'M4.5 4.5h1M4.5 11.5h1M8 4.5h4M8 11.5h4', fill: 'none' }],
  ],
  qemu: [
    ['rect', { x: 1.5, y: 2.5, width: 13, height: 9, rx: 1, fill: 'none' }],
    ['path', { d: 'M5.5 14.5h5M8 11.5v3', fill: 'none' }],
  ],
  lxc: [
    ['path', { d: 'M8 1.5l6 3v7l-6 3-6-3v-7z', fill: 'none' }],
    ['path', { d: 'M2 4.5l6 3 6-3M8 7.5v7', fill: 'none' }],
  ],
  storage: [
    ['ellipse', { cx: 8, cy: 3.5, rx: 5.5, ry: 2, fill: 'none' }],
    ['path', { d: 'M2.5 3.5v9c0 1.1 2.5 2 5.5 2s5.5-.9 5.5-2v-9M2.5 8c0 1.1 2.5 2 5.5 2s5.5-.9 5.5-2', fill: 'none' }],
  ],
  pool: [
    ['path', { d: 'M1.5 4v9.5h13V5.5H7.5L6 4z', fill: 'none' }],
  ],
  task: [
    ['rect', { x: 2.5, y: 1.5, width: 11, height: 13, rx: 1, fill: 'none' }],
    ['path', { d: 'M5 5h6M5 8h6M5 11h4', fill: 'none' }],
  ],
  user: [
    ['circle', { cx: 8, cy: 5, r: 3, fill: 'none' }],
    ['path', { d: 'M2 15c0-3.3 2.7-5 6-5s6 1.7 6 5', fill: 'none' }],
  ],
};

/**
 * An icon for a resource type, with an optional status dot:
 * 'ok' (online/running/available), 'stopped', 'paused', 'error' (offline/unknown).
 */
export function icon(name, status) {
  const shapes = SHAPES[name] || SHAPES.task;
  const el = svg('svg', {
    viewBox: '0 0 16 16', width: 16, height: 16, 'aria-hidden': 'true',
    stroke: 'currentColor', 'stroke-width': '1.3', 'stroke-linecap': 'round', 'stroke-linejoin': 'round',
  }, ...shapes.map(([tag, attrs]) => svg(tag, attrs)));
  return h('span', { class: ['icon', `icon-${name}`, status && `status-${status}`] }, el,
    status ? h('span', { class: 'status-dot' }) : null);
}

/** The status dot class of a /cluster/resources entry. */
export function resourceStatus(res) {
  switch (res.type) {
    case 'node':
      return res.status === 'online' ? 'ok' : 'error';
    case 'qemu':
    case 'lxc':
      if (res.status === 'running') return 'ok';
      if (res.status === 'paused' || res.status === 'suspended') return 'paused';
      if (res.status === 'stopped') return 'stopped';
      return 'error';
    case 'storage':
      return res.status === 'available' ? 'ok' : 'error';
    default:
      return null;
  }
}

/** A spinner for running things. */
export function spinner() {
  return h('span', { class: 'spinner', 'aria-hidden': 'true' });
}
