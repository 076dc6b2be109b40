// Node (and VM) -> Task History: GET /nodes/{node}/tasks (of the VM: vmid=) with filters by
// type, user and errors, paged.

import { useEffect, useRef, useState, type JSX } from 'react';
import { api, apiPath } from '../lib/api';
import { usePoll } from '../lib/hooks';
import { Grid, Toolbar } from '../components/Grid';
import { TASK_COLUMNS, type Task } from '../components/TaskBar';
import { ErrorLine } from '../components/widgets';
import type { ViewContext } from './context';

const PAGE = 50;
const INTERVAL_MS = 5000;

export function NodeTasks({ ctx }: { ctx: ViewContext }): JSX.Element {
  const [start, setStart] = useState(0);
  const [typeFilter, setTypeFilter] = useState('');
  const [userFilter, setUserFilter] = useState('');
  const [errorsOnly, setErrorsOnly] = useState(false);
  const [filters, setFilters] = useState({ type: '', user: '', errors: false });
  const [rows, setRows] = useState<Task[]>([]);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<Error | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const debounce = useRef<ReturnType<typeof setTimeout>>(undefined);

  useEffect(() => {
    clearTimeout(debounce.current);
    debounce.current = setTimeout(() => {
      setStart(0);
      setFilters({ type: typeFilter.trim(), user: userFilter.trim(), errors: errorsOnly });
    }, 300);
    return () => clearTimeout(debounce.current);
  }, [typeFilter, userFilter, errorsOnly]);

  usePoll(async () => {
    try {
      const node = ctx.node ?? ctx.resource?.node;
      if (!node) return;
      const resp = await api.request<Task[]>('GET', apiPath('nodes', node, 'tasks'), {
        source: 'all',
        vmid: ctx.vmid,
        start,
        limit: PAGE,
        typefilter: filters.type || undefined,
        userfilter: filters.user || undefined,
        errors: filters.errors ? 1 : undefined,
      });
      setTotal(Number(resp.total ?? resp.data.length));
      setRows(resp.data || []);
      setError(null);
    } catch (e) {
      setError(e as Error);
    }
  }, INTERVAL_MS, [start, filters, ctx.node, ctx.resource?.node]);

  const sel = rows.find((t) => t.upid === selected) || null;
  return (
    <div className="view grid-view node-tasks">
      <Toolbar items={[
        { text: 'View', enabled: Boolean(sel), onClick: () => sel && ctx.openTaskLog(sel.upid, sel.node) },
        <label className="inline">Type: <input type="search" className="filter" placeholder="e.g. qmstart" aria-label="Task type" spellCheck={false} value={typeFilter} onChange={(e) => setTypeFilter(e.target.value)} /></label>,
        <label className="inline">User: <input type="search" className="filter" placeholder="user@realm" aria-label="User name" spellCheck={false} value={userFilter} onChange={(e) => setUserFilter(e.target.value)} /></label>,
        <label className="inline check"><input type="checkbox" checked={errorsOnly} onChange={(e) => setErrorsOnly(e.target.checked)} /> Errors only</label>,
        '->',
        { text: '‹ Previous', enabled: start > 0, onClick: () => setStart((s) => Math.max(0, s - PAGE)) },
        <span className="page-info muted">{rows.length ? `${start + 1} - ${start + rows.length} of ${total}` : `0 of ${total}`}</span>,
        { text: 'Next ›', enabled: start + PAGE < total, onClick: () => setStart((s) => s + PAGE) },
      ]} />
      <ErrorLine error={error} />
      <Grid columns={TASK_COLUMNS.filter((c) => c.key !== 'node')} rows={rows} rowKey={(t) => t.upid} label="Task history" emptyText="No tasks"
        selected={selected} onSelect={setSelected} onActivate={(t) => ctx.openTaskLog(t.upid, t.node)} />
    </div>
  );
}
