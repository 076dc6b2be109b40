// The toolbar in a VM's header (every tab): Start, Shutdown (with Stop, Reboot, Pause, Resume),
// Console and More -> Remove (type the VMID to confirm), enabled by the VM's status from
// GET .../status/current.

import { useState, type JSX } from 'react';
import { api } from '../../lib/api';
import { usePoll } from '../../lib/hooks';
import { navigate } from '../../lib/router';
import { openFormDialog } from '../../components/Dialog';
import { MenuButton } from '../../components/Menu';
import type { ViewContext } from '../context';
import { guestPath, guestWord } from '../guest/guest';
import { backupNow, cloneGuest, convertToTemplate } from '../guest/dialogs';
import { powerAction, type PowerAction } from './actions';
import { openConsoleWindow } from './consoleWindow';

export interface VmStatus {
  status: 'running' | 'stopped';
  qmpstatus?: string;
  name?: string;
  lock?: string;
  template?: number;
  cpu?: number;
  cpus?: number;
  mem?: number;
  maxmem?: number;
  maxdisk?: number;
  uptime?: number;
  pid?: number;
  netin?: number;
  netout?: number;
  diskread?: number;
  diskwrite?: number;
}

/** The guest's (VM's or CT's) status, polled every 3 s (shared by the header tools and the summary). */
export function useVmStatus(ctx: ViewContext, node: string): { status: VmStatus | null; error: Error | null; refresh: () => void } {
  const [status, setStatus] = useState<VmStatus | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const refresh = usePoll(async () => {
    if (!node) return;
    try {
      setStatus(await api.get<VmStatus>(guestPath(ctx, node, 'status', 'current')));
      setError(null);
    } catch (e) {
      setError(e as Error);
    }
  }, 3000, [node, ctx.vmid]);
  return { status, error, refresh };
}

/** Remove a VM or CT: the user types its VMID to confirm. */
export async function removeVm(ctx: ViewContext, node: string): Promise<void> {
  const vmid = String(ctx.vmid);
  const upid = await openFormDialog({
    title: `Destroy ${guestWord(ctx)} ${vmid}`,
    submitText: 'Remove',
    intro: `This will permanently erase all data of ${guestWord(ctx)} ${vmid}.`,
    fields: [
      { name: 'confirm', label: `Please enter the ID to confirm (${vmid})`, required: true,
        validate: (v) => (String(v) === vmid ? null : `Type ${vmid} to confirm.`) },
      { name: 'purge', label: 'Purge from job configurations', type: 'checkbox', value: true },
      { name: 'destroy-unreferenced-disks', label: 'Destroy unreferenced disks owned by guest', type: 'checkbox', value: true },
    ],
    onSubmit: (v) => api.delete<string>(guestPath(ctx, node), {
      purge: Boolean(v.purge),
      'destroy-unreferenced-disks': Boolean(v['destroy-unreferenced-disks']),
    }),
  });
  if (typeof upid === 'string') {
    ctx.taskStarted(upid);
    navigate(`node/${node}`);
  }
}

/** The header toolbar of a VM or a CT (CTs have no pause/reset; their console is a terminal). */
export function VmTools({ ctx }: { ctx: ViewContext }): JSX.Element {
  const node = ctx.resource?.node || '';
  const isVm = ctx.type === 'qemu';
  const { status, refresh } = useVmStatus(ctx, node);
  const running = status?.status === 'running';
  const paused = running && (status?.qmpstatus === 'paused' || status?.qmpstatus === 'suspended');
  const template = Boolean(Number(status?.template ?? ctx.resource?.template ?? 0));
  const known = Boolean(status);
  const act = (a: PowerAction) => async () => {
    await powerAction(ctx, node, a);
    refresh();
    // The task runs on: look again when it has likely changed the state.
    for (const ms of [1500, 4000]) setTimeout(refresh, ms);
  };
  const btn = (text: string, onClick: () => void, enabled: boolean, cls = 'btn'): JSX.Element => (
    <button type="button" className={cls} disabled={!enabled} onClick={onClick}>{text}</button>
  );
  return (
    <div className="header-tools" role="toolbar" aria-label={isVm ? 'VM actions' : 'CT actions'}>
      {btn('Start', act('start'), known && !running && !template)}
      {isVm ? btn('Resume', act('resume'), paused) : null}
      {isVm ? btn('Pause', act('suspend'), running && !paused) : null}
      {btn('Shutdown', act('shutdown'), running)}
      {btn('Stop', act('stop'), running, 'btn danger')}
      {btn('Reboot', act('reboot'), running && !paused)}
      {btn('Console', () => openConsoleWindow(node, Number(ctx.vmid), isVm ? 'vnc' : 'lxc'), running)}
      <MenuButton text="More" items={[
        ...(isVm ? [{ text: 'Reset', disabled: !running, onClick: act('reset') }] : []),
        { text: 'Clone', disabled: !known, onClick: () => void cloneGuest(ctx) },
        { text: 'Convert to template', disabled: !known || running || template, onClick: () => void convertToTemplate(ctx).then(refresh) },
        { text: 'Backup now', disabled: !known || template, onClick: () => void backupNow(ctx) },
        '-',
        { text: 'Remove', danger: true, disabled: !known || running, onClick: () => void removeVm(ctx, node) },
      ]} />
    </div>
  );
}
