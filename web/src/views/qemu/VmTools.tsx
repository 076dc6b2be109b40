// The toolbar in a VM's header (every tab): Start, Shutdown (with Stop, Reboot, Pause, Resume),
// Console and More -> Remove (type the VMID to confirm), enabled by the VM's status from
// GET .../status/current.

import { useState, type JSX } from 'react';
import { api, apiPath } from '../../lib/api';
import { usePoll } from '../../lib/hooks';
import { navigate } from '../../lib/router';
import { openFormDialog } from '../../components/Dialog';
import type { ViewContext } from '../context';
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

/** The VM's status, polled every 3 s (shared by the header tools and the summary). */
export function useVmStatus(ctx: ViewContext, node: string): { status: VmStatus | null; error: Error | null; refresh: () => void } {
  const [status, setStatus] = useState<VmStatus | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const refresh = usePoll(async () => {
    if (!node) return;
    try {
      setStatus(await api.get<VmStatus>(apiPath('nodes', node, 'qemu', String(ctx.vmid), 'status', 'current')));
      setError(null);
    } catch (e) {
      setError(e as Error);
    }
  }, 3000, [node, ctx.vmid]);
  return { status, error, refresh };
}

/** Remove a VM: the user types its VMID to confirm. */
export async function removeVm(ctx: ViewContext, node: string): Promise<void> {
  const vmid = String(ctx.vmid);
  const upid = await openFormDialog({
    title: `Destroy VM ${vmid}`,
    submitText: 'Remove',
    intro: `This will permanently erase all data of VM ${vmid}.`,
    fields: [
      { name: 'confirm', label: `Please enter the ID to confirm (${vmid})`, required: true,
        validate: (v) => (String(v) === vmid ? null : `Type ${vmid} to confirm.`) },
      { name: 'purge', label: 'Purge from job configurations', type: 'checkbox', value: true },
      { name: 'destroy-unreferenced-disks', label: 'Destroy unreferenced disks owned by guest', type: 'checkbox', value: true },
    ],
    onSubmit: (v) => api.delete<string>(apiPath('nodes', node, 'qemu', vmid), {
      purge: Boolean(v.purge),
      'destroy-unreferenced-disks': Boolean(v['destroy-unreferenced-disks']),
    }),
  });
  if (typeof upid === 'string') {
    ctx.taskStarted(upid);
    navigate(`node/${node}`);
  }
}

export function VmTools({ ctx }: { ctx: ViewContext }): JSX.Element {
  const node = ctx.resource?.node || '';
  const { status, refresh } = useVmStatus(ctx, node);
  const [menu, setMenu] = useState(false);
  const running = status?.status === 'running';
  const paused = running && (status?.qmpstatus === 'paused' || status?.qmpstatus === 'suspended');
  const template = Boolean(Number(status?.template ?? ctx.resource?.template ?? 0));
  const known = Boolean(status);
  const act = (a: PowerAction) => async () => {
    setMenu(false);
    await powerAction(ctx, node, a);
    refresh();
  };
  const btn = (text: string, onClick: () => void, enabled: boolean, cls = 'btn'): JSX.Element => (
    <button type="button" className={cls} disabled={!enabled} onClick={onClick}>{text}</button>
  );
  return (
    <div className="header-tools" role="toolbar" aria-label="VM actions">
      {btn('Start', act('start'), known && !running && !template)}
      {btn('Resume', act('resume'), paused)}
      {btn('Pause', act('suspend'), running && !paused)}
      {btn('Shutdown', act('shutdown'), running)}
      {btn('Stop', act('stop'), running, 'btn danger')}
      {btn('Reboot', act('reboot'), running && !paused)}
      {btn('Console', () => openConsoleWindow(node, Number(ctx.vmid), 'vnc'), running)}
      <span className="menu-wrap">
        <button type="button" className="btn" aria-haspopup="menu" aria-expanded={menu} onClick={() => setMenu((m) => !m)}>More ▾</button>
        {menu ? (
          <div className="menu" role="menu" onKeyDown={(e) => { if (e.key === 'Escape') setMenu(false); }}>
            <button type="button" role="menuitem" className="menu-item" disabled={!running} onClick={act('reset')}>Reset</button>
            <button type="button" role="menuitem" className="menu-item danger" disabled={!known || running}
              onClick={() => { setMenu(false); void removeVm(ctx, node); }}>Remove</button>
          </div>
        ) : null}
      </span>
    </div>
  );
}
