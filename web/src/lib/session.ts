// The login session, kept as Proxmox VE's UI keeps it: the ticket in the `PVEAuthCookie`
// cookie (path /, secure, SameSite=Strict) and the CSRF token in memory for the API client.
// The ticket lives 2 h; it is renewed every 15 min by posting it as the password.

import { ApiError, api, setCsrfToken } from './api';

export const COOKIE = 'PVEAuthCookie';
export const RENEW_INTERVAL_MS = 15 * 60 * 1000;

export type SessionEvent = 'login' | 'logout' | 'expired' | 'renewed';

export interface Session {
  username: string;
  cap: Record<string, Record<string, number>>;
  renewedAt: number;
  csrf: string | null;
}

interface TicketData {
  ticket: string;
  CSRFPreventionToken: string;
  username: string;
  cap?: Session['cap'];
}

let current: Session | null = null;
let renewTimer: ReturnType<typeof setInterval> | undefined;
const listeners = new Set<(kind: SessionEvent, s: Session | null) => void>();

/** Subscribe to session changes. Returns the unsubscribe function. */
export function onSessionChange(fn: (kind: SessionEvent, s: Session | null) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit(kind: SessionEvent): void {
  for (const fn of listeners) fn(kind, current);
}

export function username(): string | null {
  return current?.username ?? null;
}

/** Whether the ticket's capabilities (`cap` of /access/ticket) include `priv` in `section`. */
export function hasCap(section: string, priv: string): boolean {
  return Boolean(current?.cap?.[section]?.[priv]);
}

export function readTicket(): string | null {
  for (const part of document.cookie.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === COOKIE) {
      const value = rest.join('=');
      try {
        return decodeURIComponent(value) || null;
      } catch {
        return value || null;
      }
    }
  }
  return null;
}

function writeTicket(ticket: string): void {
  document.cookie = `${COOKIE}=${encodeURIComponent(ticket)}; path=/; secure; samesite=strict`;
}

function clearTicket(): void {
  document.cookie = `${COOKIE}=; path=/; secure; samesite=strict; expires=Thu, 01 Jan 1970 00:00:00 GMT`;
}

/** The user of a ticket `PVE:user@realm:HEXTIME::signature`. */
export function ticketUser(ticket: string | null): string | null {
  const m = /^PVE:([^:]+):[0-9A-Fa-f]{8}::/.exec(ticket || '');
  return m ? m[1] : null;
}

function apply(data: TicketData): void {
  writeTicket(data.ticket);
  setCsrfToken(data.CSRFPreventionToken);
  current = { username: data.username, cap: data.cap || {}, renewedAt: Date.now(), csrf: data.CSRFPreventionToken };
  scheduleRenewal();
}

/**
 * Log in. `user` may carry its realm (`alice@pve`); otherwise `realm` is appended by the
 * server. Throws ApiError (401 with the server's message, 400 with per-parameter errors).
 */
export async function login(user: string, password: string, realm?: string): Promise<Session> {
  const params: Record<string, string> = { username: user, password };
  if (!user.includes('@') && realm) params.realm = realm;
  const data = await api.post<TicketData>('/access/ticket', params, { auth: false });
  apply(data);
  emit('login');
  return current as Session;
}

/** Get a fresh ticket for the current one. Returns false when the server refused it. */
export async function renew(): Promise<boolean> {
  const ticket = readTicket();
  const user = current?.username || ticketUser(ticket);
  if (!ticket || !user) return false;
  try {
    const data = await api.post<TicketData>('/access/ticket', { username: user, password: ticket }, { auth: false });
    const first = !current;
    apply(data);
    emit(first ? 'login' : 'renewed');
    return true;
  } catch (err) {
    const status = (err as ApiError).status;
    if (status === 401 || status === 403) {
      expire();
      return false;
    }
    throw err; // a network error: keep the session, try again later
  }
}

/** On page load: continue with the ticket of the cookie, if it is still good. */
export async function resume(): Promise<boolean> {
  if (!readTicket()) return false;
  try {
    return await renew();
  } catch {
    return false;
  }
}

function scheduleRenewal(): void {
  clearInterval(renewTimer);
  renewTimer = setInterval(() => {
    renew().catch(() => {});
  }, RENEW_INTERVAL_MS);
}

// Timers of hidden tabs are throttled: renew at once when the tab comes back if it is due.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && current && Date.now() - current.renewedAt >= RENEW_INTERVAL_MS) {
    renew().catch(() => {});
  }
});

/**
 * The server refused our ticket (expired, or the user was disabled). `sentWith` is the CSRF
 * token of the refused request: a late answer to a request of an earlier login is ignored.
 */
export function expire(sentWith?: string | null): void {
  if (!current || !current.csrf) return;
  if (sentWith !== undefined && sentWith !== current.csrf) return;
  current.csrf = null;
  clearInterval(renewTimer);
  clearTicket();
  setCsrfToken(null);
  emit('expired');
}

/** Log out: forget the ticket. Proxmox has no server-side logout. */
export function logout(): void {
  clearInterval(renewTimer);
  clearTicket();
  setCsrfToken(null);
  current = null;
  emit('logout');
}
