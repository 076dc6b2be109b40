// What every view (tab) gets: its object and the services of the main screen.

import type { Resource } from '../lib/resources';

export type ObjectType = 'datacenter' | 'node' | 'qemu' | 'lxc' | 'storage';

export interface ObjectRef {
  type: ObjectType;
  node?: string;
  vmid?: number;
  storage?: string;
}

export interface ViewContext extends ObjectRef {
  id: string;
  /** The object's /cluster/resources entry (undefined until loaded or when it vanished). */
  resource?: Resource;
  openTaskLog: (upid: string, node?: string) => void;
  /** After starting a task: refresh the task bar, show its log window (unless show=false). */
  taskStarted: (upid: string, opts?: { show?: boolean }) => void;
  refreshResources: () => void;
}

/** The kind and keys of an object id: datacenter, node/N, qemu/ID, lxc/ID, storage/N/S. */
export function parseObjectId(id: string): ObjectRef | null {
  if (!id || id === 'datacenter') return { type: 'datacenter' };
  const [type, ...rest] = id.split('/');
  switch (type) {
    case 'node':
      return rest.length === 1 && rest[0] ? { type, node: rest[0] } : null;
    case 'qemu':
    case 'lxc':
      return rest.length === 1 && /^\d+$/.test(rest[0]) ? { type, vmid: Number(rest[0]) } : null;
    case 'storage':
      return rest.length === 2 ? { type, node: rest[0], storage: rest[1] } : null;
    default:
      return null;
  }
}

export function objectTitle(ref: ObjectRef, res?: Resource): string {
  switch (ref.type) {
    case 'datacenter':
      return 'Datacenter';
    case 'node':
      return `Node '${ref.node}'`;
    case 'qemu':
      return `Virtual Machine ${ref.vmid}${res?.name ? ` (${res.name})` : ''}${res?.node ? ` on node '${res.node}'` : ''}`;
    case 'lxc':
      return `Container ${ref.vmid}${res?.name ? ` (${res.name})` : ''}${res?.node ? ` on node '${res.node}'` : ''}`;
    case 'storage':
      return `Storage '${ref.storage}' on node '${ref.node}'`;
    default:
      return '';
  }
}
