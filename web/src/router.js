// A small hash router. A route names the selected object of the resource tree and its tab:
//   #datacenter:summary   #node/pve1:tasks   #qemu/100:summary   #storage/pve1/local:summary
// Object ids are those of /cluster/resources (plus `datacenter`), so a route survives reloads.

const listeners = new Set();

export const DEFAULT_ROUTE = Object.freeze({ id: 'datacenter', tab: '' });

export function parseHash(hash) {
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

export function formatHash({ id, tab }) {
  return '#' + id + (tab ? ':' + tab : '');
}

export function currentRoute() {
  return parseHash(location.hash);
}

/** Go to an object (and tab). `replace` rewrites the history entry instead of adding one. */
export function navigate(id, tab = '', { replace = false } = {}) {
  const hash = formatHash({ id, tab });
  if (location.hash === hash) return;
  if (replace) {
    history.replaceState(null, '', hash);
    emit();
  } else {
    location.hash = hash; // fires hashchange
  }
}

export function onRoute(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit() {
  const route = currentRoute();
  for (const fn of listeners) fn(route);
}

window.addEventListener('hashchange', emit);
