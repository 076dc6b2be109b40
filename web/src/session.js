// The login session, kept as Proxmox VE's UI keeps it: the ticket in the `PVEAuthCookie`
// cookie (path /, secure, SameSite=Strict) and the CSRF token in memory for the API client.
// The ticket lives 2 h; it is renewed every 15 min by posting it as the password.

import { api, setCsrfToken } from './api.js';

export const COOKIE = 'PVEAuthCookie';
export const RENEW_INTERVAL_MS = 15 * 60 * 1000;

let current = null; // { username, cap, renewedAt }
let renewTimer = null;
const listeners = new Set();

/** Subscribe to 'login' | 'logout' | 'expired' | 'renewed'. Returns the unsubscribe function. */
export function onSessionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit(kind) {
  for (const fn of listeners) fn(kind, current);
}

export function username() {
  return current?.username ?? null;
}

/** Whether the ticket's capabilities (`cap` of /access/ticket) include `priv` in `section`. */
export function hasCap(section, priv) {
  return Boolean(current?.cap?.[section]?.[priv]);
}

export function readTicket() {
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

function writeTicket(ticket) {
  document.cookie = `${COOKIE}=${encodeURIComponent(ticket)}; path=/; secure; samesite=strict`;
}

function clearTicket() {
  document.cookie = `${COOKIE}=; path=/; secure; samesite=strict; expires=Thu, 01 Jan 1970 00:00:00 GMT`;
}

/** The user of a ticket `PVE:user@realm:HEXTIME::signature`. */
export function ticketUser(ticket) {
  const m = /^PVE:([^:]+):[0-9A-Fa-f]{8}::/.exec(ticket || '');
  return m ? m[1] : null;
}

function apply(data) {
  writeTicket(data.ticket);
  setCsrfToken(data.CSRFPreventionToken);
  current = { username: data.username, cap: data.cap || {}, renewedAt: Date.now(), csrf: data.CSRFPreventionToken };
  scheduleRenewal();
}

/**
 * Log in. `username` may carry its realm (`alice@pve`); otherwise `realm` is appended by the
 * server. Throws ApiError (401 with the server's message, 400 with per-parameter errors).
 */
export async function login(user, password, realm) {
  const params = { username: user, password };
  if (!user.includes('@') && realm) params.realm = realm;
  const data = await api.post('/access/ticket', params, { auth: false });
  apply(data);
  emit('login');
  return current;
}

/** Get a fresh ticket for the current one. Returns false when the server refused it. */
export async function renew() {
  const ticket = readTicket();
  const user = current?.username || ticketUser(ticket);
  if (!ticket || !user) return false;
  try {
    const data = await api.post('/access/ticket', { username: user, password: ticket }, { auth: false });
    const first = !current;
    apply(data);
    emit(first ? 'login' : 'renewed');
    return true;
  } catch (err) {
    if (err.status === 401 || err.status === 403) {
      expire();
      return false;
    }
    throw err; // a network error: keep the session, try again later
  }
}

/** On page load: continue with the ticket of the cookie, if it is still good. */
export async function resume() {
  if (!readTicket()) return false;
  try {
    return await renew();
  } catch {
    return false;
  }
}

function scheduleRenewal() {
  clearInterval(renewTimer);
  renewTimer = setInterval(() => {
    renew().catch(() => {});
  }, RENEW_INTERVAL_MS);
}

// Timers of hidden tabs are throttled: renew at once when the tab comes back if it is due.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && current &&
      Date.now() - current.renewedAt >= RENEW_INTERVAL_MS) {
    renew().catch(() => {});
  }
});

/**
 * The server refused our ticket (expired, or the user was disabled). `sentWith` is the CSRF
 * token of the refused request: a late answer to a request of an earlier login is ignored.
 */
export function expire(sentWith) {
  if (!current || !current.csrf) return;
  if (sentWith !== undefined && sentWith !== current.csrf) return;
  current.csrf = null;
  clearInterval(renewTimer);
  clearTicket();
  setCsrfToken(null);
  emit('expired');
}

/** Log out: forget the ticket. Proxmox has no server-side logout. */
export function logout() {
  clearInterval(renewTimer);
  clearTicket();
  setCsrfToken(null);
  current = null;
  emit('logout');
}
