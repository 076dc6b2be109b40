// The one client of the public API (/api2/json) that every screen uses.
// Parameters go form-encoded (query string for GET/DELETE), as Proxmox's own UI sends them;
// the CSRFPreventionToken header goes with every non-GET call; errors become ApiError with the
// server's message and its per-parameter `errors`.

export const API_BASE = '/api2/json';
const TIMEOUT_MS = 30000;

export type Params = Record<string, string | number | boolean | string[] | null | undefined>;
export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export class ApiError extends Error {
  status: number;
  /** { param: message } from a 400 "Parameter verification failed." */
  errors: Record<string, string> | null;

  constructor(status: number, message: string, errors: Record<string, string> | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.errors = errors || null;
  }
}

let csrfToken: string | null = null;
let unauthorizedHandler: ((err: ApiError, sentWith: string | null) => void) | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export function getCsrfToken(): string | null {
  return csrfToken;
}

/** handler(err, csrfTokenOfRequest): called when the server answers 401 to a logged-in call. */
export function onUnauthorized(handler: (err: ApiError, sentWith: string | null) => void): void {
  unauthorizedHandler = handler;
}

/** Encode parameters as Proxmox expects: booleans 0/1, arrays comma-joined, nulls dropped. */
export function encodeParams(params?: Params | null): URLSearchParams {
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
export function apiPath(...segments: (string | number)[]): string {
  return '/' + segments.map((s) => encodeURIComponent(String(s))).join('/');
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** false: a 401 does not mean the session expired (login itself). */
  auth?: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface ApiResponse<T = any> {
  data: T;
  total?: number;
  errors?: Record<string, string>;
  message?: string;
  /** GET /nodes/{node}/network: the diff of the pending interface changes. */
  changes?: string;
}

/** The whole JSON answer ({data, total, ...}). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function request<T = any>(method: Method, path: string, params?: Params | null, { signal, auth = true }: RequestOptions = {}): Promise<ApiResponse<T>> {
  const query = encodeParams(params);
  let url = API_BASE + path;
  const headers: Record<string, string> = { Accept: 'application/json' };
  const init: RequestInit = { method, headers, credentials: 'same-origin' };
  if (method === 'GET' || method === 'DELETE') {
    const qs = query.toString();
    if (qs) url += '?' + qs;
  } else {
    init.body = query;
    headers['Content-Type'] = 'application/x-www-form-urlencoded; charset=UTF-8';
  }
  const sentWith = csrfToken; // which login this request belongs to
  if (method !== 'GET' && csrfToken) headers.CSRFPreventionToken = csrfToken;

  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), TIMEOUT_MS);
  init.signal = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;

  let resp: Response;
  try {
    resp = await fetch(url, init);
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError(0, timeout.signal.aborted ? 'request timed out' : `connection error: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  let body: ApiResponse<T> | null = null;
  try {
    body = await resp.json();
  } catch {
    body = null;
  }
  if (!resp.ok) {
    const message = (body && body.message ? String(body.message).trim() : '') || resp.statusText || `HTTP ${resp.status}`;
    const err = new ApiError(resp.status, message, body?.errors ?? null);
    if (resp.status === 401 && auth && unauthorizedHandler) unauthorizedHandler(err, sentWith);
    throw err;
  }
  return body || ({ data: null } as ApiResponse<T>);
}

/* eslint-disable @typescript-eslint/no-explicit-any */
export const api = {
  get: async <T = any>(path: string, params?: Params | null, opts?: RequestOptions): Promise<T> => (await request<T>('GET', path, params, opts)).data,
  post: async <T = any>(path: string, params?: Params | null, opts?: RequestOptions): Promise<T> => (await request<T>('POST', path, params, opts)).data,
  put: async <T = any>(path: string, params?: Params | null, opts?: RequestOptions): Promise<T> => (await request<T>('PUT', path, params, opts)).data,
  delete: async <T = any>(path: string, params?: Params | null, opts?: RequestOptions): Promise<T> => (await request<T>('DELETE', path, params, opts)).data,
  request,
};
