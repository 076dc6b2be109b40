// What VM and container screens share: the API path of the guest, its kind's words.

import { apiPath } from '../../lib/api';
import type { ViewContext } from '../context';

export type GuestType = 'qemu' | 'lxc';

export function guestType(ctx: ViewContext): GuestType {
  return ctx.type === 'lxc' ? 'lxc' : 'qemu';
}

/** /nodes/{node}/{qemu|lxc}/{vmid}/...rest */
export function guestPath(ctx: ViewContext, node: string, ...rest: string[]): string {
  return apiPath('nodes', node, guestType(ctx), String(ctx.vmid), ...rest);
}

/** 'VM' or 'CT'. */
export function guestWord(ctx: ViewContext): string {
  return ctx.type === 'lxc' ? 'CT' : 'VM';
}

export function guestNode(ctx: ViewContext): string {
  return ctx.resource?.node || ctx.node || '';
}
