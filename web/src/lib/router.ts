// A small hash router. A route names the selected object of the resource tree and its tab:
//   #datacenter:summary   #node/pve1:tasks   #qemu/100:summary   #storage/pve1/local:summary
// Object ids are those of /cluster/resources (plus `datacenter`), so a route survives reloads.

import { useSyncExternalStore } from 'react';

export interface Route {
  id: string;
  tab: string;
}

export const DEFAULT_ROUTE: Readonly<Route> = Object.freeze({ id: 'datacenter', tab: '' });

export function parseHash(hash: string): Route {
  let text = (hash || '').replace(/^#\/?/, '');
  try {
    text = decodeURIComponent(text);
  } catch {
    return { ...DEFAULT_ROUTE };
  }
  if (!text) return { ...DEFAULT_ROUTE };
  const at = text.lastIndexOf(':');
  if (at < 0) return { id: text, tab: '' };
  return { id: text.slice(0, at) || DEFAULT_ROUTE.id, tab: text.slice(at + 1) };
}

export function formatHash({ id, tab }: Route): string {
  return '#' + id + (tab ? ':' + tab : '');
}

export function currentRoute(): Route {
  return parseHash(location.hash);
}

const listeners = new Set<() => void>();

/** Go to an object (and tab). `replace` rewrites the history entry instead of adding one. */
export function navigate(id: string, tab = '', { replace = false } = {}): void {
  const hash = formatHash({ id, tab });
  if (location.hash === hash) return;
  if (replace) {
    history.replaceState(null, '', hash);
    emit();
  } else {
    location.hash = hash; // fires hashchange
  }
}

function emit(): void {
  for (const fn of listeners) fn();
}

window.addEventListener('hashchange', emit);

function subscribe(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The current route; re-renders on change. */
export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, () => location.hash);
  return parseHash(hash);
}
