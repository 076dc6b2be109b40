// Consoles in their own browser window: the page itself with `?console=...` in its URL
// (as Proxmox opens `/?console=kvm&novnc=1&vmid=...`), which shows only the console.

import type { ConsoleKind } from '../../console/proxy';

export function consoleUrl(node: string, vmid: number, kind: ConsoleKind, serial = 'serial0'): string {
  const q = new URLSearchParams({ console: kind === 'vnc' ? 'kvm' : kind, node, vmid: String(vmid) });
  if (kind === 'serial') q.set('serial', serial);
  return `/?${q.toString()}`;
}

export function openConsoleWindow(node: string, vmid: number, kind: ConsoleKind, serial = 'serial0'): void {
  window.open(consoleUrl(node, vmid, kind, serial), `oxve-console-${vmid}-${kind}`, 'width=1024,height=800,noopener');
}
