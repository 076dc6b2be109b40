// The cluster's resources (/cluster/resources), polled while logged in and shared by the tree,
// the summaries and every view that needs to know which nodes, guests and storages exist.

import { useSyncExternalStore } from 'react';
import { api } from './api';
import { poll, type Poller } from './poll';

const INTERVAL_MS = 3000;

/** One entry of /cluster/resources (the fields the UI reads). */
export interface Resource {
  id: string;
  type: 'node' | 'qemu' | 'lxc' | 'storage' | 'pool' | 'sdn' | 'datacenter' | string;
  node?: string;
  vmid?: number;
  name?: string;
  storage?: string;
  status?: string;
  tags?: string;
  template?: number | boolean;
  cpu?: number;
  maxcpu?: number;
  mem?: number;
  maxmem?: number;
  disk?: number;
  maxdisk?: number;
  uptime?: number;
  plugintype?: string;
  content?: string;
  shared?: number | boolean;
}

export interface ResourceState {
  list: Resource[];
  byId: Map<string, Resource>;
  error: Error | null;
  loaded: boolean;
}

const EMPTY: ResourceState = { list: [], byId: new Map(), error: null, loaded: false };
let state: ResourceState = EMPTY;
let poller: Poller | null = null;
const subscribers = new Set<() => void>();

function set(next: ResourceState): void {
  state = next;
  for (const fn of subscribers) fn();
}

async function load(): Promise<void> {
  try {
    const data = await api.get<Resource[]>('/cluster/resources');
    const list = Array.isArray(data) ? data : [];
    set({ list, byId: new Map(list.map((r) => [r.id, r])), error: null, loaded: true });
  } catch (err) {
    set({ ...state, error: err as Error, loaded: true });
  }
}

export const resources = {
  start(): void {
    if (!poller) poller = poll(load, INTERVAL_MS);
  },
  stop(): void {
    poller?.stop();
    poller = null;
    state = EMPTY;
  },
  /** Reload now (after an action that changes resources). */
  refresh(): void {
    poller?.now();
  },
  state: (): ResourceState => state,
  get: (id: string): Resource | undefined => state.byId.get(id),
  nodes: (): Resource[] => state.list.filter((r) => r.type === 'node').sort((a, b) => String(a.node).localeCompare(String(b.node))),
  subscribe(fn: () => void): () => void {
    subscribers.add(fn);
    return () => subscribers.delete(fn);
  },
};

/** The resources; re-renders on every poll. */
export function useResources(): ResourceState {
  return useSyncExternalStore(resources.subscribe, resources.state);
}
