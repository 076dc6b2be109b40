// The console endpoints, as Proxmox has them: POST .../vncproxy or .../termproxy gives a port
// and a one-time ticket; GET .../vncwebsocket?port=..&vncticket=.. upgrades to a websocket
// (authenticated by the PVEAuthCookie).

import { ApiError, api, apiPath } from '../lib/api';

export interface ProxyTicket {
  port: number | string;
  ticket: string;
  user: string;
  upid?: string;
  cert?: string;
}

/** vnc: a VM's display; serial: a VM's serial port; lxc: a container's console (both xterm.js). */
export type ConsoleKind = 'vnc' | 'serial' | 'lxc';

export function guestTypeOf(kind: ConsoleKind): 'qemu' | 'lxc' {
  return kind === 'lxc' ? 'lxc' : 'qemu';
}

export async function openProxy(node: string, vmid: number, kind: ConsoleKind, serial = 'serial0'): Promise<ProxyTicket> {
  const base = apiPath('nodes', node, guestTypeOf(kind), String(vmid));
  if (kind === 'vnc') return api.post<ProxyTicket>(`${base}/vncproxy`, { websocket: 1 });
  // A container's termproxy takes no serial port (as Proxmox's).
  return api.post<ProxyTicket>(`${base}/termproxy`, kind === 'serial' ? { serial } : {});
}

export function websocketUrl(node: string, vmid: number, p: ProxyTicket, kind: ConsoleKind = 'vnc'): string {
  const q = new URLSearchParams({ port: String(p.port), vncticket: p.ticket });
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/api2/json${apiPath('nodes', node, guestTypeOf(kind), String(vmid), 'vncwebsocket')}?${q.toString()}`;
}

/** A readable message for a failed proxy request (501: the server has no consoles yet). */
export function proxyError(err: unknown): string {
  const e = err as ApiError;
  if (e?.status === 501 || e?.status === 404) return 'Consoles are not available on this server yet (the console proxy is not implemented).';
  return `Cannot open the console: ${e?.message ?? String(err)}`;
}
