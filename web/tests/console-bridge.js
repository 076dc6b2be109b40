// A stand-in for the daemon's console endpoints, used while they answer 501: Proxmox's
// documented shapes (POST vncproxy/termproxy -> { port, ticket, user }, GET vncwebsocket ->
// websocket) served in the browser by Playwright, bridged to the running VM's real QEMU
// sockets (VNC display, serial0). The UI under test is the same either way.

import net from 'node:net';
import path from 'node:path';

const VNC_PORT = '5900';
const TERM_PORT = '5901';
const USER = 'admin@pve';
const TICKET = 'PVEVNC:STAND-IN';

/** Route the console endpoints of VM `vmid` of `daemon` to its QEMU sockets. */
export async function bridgeConsoles(page, daemon, node, vmid) {
  const run = path.join(daemon.dataDir, 'run', 'qemu');
  const base = `**/api2/json/nodes/${node}/qemu/${vmid}`;
  await page.route(`${base}/vncproxy`, (route) => route.fulfill({ json: { data: { port: VNC_PORT, ticket: TICKET, user: USER, cert: '', upid: '' } } }));
  await page.route(`${base}/termproxy`, (route) => route.fulfill({ json: { data: { port: TERM_PORT, ticket: TICKET, user: USER, upid: '' } } }));
  await page.routeWebSocket(/\/vncwebsocket\?/, (ws) => {
    const q = new URL(ws.url()).searchParams;
    if (q.get('vncticket') !== TICKET) {
      ws.close({ code: 1008, reason: 'bad ticket' });
      return;
    }
    if (q.get('port') === VNC_PORT) {
      // The raw RFB stream.
      const sock = net.connect(path.join(run, `${vmid}.vnc`));
      sock.on('data', (d) => ws.send(d));
      sock.on('close', () => ws.close());
      ws.onMessage((m) => sock.write(typeof m === 'string' ? Buffer.from(m) : m));
      ws.onClose(() => sock.destroy());
      return;
    }
    // termproxy: `user:ticket\n` -> OK; `0:<len>:<data>` input, `1:<cols>:<rows>:` resize, `2` ping.
    const sock = net.connect(path.join(run, `${vmid}.serial0`));
    let authed = false;
    sock.on('data', (d) => authed && ws.send(d));
    sock.on('close', () => ws.close());
    ws.onClose(() => sock.destroy());
    ws.onMessage((m) => {
      const text = typeof m === 'string' ? m : m.toString('utf8');
      if (!authed) {
        if (text === `${USER}:${TICKET}\n`) {
          authed = true;
          ws.send('OK');
        } else {
          ws.close({ code: 1008, reason: 'bad ticket' });
        }
        return;
      }
      const input = /^0:(\d+):/.exec(text);
      if (input) sock.write(Buffer.from(text.slice(input[0].length), 'utf8'));
    });
  });
  // noVNC checks that a websocket has `send` & co. on its own prototype; Playwright's mock
  // keeps some one level up: copy them down (the stand-in only, not needed with real sockets).
  await page.evaluate(() => {
    const proto = WebSocket.prototype;
    for (let p = Object.getPrototypeOf(proto); p && p !== EventTarget.prototype && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
      for (const name of Object.getOwnPropertyNames(p)) {
        if (name !== 'constructor' && !Object.prototype.hasOwnProperty.call(proto, name)) {
          Object.defineProperty(proto, name, Object.getOwnPropertyDescriptor(p, name));
        }
      }
    }
  });
}
