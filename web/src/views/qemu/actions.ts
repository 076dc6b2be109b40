// Guest power actions (POST .../status/{action}) with Proxmox's confirmations, for VMs and CTs.

import { api } from '../../lib/api';
import { confirmDialog, runAction } from '../../components/Dialog';
import type { ViewContext } from '../context';
import { guestPath, guestWord } from '../guest/guest';

export type PowerAction = 'start' | 'shutdown' | 'stop' | 'reboot' | 'reset' | 'suspend' | 'resume';

const CONFIRM: Partial<Record<PowerAction, string>> = {
  shutdown: 'Shutdown',
  stop: 'Stop',
  reboot: 'Reboot',
  reset: 'Reset',
  suspend: 'Pause',
};

/** Run a power action as a task (its log window opens); confirms the disruptive ones first. */
export async function powerAction(ctx: ViewContext, node: string, action: PowerAction): Promise<void> {
  const verb = CONFIRM[action];
  if (verb && !await confirmDialog({ title: 'Confirm', message: `${verb} ${guestWord(ctx)} ${ctx.vmid}?`, confirmText: verb, danger: action === 'stop' || action === 'reset' })) return;
  const upid = await runAction(() => api.post<string>(guestPath(ctx, node, 'status', action)), `Cannot ${action} ${guestWord(ctx)} ${ctx.vmid}`);
  if (upid) ctx.taskStarted(upid);
}
