// A task's window: its log as it grows (GET .../tasks/{upid}/log with start/limit paging), its
// status, and a Stop button (DELETE .../tasks/{upid}) while it runs.

import * as Tabs from '@radix-ui/react-tabs';
import { useEffect, useRef, useState, type JSX } from 'react';
import { api, apiPath } from '../lib/api';
import { duration, parseUpid, taskDescription, taskState, time } from '../lib/format';
import { poll } from '../lib/poll';
import { openWindow, runAction, type WindowHandle } from './Dialog';
import { Spinner } from './icons';

const PAGE = 500;
const INTERVAL_MS = 1000;

interface TaskStatus {
  status: string;
  exitstatus?: string;
  type: string;
  id?: string;
  user: string;
  node: string;
  pid: number;
  starttime: number;
  endtime?: number;
}

function TaskWindow({ upid, node, win }: { upid: string; node: string; win: WindowHandle }): JSX.Element {
  const base = apiPath('nodes', node, 'tasks', upid);
  const [tab, setTab] = useState<'output' | 'status'>('output');
  const [status, setStatus] = useState<TaskStatus | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [lines, setLines] = useState<string[]>([]);
  const pre = useRef<HTMLPreElement>(null);
  const stick = useRef(true);

  useEffect(() => {
    let count = 0;
    let finished = false;
    const p = poll(async () => {
      if (finished) return;
      try {
        const s = await api.get<TaskStatus>(`${base}/status`);
        setStatus(s);
        setError(null);
        const running = taskState(s).state === 'running';
        for (;;) {
          const resp = await api.request<{ n: number; t: string }[]>('GET', `${base}/log`, { start: count, limit: PAGE });
          const got = Array.isArray(resp.data) ? resp.data : [];
          if (got.length) {
            const el = pre.current;
            stick.current = !el || el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
            count += got.length;
            setLines((l) => [...l, ...got.map((x) => x.t)]);
          }
          if (got.length < PAGE) break;
        }
        if (!running) {
          finished = true;
          p.stop();
        }
      } catch (err) {
        setError((err as Error).message);
        throw err;
      }
    }, INTERVAL_MS);
    return () => p.stop();
  }, [base]);

  useEffect(() => {
    if (stick.current && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [lines]);

  const st = status ? taskState(status) : null;
  const running = st?.state === 'running';
  const stop = async (): Promise<void> => {
    await runAction(() => api.delete(base), 'Cannot stop task');
  };
  const rows: [string, unknown][] = status ? [
    ['Status', status.status],
    ['Exit status', status.exitstatus ?? ''],
    ['Type', status.type],
    ['ID', status.id || ''],
    ['User name', status.user],
    ['Node', status.node],
    ['Process ID', status.pid],
    ['Start time', time(status.starttime)],
    ['End time', status.endtime ? time(status.endtime) : ''],
    ['Duration', duration((status.endtime || Math.floor(Date.now() / 1000)) - status.starttime)],
    ['Unique task ID', upid],
  ] : [];

  return (
    <>
      <div className="window-body">
        <div className="task-window">
          <Tabs.Root value={tab} onValueChange={(v) => setTab(v as 'output' | 'status')}>
            <div className="tabs-row">
              <Tabs.List className="tabs-list" aria-label="Task">
                <Tabs.Trigger value="output" className="tab">Output</Tabs.Trigger>
                <Tabs.Trigger value="status" className="tab">Status</Tabs.Trigger>
              </Tabs.List>
              <span className="spacer" />
              <div className="task-state">
                {error ? <span className="task-error">{error}</span> : st ? (
                  <>{running ? <Spinner /> : null}<span className={`task-${st.state}`}>{running ? 'running' : st.text}</span></>
                ) : null}
              </div>
            </div>
            <Tabs.Content value="output" className="tab-panel" forceMount hidden={tab !== 'output'}>
              <pre className="task-log" tabIndex={0} aria-label="Task output" ref={pre}>{lines.map((l) => `${l}\n`).join('')}</pre>
            </Tabs.Content>
            <Tabs.Content value="status" className="tab-panel">
              <table className="kv-table task-status">
                <tbody>{rows.map(([k, v]) => <tr key={k}><th scope="row">{k}</th><td>{String(v ?? '')}</td></tr>)}</tbody>
              </table>
            </Tabs.Content>
          </Tabs.Root>
        </div>
      </div>
      <div className="window-buttons">
        <button type="button" className="btn danger" disabled={!running} onClick={stop}>Stop</button>
        <button type="button" className="btn" onClick={() => win.close()}>Close</button>
      </div>
    </>
  );
}

/** Open the log window of `upid` (on `node`, by default the UPID's node). */
export function openTaskLog(upid: string, node?: string): WindowHandle {
  const info = parseUpid(upid);
  const onNode = node || info?.node || '';
  return openWindow({
    title: `Task viewer: ${info ? taskDescription(info.type, info.id) : 'task'}`,
    width: 820,
    className: 'task-dialog',
    attrs: { 'data-upid': upid },
  }, (w) => <TaskWindow upid={upid} node={onNode} win={w} />);
}
