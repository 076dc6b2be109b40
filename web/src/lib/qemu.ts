// VM config helpers: property strings, which keys are hardware and which options, as
// Proxmox's UI sorts them.

/** `virtio=AA:BB,bridge=vmbr0,firewall=1` -> { virtio: 'AA:BB', bridge: 'vmbr0', firewall: '1' };
 * a first part without `=` goes under `defaultKey`. */
export function parsePropertyString(text: string, defaultKey = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, part] of String(text || '').split(',').entries()) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq < 0) out[i === 0 && defaultKey ? defaultKey : part] = i === 0 && defaultKey ? part : '1';
    else out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

export function formatPropertyString(props: Record<string, string | number | undefined | null>, defaultKey = ''): string {
  const parts: string[] = [];
  if (defaultKey && props[defaultKey] !== undefined && props[defaultKey] !== null && props[defaultKey] !== '') parts.push(String(props[defaultKey]));
  for (const [k, v] of Object.entries(props)) {
    if (k === defaultKey || v === undefined || v === null || v === '') continue;
    parts.push(`${k}=${v}`);
  }
  return parts.join(',');
}

export const DISK_RE = /^(ide|sata|scsi|virtio)(\d+)$/;
export const NET_RE = /^net(\d+)$/;

export function isDiskKey(key: string): boolean {
  return DISK_RE.test(key) || /^(efidisk|tpmstate)\d+$/.test(key);
}

export function isCdrom(value: string): boolean {
  return /(^|,)media=cdrom(,|$)/.test(value) || value === 'cdrom';
}

/** The order of the hardware list. */
export function hardwareOrder(key: string): number {
  const fixed = ['memory', 'balloon', 'sockets', 'cores', 'cpu', 'bios', 'machine', 'scsihw', 'vga'];
  const at = fixed.indexOf(key);
  if (at >= 0) return at;
  const m = /^([a-z]+)(\d+)$/.exec(key);
  const groups = ['ide', 'sata', 'scsi', 'virtio', 'efidisk', 'tpmstate', 'net', 'usb', 'hostpci', 'serial', 'unused'];
  if (m && groups.includes(m[1])) return 100 + groups.indexOf(m[1]) * 100 + Number(m[2]);
  return 10000;
}

export function isHardwareKey(key: string): boolean {
  return hardwareOrder(key) < 10000;
}

/** Options (Proxmox's Options tab), in its order. */
export const OPTION_KEYS = ['name', 'onboot', 'startup', 'ostype', 'boot', 'tablet', 'hotplug', 'acpi', 'kvm', 'freeze', 'localtime', 'protection', 'agent', 'description', 'tags'];

export function hardwareTitle(key: string): string {
  const names: Record<string, string> = {
    memory: 'Memory', balloon: 'Minimum memory', sockets: 'Sockets', cores: 'Cores', cpu: 'Processor type',
    bios: 'BIOS', machine: 'Machine', scsihw: 'SCSI Controller', vga: 'Display',
  };
  if (names[key]) return names[key];
  const m = /^([a-z]+)(\d+)$/.exec(key);
  if (!m) return key;
  const prefix: Record<string, string> = {
    net: 'Network Device', serial: 'Serial Port', unused: 'Unused Disk', efidisk: 'EFI Disk', tpmstate: 'TPM State', usb: 'USB Device', hostpci: 'PCI Device',
  };
  return `${prefix[m[1]] ?? 'Hard Disk'} (${key})`;
}

export const OSTYPES = [
  { value: 'l26', label: 'Linux 6.x - 2.6 Kernel' },
  { value: 'l24', label: 'Linux 2.4 Kernel' },
  { value: 'win11', label: 'Microsoft Windows 11/2022/2025' },
  { value: 'win10', label: 'Microsoft Windows 10/2016/2019' },
  { value: 'solaris', label: 'Solaris Kernel' },
  { value: 'other', label: 'Other' },
];

/** One entry of GET .../pending. */
export interface PendingEntry {
  key: string;
  value?: string | number;
  pending?: string | number;
  delete?: number;
}
