// A VM's screen through noVNC: vncproxy (websocket=1) + vncwebsocket, the VNC ticket as the
// VNC password, as Proxmox's console does. noVNC is loaded on first use (its own chunk).

import { useEffect, useRef, useState, type JSX } from 'react';
import { openProxy, proxyError, websocketUrl } from './proxy';

type State = { kind: 'connecting' } | { kind: 'connected' } | { kind: 'closed'; message: string; error?: boolean };

export function VncConsole({ node, vmid }: { node: string; vmid: number }): JSX.Element {
  const screen = useRef<HTMLDivElement>(null);
  const rfbRef = useRef<{ disconnect(): void; sendCtrlAltDel(): void } | null>(null);
  const [state, setState] = useState<State>({ kind: 'connecting' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let live = true;
    setState({ kind: 'connecting' });
    (async () => {
      try {
        const [{ default: RFB }, ticket] = await Promise.all([import('@novnc/novnc/lib/rfb'), openProxy(node, vmid, 'vnc')]);
        if (!live || !screen.current) return;
        const rfb = new RFB(screen.current, websocketUrl(node, vmid, ticket), { credentials: { password: ticket.ticket } });
        rfb.scaleViewport = true;
        rfb.background = '#1d2630';
        rfb.addEventListener('connect', () => live && setState({ kind: 'connected' }));
        rfb.addEventListener('disconnect', (e: Event) => {
          const clean = (e as CustomEvent<{ clean: boolean }>).detail?.clean;
          if (live) setState({ kind: 'closed', message: clean ? 'Disconnected.' : 'The connection to the console was lost.', error: !clean });
        });
        rfb.addEventListener('credentialsrequired', () => rfb.sendCredentials({ password: ticket.ticket }));
        rfb.addEventListener('securityfailure', (e: Event) => {
          const reason = (e as CustomEvent<{ reason?: string }>).detail?.reason;
          if (live) setState({ kind: 'closed', message: `VNC authentication failed${reason ? `: ${reason}` : ''}.`, error: true });
        });
        rfbRef.current = rfb;
      } catch (err) {
        if (live) setState({ kind: 'closed', message: proxyError(err), error: true });
      }
    })();
    return () => {
      live = false;
      rfbRef.current?.disconnect();
      rfbRef.current = null;
    };
  }, [node, vmid, attempt]);

  return (
    <div className="console vnc-console" data-state={state.kind}>
      <div className="toolbar console-tools" role="toolbar" aria-label="Console">
        <span className={state.kind === 'closed' && state.error ? 'view-error' : 'muted'} role="status">
          {state.kind === 'connecting' ? 'Connecting…' : state.kind === 'connected' ? `VM ${vmid}: connected` : state.message}
        </span>
        <span className="spacer" />
        <button type="button" className="btn" disabled={state.kind !== 'connected'} onClick={() => rfbRef.current?.sendCtrlAltDel()}>Ctrl+Alt+Del</button>
        <button type="button" className="btn" disabled={state.kind === 'connecting'} onClick={() => setAttempt((a) => a + 1)}>Reconnect</button>
      </div>
      <div className="console-screen" ref={screen} />
    </div>
  );
}
