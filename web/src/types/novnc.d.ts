// The part of noVNC's RFB class the console uses (the package ships no types).
declare module '@novnc/novnc/lib/rfb' {
  export interface RfbOptions {
    credentials?: { username?: string; password?: string; target?: string };
    shared?: boolean;
    wsProtocols?: string[];
  }
  export default class RFB extends EventTarget {
    constructor(target: HTMLElement, urlOrChannel: string | WebSocket, options?: RfbOptions);
    scaleViewport: boolean;
    resizeSession: boolean;
    viewOnly: boolean;
    focusOnClick: boolean;
    background: string;
    disconnect(): void;
    sendCredentials(credentials: { password: string }): void;
    sendCtrlAltDel(): void;
    focus(): void;
  }
}
