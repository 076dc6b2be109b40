// Container request parameters: the create wizard's POST /nodes/{node}/lxc and the netN
// property strings of the NIC dialog.

import type { Params } from '../../lib/api';
import { formatPropertyString } from '../../lib/qemu';
import type { FieldValue } from '../../components/form-model';

/** The net0 property string of the wizard's values. */
export function ctNet(v: Record<string, FieldValue>): string | undefined {
  if (v.nonet) return undefined;
  const parts = [`name=${v.netname}`, `bridge=${v.bridge}`];
  if (v.ipmode === 'static') {
    parts.push(`ip=${v.ip}`);
    if (v.gw) parts.push(`gw=${v.gw}`);
  } else if (v.ipmode === 'dhcp') parts.push('ip=dhcp');
  if (v.firewall) parts.push('firewall=1');
  return parts.join(',');
}

/** The POST parameters of the wizard's values. */
export function createCtParams(v: Record<string, FieldValue>): Params {
  return {
    vmid: String(v.vmid),
    hostname: v.hostname ? String(v.hostname) : undefined,
    ostemplate: String(v.ostemplate),
    unprivileged: v.unprivileged ? 1 : 0,
    password: v.password ? String(v.password) : undefined,
    'ssh-public-keys': v['ssh-public-keys'] ? String(v['ssh-public-keys']) : undefined,
    rootfs: `${v.storage}:${v.disksize}`,
    cores: String(v.cores),
    memory: String(v.memory),
    swap: String(v.swap),
    net0: ctNet(v),
    searchdomain: v.searchdomain ? String(v.searchdomain) : undefined,
    nameserver: v.nameserver ? String(v.nameserver) : undefined,
    start: v.start ? 1 : undefined,
  };
}

/** The netN property string of the NIC dialog's values. */
export function nicValue(v: Record<string, FieldValue>): string {
  return formatPropertyString({
    name: String(v.name),
    bridge: String(v.bridge),
    hwaddr: v.hwaddr ? String(v.hwaddr) : undefined,
    tag: v.tag ? String(v.tag) : undefined,
    ip: v.ipmode === 'dhcp' ? 'dhcp' : v.ipmode === 'static' ? String(v.ip) : undefined,
    gw: v.ipmode === 'static' && v.gw ? String(v.gw) : undefined,
    firewall: v.firewall ? '1' : undefined,
  });
}
