// The task bar at the bottom: recent tasks of every node (GET /nodes/{node}/tasks?source=all),
// polled every few seconds; a click opens the task's log.

import { api, apiPath } from '../api.js';
import { h, replace } from '../dom.js';
import { taskDescription, taskState, time } from '../format.js';
import { spinner } from '../icons.js';
import { resources } from '../resources.js';
import { createGrid } from './grid.js';
import { openTaskLog } from './tasklog.js';

const INTERVAL_MS = 3000;
const LIMIT = 50;

export function renderTaskStatus(task) {
  const st = taskState(task);
  return h('span', { class: ['task-status', `task-${st.state}`] }, st.state === 'running' ? spinner() : null, st.text);
}

export const TASK_COLUMNS = [
  { key: 'starttime', title: 'Start Time', width: '165px', render: (t) => time(t.starttime) },
  { key: 'endtime', title: 'End Time', width: '165px', render: (t) => (t.endtime ? time(t.endtime) : '') },
  { key: 'node', title: 'Node', width: '110px' },
  { key: 'user', title: 'User name', width: '160px' },
  { key: 'description', title: 'Description', sortValue: (t) => taskDescription(t.type, t.id), render: (t) => taskDescription(t.type, t.id) },
  { key: 'status', title: 'Status', width: '220px', sortValue: (t) => taskState(t).text, render: renderTaskStatus },
];

export function createTaskBar(scope) {
  const grid = createGrid({
    columns: TASK_COLUMNS,
    rowKey: 'upid',
    label: 'Recent tasks',
    emptyText: 'No tasks yet',
    className: 'taskbar-grid',
    // A click opens the log (a keyboard user moves with the arrows and opens with Enter).
    activateOnClick: true,
    onActivate: (t) => openTaskLog(t.upid, t.node),
  });
  const running = h('span', { class: 'taskbar-running' });
  const el = h('section', { class: 'taskbar', 'aria-label': 'Tasks' },
    h('header', { class: 'taskbar-header' }, h('h2', null, 'Tasks'), running),
    grid.el);

  async function load() {
    const nodes = resources.nodes().filter((n) => n.status !== 'offline');
    if (!nodes.length) return;
    const lists = await Promise.all(nodes.map((n) =>
      api.get(apiPath('nodes', n.node, 'tasks'), { source: 'all', limit: LIMIT }).catch(() => [])));
    const tasks = lists.flat().sort((a, b) => (b.starttime - a.starttime) || String(b.upid).localeCompare(String(a.upid)));
    grid.setRows(tasks.slice(0, LIMIT));
    const n = tasks.filter((t) => taskState(t).state === 'running').length;
    replace(running, n ? [spinner(), ` ${n} running`] : '');
  }

  const poller = scope.poll(load, INTERVAL_MS, { immediate: false });
  // Start as soon as we know the nodes.
  let first = true;
  scope.add(resources.subscribe(() => {
    if (first) {
      first = false;
      poller.now();
    }
  }));

  return { el, refresh: () => poller.now() };
}
