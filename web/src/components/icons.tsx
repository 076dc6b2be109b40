// Inline SVG icons (16x16) for the resource tree and the task list; no icon fonts, no downloads.

import type { JSX } from 'react';
import type { Resource } from '../lib/resources';

type Shape = [string, Record<string, string | number>];

const SHAPES: Record<string, Shape[]> = {
  datacenter: [
    ['path', { d: 'M2 14V5l4-2v11M6 14V3h8v11M1 14h14' }],
    ['path', { d: 'M8 5h1M11 5h1M8 8h1M11 8h1M8 11h1M11 11h1M3.5 7h1M3.5 10h1' }],
  ],
  node: [
    ['rect', { x: 2, y: 2, width: 12, height: 5, rx: 1 }],
    ['rect', { x: 2, y: 9, width: 12, height: 5, rx: 1 }],
    ['path', { d: 'M4.5 4.5h1M4.5 11.5h1M8 4.5h4M8 11.5h4' }],
  ],
  qemu: [
    ['rect', { x: 1.5, y: 2.5, width: 13, height: 9, rx: 1 }],
    ['path', { d: 'M5.5 14.5h5M8 11.5v3' }],
  ],
  lxc: [
    ['path', { d: 'M8 1.5l6 3v7l-6 3-6-3v-7z' }],
    ['path', { d: 'M2 4.5l6 3 6-3M8 7.5v7' }],
  ],
  storage: [
    ['ellipse', { cx: 8, cy: 3.5, rx: 5.5, ry: 2 }],
    ['path', { d: 'M2.5 3.5v9c0 1.1 2.5 2 5.5 2s5.5-.9 5.5-2v-9M2.5 8c0 1.1 2.5 2 5.5 2s5.5-.9 5.5-2' }],
  ],
  pool: [['path', { d: 'M1.5 4v9.5h13V5.5H7.5L6 4z' }]],
  task: [
    ['rect', { x: 2.5, y: 1.5, width: 11, height: 13, rx: 1 }],
    ['path', { d: 'M5 5h6M5 8h6M5 11h4' }],
  ],
  user: [
    ['circle', { cx: 8, cy: 5, r: 3 }],
    ['path', { d: 'M2 15c0-3.3 2.7-5 6-5s6 1.7 6 5' }],
  ],
};

export type StatusDot = 'ok' | 'stopped' | 'paused' | 'error' | null;

/** An icon for a resource type, with an optional status dot. */
export function Icon({ name, status }: { name: string; status?: StatusDot }): JSX.Element {
  const shapes = SHAPES[name] || SHAPES.task;
  const cls = ['icon', `icon-${name}`, status && `status-${status}`].filter(Boolean).join(' ');
  return (
    <span className={cls}>
      <svg viewBox="0 0 16 16" width={16} height={16} aria-hidden="true" stroke="currentColor" strokeWidth={1.3}
        strokeLinecap="round" strokeLinejoin="round" fill="none">
        {shapes.map(([Tag, attrs], i) => {
          const T = Tag as unknown as 'path';
          return <T key={i} {...(attrs as Record<string, string>)} />;
        })}
      </svg>
      {status ? <span className="status-dot" /> : null}
    </span>
  );
}

/** The status dot of a /cluster/resources entry. */
export function resourceStatus(res: Resource): StatusDot {
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
export function Spinner(): JSX.Element {
  return <span className="spinner" aria-hidden="true" />;
}
