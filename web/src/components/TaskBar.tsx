// The task bar at the bottom: recent tasks of every node (GET /nodes/{node}/tasks?source=all),
// polled every few seconds; a click opens the task's log.

import { useEffect, useState, type JSX } from 'react';
import { api, apiPath } from '../lib/api';
import { taskDescription, taskState, time, type TaskLike } from '../lib/format';
import { usePoll } from '../lib/hooks';
import { resources } from '../lib/resources';
import { Grid, type Column } from './Grid';
import { Spinner } from './icons';
import { openTaskLog } from './TaskLog';

const INTERVAL_MS = 3000;
const LIMIT = 50;

export interface Task extends TaskLike {
  upid: string;
  node: string;
  type: string;
  id: string;
  user: string;
  starttime: number;
}

export function TaskStatus({ task }: { task: TaskLike }): JSX.Element {
  const st = taskState(task);
  return <span className={`task-status task-${st.state}`}>{st.state === 'running' ? <Spinner /> : null}{st.text}</span>;
}

export const TASK_COLUMNS: Column<Task>[] = [
  { key: 'starttime', title: 'Start Time', width: '165px', render: (t) => time(t.starttime) },
  { key: 'endtime', title: 'End Time', width: '165px', render: (t) => (t.endtime ? time(t.endtime) : '') },
  { key: 'node', title: 'Node', width: '110px' },
  { key: 'user', title: 'User name', width: '160px' },
  { key: 'description', title: 'Description', sortValue: (t) => taskDescription(t.type, t.id), render: (t) => taskDescription(t.type, t.id) },
  { key: 'status', title: 'Status', width: '220px', sortValue: (t) => taskState(t).text, render: (t) => <TaskStatus task={t} /> },
];

/** `refresh` is handed up so views can refresh the bar after starting a task. */
export function TaskBar({ onRefresher }: { onRefresher: (fn: () => void) => void }): JSX.Element {
  const [tasks, setTasks] = useState<Task[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const refresh = usePoll(async () => {
    const nodes = resources.nodes().filter((n) => n.status !== 'offline');
    if (!nodes.length) return;
    const lists = await Promise.all(nodes.map((n) =>
      api.get<Task[]>(apiPath('nodes', String(n.node), 'tasks'), { source: 'all', limit: LIMIT }).catch(() => [] as Task[])));
    const all = lists.flat().sort((a, b) => (b.starttime - a.starttime) || String(b.upid).localeCompare(String(a.upid)));
    setTasks(all.slice(0, LIMIT));
  }, INTERVAL_MS);
  useEffect(() => {
    onRefresher(refresh);
    // Start as soon as the nodes are known.
    let first = true;
    return resources.subscribe(() => {
      if (first && resources.state().loaded) {
        first = false;
        refresh();
      }
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const running = tasks.filter((t) => taskState(t).state === 'running').length;
  return (
    <section className="taskbar" aria-label="Tasks">
      <header className="taskbar-header">
        <h2>Tasks</h2>
        <span className="taskbar-running">{running ? <><Spinner /> {running} running</> : null}</span>
      </header>
      <Grid columns={TASK_COLUMNS} rows={tasks} rowKey={(t) => t.upid} label="Recent tasks" emptyText="No tasks yet"
        className="taskbar-grid" activateOnClick selected={selected} onSelect={setSelected}
        onActivate={(t) => openTaskLog(t.upid, t.node)} />
    </section>
  );
}
