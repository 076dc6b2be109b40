// The cluster's resources (/cluster/resources), polled while logged in and shared by the tree,
// the summaries and every view that needs to know which nodes, guests and storages exist.

import { api } from './api.js';
import { poll } from './poll.js';

const INTERVAL_MS = 3000;

let list = [];
let byId = new Map();
let lastError = null;
let loaded = false;
let poller = null;
const subscribers = new Set();

function notify() {
  for (const fn of subscribers) fn(list, lastError);
}

async function load() {
  try {
    const data = await api.get('/cluster/resources');
    list = Array.isArray(data) ? data : [];
    byId = new Map(list.map((r) => [r.id, r]));
    lastError = null;
  } catch (err) {
    lastError = err;
  }
  loaded = true;
  notify();
}

export const resources = {
  start() {
    if (!poller) poller = poll(load, INTERVAL_MS);
  },
  stop() {
    poller?.stop();
    poller = null;
    list = [];
    byId = new Map();
    loaded = false;
  },
  /** Reload now (after an action that changes resources). */
  refresh() {
    poller?.now();
  },
  list: () => list,
  get: (id) => byId.get(id),
  loaded: () => loaded,
  error: () => lastError,
  nodes: () => list.filter((r) => r.type === 'node').sort((a, b) => a.node.localeCompare(b.node)),
  /** fn(list, error) now (if loaded) and on every change; returns the unsubscribe function. */
  subscribe(fn) {
    subscribers.add(fn);
    if (loaded) fn(list, lastError);
    return () => subscribers.delete(fn);
  },
};
