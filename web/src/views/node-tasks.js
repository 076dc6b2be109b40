// Node -> Task History: GET /nodes/{node}/tasks with filters by type, user and errors, paged.

import { api, apiPath } from '../api.js';
import { h, replace } from '../dom.js';
import { createGrid, createToolbar } from '../components/grid.js';
import { TASK_COLUMNS } from '../components/taskbar.js';
import { errorLine } from '../components/widgets.js';

const PAGE = 50;
const INTERVAL_MS = 5000;

export function mount(container, ctx) {
  let start = 0;
  let total = 0;

  const grid = createGrid({
    columns: TASK_COLUMNS.filter((c) => c.key !== 'node'),
    rowKey: 'upid',
    label: 'Task history',
    emptyText: 'No tasks',
    onActivate: (t) => ctx.openTaskLog(t.upid, t.node),
  });
  const reload = () => poller.now();
  let debounce = null;
  const changed = () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      start = 0;
      reload();
    }, 300);
  };
  ctx.scope.add(() => clearTimeout(debounce));

  const typeFilter = h('input', { type: 'search', class: 'filter', placeholder: 'e.g. qmstart', 'aria-label': 'Task type', oninput: changed, spellcheck: 'false' });
  const userFilter = h('input', { type: 'search', class: 'filter', placeholder: 'user@realm', 'aria-label': 'User name', oninput: changed, spellcheck: 'false' });
  const errorsOnly = h('input', { type: 'checkbox', onchange: changed });
  const pageInfo = h('span', { class: 'page-info muted' });
  const prev = h('button', { type: 'button', class: 'btn', onclick: () => { start = Math.max(0, start - PAGE); reload(); } }, '‹ Previous');
  const next = h('button', { type: 'button', class: 'btn', onclick: () => { start += PAGE; reload(); } }, 'Next ›');

  const toolbar = createToolbar([
    { text: 'View', handler: (t) => ctx.openTaskLog(t.upid, t.node), enabled: (t) => Boolean(t) },
    h('label', { class: 'inline' }, 'Type: ', typeFilter),
    h('label', { class: 'inline' }, 'User: ', userFilter),
    h('label', { class: 'inline check' }, errorsOnly, ' Errors only'),
    '->',
    prev, pageInfo, next,
  ], grid);
  const err = errorLine();
  replace(container, h('div', { class: 'view grid-view node-tasks' }, toolbar.el, err, grid.el));

  const poller = ctx.scope.poll(async () => {
    try {
      const resp = await api.request('GET', apiPath('nodes', ctx.node, 'tasks'), {
        source: 'all',
        start,
        limit: PAGE,
        typefilter: typeFilter.value.trim() || undefined,
        userfilter: userFilter.value.trim() || undefined,
        errors: errorsOnly.checked ? 1 : undefined,
      });
      total = Number(resp.total ?? resp.data.length);
      grid.setRows(resp.data || []);
      err.show(null);
    } catch (e) {
      err.show(e);
      return;
    }
    const shown = grid.rows().length;
    pageInfo.textContent = shown ? `${start + 1} - ${start + shown} of ${total}` : `0 of ${total}`;
    prev.disabled = start === 0;
    next.disabled = start + PAGE >= total;
  }, INTERVAL_MS);
}
