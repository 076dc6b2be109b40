// The messages of Proxmox's termproxy protocol over the vncwebsocket (xterm.js side).

const encoder = new TextEncoder();

/** First message: the user and the termproxy ticket. The server answers `OK`. */
export function authMessage(user: string, ticket: string): string {
  return `${user}:${ticket}\n`;
}

/** Terminal input: `0:<length in UTF-8 bytes>:<data>`. */
export function inputMessage(data: string): string {
  return `0:${encoder.encode(data).length}:${data}`;
}

/** The terminal's size: `1:<cols>:<rows>:`. */
export function resizeMessage(cols: number, rows: number): string {
  return `1:${cols}:${rows}:`;
}

/** Keep-alive. */
export const PING = '2';
