// A serial console through xterm.js: termproxy (serial0) + vncwebsocket with Proxmox's
// protocol — `user:ticket\n` first, the server answers `OK`; then `0:<len>:<data>` for input,
// `1:<cols>:<rows>:` on resize, `2` as keep-alive; the server sends the raw terminal output.

import { useEffect, useRef, useState, type JSX } from 'react';
import '@xterm/xterm/css/xterm.css';
import { PING, authMessage, inputMessage, resizeMessage } from './protocol';
import { openProxy, proxyError, websocketUrl } from './proxy';

type State = { kind: 'connecting' } | { kind: 'connected' } | { kind: 'closed'; message: string; error?: boolean };

/** `kind` serial: a VM's serial port; lxc: a container's console. */
export function SerialConsole({ node, vmid, serial = 'serial0', kind = 'serial' }: { node: string; vmid: number; serial?: string; kind?: 'serial' | 'lxc' }): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<State>({ kind: 'connecting' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let live = true;
    let cleanup: (() => void) | null = null;
    setState({ kind: 'connecting' });
    (async () => {
      try {
        const [{ Terminal }, { FitAddon }, ticket] = await Promise.all([
          import('@xterm/xterm'), import('@xterm/addon-fit'), openProxy(node, vmid, kind, serial),
        ]);
        if (!live || !box.current) return;
        const term = new Terminal({ cursorBlink: true, fontSize: 14, scrollback: 5000, fontFamily: 'monospace' });
        const fit = new FitAddon();
        term.loadAddon(fit);
        term.open(box.current);
        fit.fit();
        const ws = new WebSocket(websocketUrl(node, vmid, ticket, kind), 'binary');
        ws.binaryType = 'arraybuffer';
        let authed = false;
        const decoder = new TextDecoder();
        const sendSize = (): void => {
          if (authed && ws.readyState === WebSocket.OPEN) ws.send(resizeMessage(term.cols, term.rows));
        };
        ws.onopen = () => ws.send(authMessage(ticket.user, ticket.ticket));
        ws.onmessage = (ev) => {
          const data = typeof ev.data === 'string' ? ev.data : decoder.decode(new Uint8Array(ev.data as ArrayBuffer), { stream: true });
          if (!authed) {
            if (data.startsWith('OK')) {
              authed = true;
              setState({ kind: 'connected' });
              sendSize();
              term.focus();
              const rest = data.slice(2);
              if (rest) term.write(rest);
            } else {
              setState({ kind: 'closed', message: `The console refused the ticket: ${data.trim()}`, error: true });
              ws.close();
            }
            return;
          }
          term.write(data);
        };
        ws.onclose = (ev) => {
          if (live) setState({ kind: 'closed', message: ev.wasClean ? 'Disconnected.' : 'The connection to the console was lost.', error: !ev.wasClean });
        };
        const input = term.onData((d) => {
          if (authed && ws.readyState === WebSocket.OPEN) ws.send(inputMessage(d));
        });
        const resize = term.onResize(sendSize);
        const ping = setInterval(() => {
          if (authed && ws.readyState === WebSocket.OPEN) ws.send(PING);
        }, 30000);
        const ro = new ResizeObserver(() => fit.fit());
        ro.observe(box.current);
        cleanup = () => {
          clearInterval(ping);
          ro.disconnect();
          input.dispose();
          resize.dispose();
          ws.close();
          term.dispose();
        };
      } catch (err) {
        if (live) setState({ kind: 'closed', message: proxyError(err), error: true });
      }
    })();
    return () => {
      live = false;
      cleanup?.();
    };
  }, [node, vmid, serial, kind, attempt]);

  return (
    <div className="console serial-console" data-state={state.kind}>
      <div className="toolbar console-tools" role="toolbar" aria-label="Serial console">
        <span className={state.kind === 'closed' && state.error ? 'view-error' : 'muted'} role="status">
          {state.kind === 'connecting' ? 'Connecting…' : state.kind === 'connected' ? (kind === 'lxc' ? `CT ${vmid}: connected` : `VM ${vmid} ${serial}: connected`) : state.message}
        </span>
        <span className="spacer" />
        <button type="button" className="btn" disabled={state.kind === 'connecting'} onClick={() => setAttempt((a) => a + 1)}>Reconnect</button>
      </div>
      <div className="console-screen terminal" ref={box} />
    </div>
  );
}
