// The one client of the public API (/api2/json) that every screen uses.
// Parameters go form-encoded (query string for GET/DELETE), as Proxmox's own UI sends them;
// the CSRFPreventionToken header goes with every non-GET call; errors become ApiError with the
// server's message and its per-parameter `errors`.

export const API_BASE = '/api2/json';
const TIMEOUT_MS = 30000;

export class ApiError extends Error {
  constructor(status, message, errors = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    // { param: message } from a 400 "Parameter verification failed."
    this.errors = errors || null;
  }
}

let csrfToken = null;
let unauthorizedHandler = null;

export function setCsrfToken(token) {
  csrfToken = token;
}

/**
 * handler(err, csrfTokenOfRequest): called when the server answers 401 to a logged-in call.
 */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

/** Encode parameters as Proxmox expects: booleans 0/1, arrays comma-joined, nulls dropped. */
export function encodeParams(params) {
  const out = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null) continue;
    if (typeof value === 'boolean') out.append(key, value ? '1' : '0');
    else if (Array.isArray(value)) out.append(key, value.join(','));
    else out.append(key, String(value));
  }
  return out;
}

/** Join path segments, each one encoded: apiPath('nodes', node, 'tasks', upid). */
export function apiPath(...segments) {
  return '/' + segments.map((s) => encodeURIComponent(String(s))).join('/');
}

/** The whole JSON answer ({data, total, ...}). */
export async function request(method, path, params, { signal, auth = true } = {}) {
  const query = encodeParams(params);
  let url = API_BASE + path;
  const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (method === 'GET' || method === 'DELETE') {
    const qs = query.toString();
    if (qs) url += '?' + qs;
  } else {
    init.body = query;
    init.headers['Content-Type'] = 'application/x-www-form-urlencoded; charset=UTF-8';
  }
  const sentWith = csrfToken; // which login this request belongs to
  if (method !== 'GET' && csrfToken) init.headers.CSRFPreventionToken = csrfToken;

  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), TIMEOUT_MS);
  init.signal = signal ? anySignal(signal, timeout.signal) : timeout.signal;

  let resp;
  try {
    resp = await fetch(url, init);
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError(0, timeout.signal.aborted ? 'request timed out' : `connection error: ${err.message}`);
  } finally {
    clearTimeout(timer);
  }
  let body = null;
  try {
    body = await resp.json();
  } catch {
    body = null;
  }
  if (!resp.ok) {
    const message = (body && body.message ? String(body.message).trim() : '') ||
      resp.statusText || `HTTP ${resp.status}`;
    const err = new ApiError(resp.status, message, body && body.errors);
    if (resp.status === 401 && auth && unauthorizedHandler) unauthorizedHandler(err, sentWith);
    throw err;
  }
  return body || { data: null };
}

function anySignal(a, b) {
  if (AbortSignal.any) return AbortSignal.any([a, b]);
  const c = new AbortController();
  for (const s of [a, b]) s.addEventListener('abort', () => c.abort(), { once: true });
  return c.signal;
}

export const api = {
  get: async (path, params, opts) => (await request('GET', path, params, opts)).data,
  post: async (path, params, opts) => (await request('POST', path, params, opts)).data,
  put: async (path, params, opts) => (await request('PUT', path, params, opts)).data,
  delete: async (path, params, opts) => (await request('DELETE', path, params, opts)).data,
  request,
};
