// The resource tree: Datacenter -> nodes -> guests (qemu, lxc) and storages, from
// /cluster/resources; with a type filter, a search box (name, VMID, tag) and status icons.
//
// The tree is flat and windowed: only the rows in view (and a few around) are in the DOM, each
// a `treeitem` with its `aria-level`, so 1,000s of guests filter as fast as a dozen. `.tree`
// carries `data-rows` (rows after the filter) and `data-guests` (guest and storage rows).

import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type JSX } from 'react';
import { flushSync } from 'react-dom';
import type { Resource } from '../lib/resources';
import { Icon, resourceStatus } from './icons';
import { TYPE_FILTERS, filterGroups, groupByNode, resourceLabel, resourceTags } from './tree-model';

const DATACENTER: Resource = { id: 'datacenter', type: 'datacenter' };
/** Row height in px (as .tree-row in app.css). */
const ROW = 24;
/** Rows rendered beyond each edge of the view. */
const OVERSCAN = 12;

export interface Row {
  res: Resource;
  level: number;
  /** null: a leaf. */
  expanded: boolean | null;
  /** Position among its siblings (1-based) and their count, for assistive technology. */
  pos: number;
  size: number;
}

/** The visible rows of the tree, top to bottom. */
export function flatten(groups: ReturnType<typeof filterGroups>, collapsed: Set<string>, searching: boolean): Row[] {
  const open = (id: string, n: number): boolean | null => (n > 0 ? !collapsed.has(id) || searching : null);
  const dcOpen = open('datacenter', groups.length);
  const rows: Row[] = [{ res: DATACENTER, level: 0, expanded: dcOpen, pos: 1, size: 1 }];
  if (!dcOpen) return rows;
  groups.forEach((g, i) => {
    const nodeOpen = open(g.node.id, g.children.length);
    rows.push({ res: g.node, level: 1, expanded: nodeOpen, pos: i + 1, size: groups.length });
    if (nodeOpen) g.children.forEach((c, j) => rows.push({ res: c, level: 2, expanded: null, pos: j + 1, size: g.children.length }));
  });
  return rows;
}

interface ItemProps {
  row: Row;
  top: number;
  selected: boolean;
  focusable: boolean;
  onToggle: (id: string) => void;
  onClickRow: (id: string) => void;
}

const TreeItem = memo(function TreeItem({ row, top, selected, focusable, onToggle, onClickRow }: ItemProps): JSX.Element {
  const { res, level, expanded } = row;
  const label = resourceLabel(res);
  const tags = resourceTags(res);
  return (
    <li role="treeitem" tabIndex={focusable ? 0 : -1} aria-level={level + 1} aria-setsize={row.size} aria-posinset={row.pos}
      aria-selected={selected ? 'true' : 'false'} aria-expanded={expanded === null ? undefined : expanded} aria-label={label}
      data-id={res.id} data-status={res.status || ''} title={res.status ? `${label}: ${res.status}` : label}
      className={expanded === null ? undefined : 'has-children'} style={{ top }}>
      <div className={selected ? 'tree-row selected' : 'tree-row'} style={{ paddingLeft: `${4 + level * 16}px` }} onClick={() => onClickRow(res.id)}>
        <span className="tree-toggle" aria-hidden="true" onClick={expanded === null ? undefined : (ev) => { ev.stopPropagation(); onToggle(res.id); }} />
        <Icon name={res.type} status={resourceStatus(res)} />
        <span className="tree-label">{label}</span>
        {tags.length ? <span className="tree-tags">{tags.map((t) => <span className="tag" key={t}>{t}</span>)}</span> : null}
      </div>
    </li>
  );
});

export interface TreeProps {
  list: Resource[];
  error: Error | null;
  selectedId: string;
  onSelect: (id: string) => void;
}

export function Tree({ list, error, selectedId, onSelect }: TreeProps): JSX.Element {
  const [type, setType] = useState('');
  const [query, setQuery] = useState('');
  const [collapsed, setCollapsed] = useState<Set<string>>(() => new Set());
  const [view, setView] = useState({ top: 0, height: 600 });
  const [focusId, setFocusId] = useState<string | null>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const scrollRef = useRef<HTMLDivElement>(null);
  const treeRef = useRef<HTMLUListElement>(null);
  const wantFocus = useRef(false);

  // The search box is uncontrolled: a native listener re-renders synchronously per keystroke.
  useEffect(() => {
    const input = searchRef.current;
    if (!input) return undefined;
    const onInput = (): void => flushSync(() => setQuery(input.value.trim().toLowerCase()));
    input.addEventListener('input', onInput);
    return () => input.removeEventListener('input', onInput);
  }, []);

  // The view's size and scroll position decide which rows are rendered.
  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (!el) return undefined;
    const update = (): void => setView({ top: el.scrollTop, height: el.clientHeight });
    update();
    const ro = new ResizeObserver(update);
    ro.observe(el);
    el.addEventListener('scroll', update, { passive: true });
    return () => {
      ro.disconnect();
      el.removeEventListener('scroll', update);
    };
  }, []);

  const groups = useMemo(() => groupByNode(list), [list]);
  const shown = useMemo(() => filterGroups(groups, type, query), [groups, type, query]);
  const rows = useMemo(() => flatten(shown, collapsed, Boolean(query)), [shown, collapsed, query]);
  const guests = useMemo(() => shown.reduce((n, g) => n + g.children.length, 0), [shown]);

  // The selected item's parents open, and it scrolls into view.
  useEffect(() => {
    const parts = selectedId.split('/');
    const parent = parts[0] === 'qemu' || parts[0] === 'lxc'
      ? list.find((r) => r.id === selectedId)?.node
      : parts[0] === 'storage' ? parts[1] : null;
    setCollapsed((c) => {
      if (!c.has('datacenter') && !(parent && c.has(`node/${parent}`))) return c;
      const next = new Set(c);
      next.delete('datacenter');
      if (parent) next.delete(`node/${parent}`);
      return next;
    });
  }, [selectedId, list]);
  const selectedIndex = rows.findIndex((r) => r.res.id === selectedId);
  useEffect(() => {
    if (selectedIndex >= 0) scrollToRow(selectedIndex);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [selectedIndex >= 0, selectedId]);

  function scrollToRow(i: number): void {
    const el = scrollRef.current;
    if (!el) return;
    if (i * ROW < el.scrollTop) el.scrollTop = i * ROW;
    else if ((i + 1) * ROW > el.scrollTop + el.clientHeight) el.scrollTop = (i + 1) * ROW - el.clientHeight;
  }

  const toggle = useCallback((id: string) => setCollapsed((c) => {
    const next = new Set(c);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    return next;
  }), []);
  const focusRow = useCallback((id: string) => {
    wantFocus.current = true;
    setFocusId(id);
  }, []);
  const clickRow = useCallback((id: string) => {
    focusRow(id);
    onSelect(id);
  }, [focusRow, onSelect]);

  // Exactly one item is reachable with Tab: the focused one, else the selected, else Datacenter.
  const tabId = [focusId, selectedId].find((id) => id && rows.some((r) => r.res.id === id)) ?? 'datacenter';
  useLayoutEffect(() => {
    if (!wantFocus.current) return;
    wantFocus.current = false;
    treeRef.current?.querySelector<HTMLElement>(`li[data-id="${CSS.escape(tabId)}"]`)?.focus({ preventScroll: true });
  });

  const onKeyDown = (ev: React.KeyboardEvent): void => {
    const li = (ev.target as HTMLElement).closest<HTMLElement>('li[role="treeitem"]');
    if (!li) return;
    const id = li.dataset.id as string;
    const at = rows.findIndex((r) => r.res.id === id);
    if (at < 0) return;
    const row = rows[at];
    const move = (i: number): void => {
      const target = rows[Math.max(0, Math.min(rows.length - 1, i))];
      scrollToRow(rows.indexOf(target));
      focusRow(target.res.id);
    };
    switch (ev.key) {
      case 'ArrowDown':
        move(at + 1);
        break;
      case 'ArrowUp':
        move(at - 1);
        break;
      case 'ArrowRight':
        if (row.expanded === false) toggle(id);
        else if (row.expanded === true) move(at + 1);
        break;
      case 'ArrowLeft':
        if (row.expanded === true) toggle(id);
        else if (row.level > 0) {
          let p = at - 1;
          while (p > 0 && rows[p].level >= row.level) p -= 1;
          move(p);
        }
        break;
      case 'Home':
        move(0);
        break;
      case 'End':
        move(rows.length - 1);
        break;
      case 'Enter':
      case ' ':
        onSelect(id);
        break;
      default:
        return;
    }
    ev.preventDefault();
  };

  const first = Math.max(0, Math.floor(view.top / ROW) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((view.top + view.height) / ROW) + OVERSCAN);
  // The tab stop and the selected row stay rendered (focus must not get lost off screen).
  const indexes: number[] = [];
  for (let i = first; i < last; i += 1) indexes.push(i);
  for (const id of [tabId, selectedId]) {
    const i = rows.findIndex((r) => r.res.id === id);
    if (i >= 0 && (i < first || i >= last)) indexes.push(i);
  }

  let message: { text: string; error: boolean } | null = null;
  if (error) message = { text: `Cannot load resources: ${error.message}`, error: true };
  else if (rows.length <= 1 && (query || type)) message = { text: 'No resource matches the filter.', error: false };

  return (
    <nav className="tree-panel" aria-label="Resource tree">
      <div className="tree-tools">
        <select className="tree-type" aria-label="Filter by type" value={type} onChange={(e) => flushSync(() => setType(e.target.value))}>
          {TYPE_FILTERS.map((t) => <option key={t.value} value={t.value}>{t.label}</option>)}
        </select>
        <input ref={searchRef} type="search" className="tree-search" placeholder="Search: name, VMID, tag" aria-label="Search resources"
          spellCheck={false} autoComplete="off" />
      </div>
      <div className="tree-scroll" ref={scrollRef}>
        <ul role="tree" className="tree" aria-label="Resources" ref={treeRef} onKeyDown={onKeyDown}
          data-rows={rows.length} data-guests={guests} style={{ height: rows.length * ROW }}>
          {indexes.map((i) => {
            const r = rows[i];
            return (
              <TreeItem key={r.res.id} row={r} top={i * ROW} selected={r.res.id === selectedId} focusable={r.res.id === tabId}
                onToggle={toggle} onClickRow={clickRow} />
            );
          })}
        </ul>
        {message ? <div className={message.error ? 'tree-message error' : 'tree-message'}>{message.text}</div> : null}
      </div>
    </nav>
  );
}
