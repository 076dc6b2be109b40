// A task's window: its log as it grows (GET .../tasks/{upid}/log with start/limit paging), its
// status, and a Stop button (DELETE .../tasks/{upid}) while it runs.

import { api, apiPath } from '../api.js';
import { h, replace } from '../dom.js';
import { duration, parseUpid, taskDescription, taskState, time } from '../format.js';
import { spinner } from '../icons.js';
import { poll } from '../poll.js';
import { openDialog, runAction } from './dialog.js';

const PAGE = 500;
const INTERVAL_MS = 1000;

/** Open the log window of `upid` (on `node`, by default the UPID's node). */
export function openTaskLog(upid, node) {
  const info = parseUpid(upid) || { type: 'task', id: '', node };
  node = node || info.node;
  const base = apiPath('nodes', node, 'tasks', upid);
  let lineCount = 0;
  let status = null;
  let finished = false;

  const pre = h('pre', { class: 'task-log', tabIndex: 0, 'aria-label': 'Task output' });
  const statusTable = h('table', { class: 'kv-table task-status' });
  const stateLine = h('div', { class: 'task-state' });
  const outputPanel = h('div', { class: 'tab-panel', role: 'tabpanel' }, pre);
  const statusPanel = h('div', { class: 'tab-panel', role: 'tabpanel', hidden: true }, statusTable);
  const tabOutput = h('button', { type: 'button', role: 'tab', class: 'tab', 'aria-selected': 'true' }, 'Output');
  const tabStatus = h('button', { type: 'button', role: 'tab', class: 'tab', 'aria-selected': 'false' }, 'Status');
  const showTab = (output) => {
    tabOutput.setAttribute('aria-selected', String(output));
    tabStatus.setAttribute('aria-selected', String(!output));
    outputPanel.hidden = !output;
    statusPanel.hidden = output;
  };
  tabOutput.addEventListener('click', () => showTab(true));
  tabStatus.addEventListener('click', () => showTab(false));

  const body = h('div', { class: 'task-window' },
    h('div', { class: 'tabs-row', role: 'tablist' }, tabOutput, tabStatus, h('span', { class: 'spacer' }), stateLine),
    outputPanel, statusPanel);

  const dlg = openDialog({
    title: `Task viewer: ${taskDescription(info.type, info.id)}`,
    body,
    width: 820,
    className: 'task-dialog',
    buttons: [
      { text: 'Stop', key: 'stop', danger: true, handler: () => stop() },
      { text: 'Close', key: 'close', close: true },
    ],
    onClose: () => poller.stop(),
  });
  dlg.el.dataset.upid = upid;
  dlg.buttons.stop.disabled = true;

  async function stop() {
    dlg.buttons.stop.disabled = true;
    await runAction(() => api.delete(base), 'Cannot stop task');
    poller.now();
  }

  async function loadLog() {
    for (;;) {
      const resp = await api.request('GET', `${base}/log`, { start: lineCount, limit: PAGE });
      const lines = Array.isArray(resp.data) ? resp.data : [];
      if (lines.length) {
        const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        pre.append(lines.map((l) => `${l.t}\n`).join(''));
        lineCount += lines.length;
        if (atBottom) pre.scrollTop = pre.scrollHeight;
      }
      if (lines.length < PAGE) break;
    }
  }

  function renderStatus() {
    const s = status;
    const st = taskState(s);
    replace(stateLine, st.state === 'running' ? spinner() : null,
      h('span', { class: `task-${st.state}` }, st.state === 'running' ? 'running' : st.text));
    const rows = [
      ['Status', s.status],
      ['Exit status', s.exitstatus ?? ''],
      ['Type', s.type],
      ['ID', s.id || ''],
      ['User name', s.user],
      ['Node', s.node],
      ['Process ID', s.pid],
      ['Start time', time(s.starttime)],
      ['End time', s.endtime ? time(s.endtime) : ''],
      ['Duration', duration((s.endtime || Math.floor(Date.now() / 1000)) - s.starttime)],
      ['Unique task ID', upid],
    ];
    replace(statusTable, rows.map(([k, v]) => h('tr', null, h('th', { scope: 'row' }, k), h('td', null, String(v ?? '')))));
  }

  const poller = poll(async () => {
    if (finished) return;
    try {
      status = await api.get(`${base}/status`);
      renderStatus();
      const running = taskState(status).state === 'running';
      dlg.buttons.stop.disabled = !running;
      await loadLog();
      if (!running) {
        finished = true;
        poller?.stop();
      }
    } catch (err) {
      replace(stateLine, h('span', { class: 'task-error' }, err.message));
      throw err;
    }
  }, INTERVAL_MS);

  return dlg;
}
