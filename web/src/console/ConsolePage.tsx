// The page of a console window (`/?console=kvm|serial&node=..&vmid=..`): only the console.

import type { JSX } from 'react';
import { consoleUrl, openConsoleWindow } from '../views/qemu/consoleWindow';
import type { ConsoleKind } from './proxy';
import type { ViewContext } from '../views/context';
import { SerialConsole } from './SerialConsole';
import { VncConsole } from './VncConsole';

export interface ConsoleTarget {
  kind: ConsoleKind;
  node: string;
  vmid: number;
  serial: string;
}

/** The console a page URL asks for, if any. */
export function consoleTarget(search: string): ConsoleTarget | null {
  const q = new URLSearchParams(search);
  const console = q.get('console');
  const vmid = Number(q.get('vmid'));
  const node = q.get('node') || '';
  if (!console || !node || !Number.isInteger(vmid)) return null;
  return { kind: console === 'serial' || console === 'lxc' ? console : 'vnc', node, vmid, serial: q.get('serial') || 'serial0' };
}

export function ConsolePage({ target }: { target: ConsoleTarget }): JSX.Element {
  return (
    <div className="console-page">
      {target.kind === 'vnc' ? <VncConsole node={target.node} vmid={target.vmid} /> : <SerialConsole node={target.node} vmid={target.vmid} serial={target.serial} kind={target.kind} />}
    </div>
  );
}

/** VM -> Console / Serial and CT -> Console tabs: the console in the panel, with a button for its own window. */
export function ConsoleTab({ ctx, kind }: { ctx: ViewContext; kind: ConsoleKind }): JSX.Element {
  const node = ctx.resource?.node || '';
  const vmid = Number(ctx.vmid);
  const running = ctx.resource?.status === 'running';
  return (
    <div className="view console-view">
      <div className="toolbar">
        <span className="muted">{kind === 'vnc' ? 'Display (noVNC)' : kind === 'lxc' ? 'Container console (xterm.js)' : 'Serial console serial0 (xterm.js)'}</span>
        <span className="spacer" />
        <a className="btn" href={consoleUrl(node, vmid, kind)} target="_blank" rel="noopener"
          onClick={(e) => { e.preventDefault(); openConsoleWindow(node, vmid, kind); }}>Open in new window</a>
      </div>
      {!node ? null : !running
        ? <p className="muted console-off">{kind === 'lxc' ? 'CT' : 'VM'} {vmid} is not running.</p>
        : kind === 'vnc' ? <VncConsole node={node} vmid={vmid} /> : <SerialConsole node={node} vmid={vmid} kind={kind} />}
    </div>
  );
}
