// Icons (16x16 SVG files of src/img/icons, as CSS backgrounds) for the resource tree and lists;
// no icon fonts, no downloads.

import type { JSX } from 'react';
import type { Resource } from '../lib/resources';

/** An icon for a resource type (a background image, see app.css), with an optional status dot. */
export function Icon({ name, status }: { name: string; status?: StatusDot }): JSX.Element {
  const cls = ['icon', `icon-${ICONS.has(name) ? name : 'task'}`, status && `status-${status}`].filter(Boolean).join(' ');
  return <span className={cls} aria-hidden="true">{status ? <span className="status-dot" /> : null}</span>;
}

const ICONS = new Set(['datacenter', 'node', 'qemu', 'lxc', 'storage', 'pool', 'task', 'user']);

export type StatusDot = 'ok' | 'stopped' | 'paused' | 'error' | null;

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
