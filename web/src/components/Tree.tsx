// The resource tree: Datacenter -> nodes -> guests (qemu, lxc) and storages, from
// /cluster/resources; with a type filter, a search box (name, VMID, tag) and status icons.

import { memo, useEffect, useMemo, useRef, useState, type JSX } from 'react';
import { flushSync } from 'react-dom';
import type { Resource } from '../lib/resources';
import { Icon, resourceStatus } from './icons';
import { TYPE_FILTERS, filterGroups, groupByNode, resourceLabel, resourceTags } from './tree-model';

const DATACENTER: Resource = { id: 'datacenter', type: 'datacenter' };

interface ItemProps {
  res: Resource;
  level: number;
  selected: boolean;
  focusable: boolean;
  expanded: boolean | null;
  onToggle: (id: string) => void;
  onClickRow: (id: string) => void;
  children?: JSX.Element[];
}

const TreeItem = memo(function TreeItem({ res, level, selected, focusable, expanded, onToggle, onClickRow, children }: ItemProps): JSX.Element {
  const label = resourceLabel(res);
  const tags = resourceTags(res);
  const hasChildren = expanded !== null;
  return (
    <li role="treeitem" tabIndex={focusable ? 0 : -1} aria-level={level + 1} aria-selected={selected ? 'true' : 'false'}
      aria-expanded={hasChildren ? expanded : undefined} aria-label={label} data-id={res.id} data-status={res.status || ''}
      title={res.status ? `${label}: ${res.status}` : label} className={hasChildren ? 'has-children' : undefined}>
      <div className={selected ? 'tree-row selected' : 'tree-row'} style={{ paddingLeft: `${4 + level * 16}px` }} onClick={() => onClickRow(res.id)}>
        {hasChildren ? <span className="tree-toggle" aria-hidden="true" onClick={(ev) => { ev.stopPropagation(); onToggle(res.id); }} /> : <span className="tree-toggle" />}
        <Icon name={res.type} status={resourceStatus(res)} />
        <span className="tree-label">{label}</span>
        {tags.length ? <span className="tree-tags">{tags.map((t) => <span className="tag" key={t}>{t}</span>)}</span> : null}
      </div>
      {level < 2 ? <ul role="group" hidden={hasChildren ? !expanded : true}>{children}</ul> : null}
    </li>
  );
}, (a, b) => a.res === b.res && a.level === b.level && a.selected === b.selected && a.focusable === b.focusable &&
  a.expanded === b.expanded && a.children === b.children);

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
  const searchRef = useRef<HTMLInputElement>(null);
  const rootRef = useRef<HTMLUListElement>(null);

  // The search box is uncontrolled: a native listener re-renders synchronously per keystroke.
  useEffect(() => {
    const input = searchRef.current;
    if (!input) return undefined;
    const onInput = (): void => flushSync(() => setQuery(input.value.trim().toLowerCase()));
    input.addEventListener('input', onInput);
    return () => input.removeEventListener('input', onInput);
  }, []);

  const groups = useMemo(() => groupByNode(list), [list]);
  const shown = useMemo(() => filterGroups(groups, type, query), [groups, type, query]);

  // The selected item's parents open.
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
    rootRef.current?.querySelector(`li[data-id="${CSS.escape(selectedId)}"] > .tree-row`)?.scrollIntoView({ block: 'nearest' });
  }, [selectedId, list]);

  const toggle = useMemo(() => (id: string) => setCollapsed((c) => {
    const next = new Set(c);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    return next;
  }), []);
  const clickRow = useMemo(() => (id: string) => {
    (rootRef.current?.querySelector(`li[data-id="${CSS.escape(id)}"]`) as HTMLElement | null)?.focus();
    onSelect(id);
  }, [onSelect]);

  const known = selectedId === 'datacenter' || list.some((r) => r.id === selectedId);
  const focusId = known ? selectedId : 'datacenter';
  const expanded = (id: string, n: number): boolean | null => (n > 0 ? !collapsed.has(id) || Boolean(query) : null);

  const nodeItems = shown.map((g) => (
    <TreeItem key={g.node.id} res={g.node} level={1} selected={g.node.id === selectedId} focusable={g.node.id === focusId}
      expanded={expanded(g.node.id, g.children.length)} onToggle={toggle} onClickRow={clickRow}>
      {g.children.map((c) => (
        <TreeItem key={c.id} res={c} level={2} selected={c.id === selectedId} focusable={c.id === focusId} expanded={null}
          onToggle={toggle} onClickRow={clickRow} />
      ))}
    </TreeItem>
  ));

  const onKeyDown = (ev: React.KeyboardEvent): void => {
    const li = (ev.target as HTMLElement).closest<HTMLElement>('li[role="treeitem"]');
    if (!li || !rootRef.current) return;
    const id = li.dataset.id as string;
    const items = [...rootRef.current.querySelectorAll<HTMLElement>('li[role="treeitem"]')].filter((x) => x.offsetParent !== null);
    const at = items.indexOf(li);
    const focus = (el: HTMLElement | undefined): void => {
      if (!el) return;
      for (const x of items) x.tabIndex = -1;
      el.tabIndex = 0;
      el.focus();
    };
    switch (ev.key) {
      case 'ArrowDown':
        focus(items[at + 1]);
        break;
      case 'ArrowUp':
        focus(items[at - 1]);
        break;
      case 'ArrowRight':
        if (li.getAttribute('aria-expanded') === 'false') toggle(id);
        else if (li.getAttribute('aria-expanded') === 'true') focus(items[at + 1]);
        break;
      case 'ArrowLeft':
        if (li.getAttribute('aria-expanded') === 'true') toggle(id);
        else focus(li.parentElement?.closest<HTMLElement>('li[role="treeitem"]') ?? undefined);
        break;
      case 'Home':
        focus(items[0]);
        break;
      case 'End':
        focus(items[items.length - 1]);
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

  const total = shown.reduce((n, g) => n + 1 + g.children.length, 0);
  let message: { text: string; error: boolean } | null = null;
  if (error) message = { text: `Cannot load resources: ${error.message}`, error: true };
  else if (!total && (query || type)) message = { text: 'No resource matches the filter.', error: false };

  return (
    <nav className="tree-panel" aria-label="Resource tree">
      <div className="tree-tools">
        <select className="tree-type" aria-label="Filter by type" value={type} onChange={(e) => flushSync(() => setType(e.target.value))}>
          {TYPE_FILTERS.map((t) => <option key={t.value} value={t.value}>{t.label}</option>)}
        </select>
        <input ref={searchRef} type="search" className="tree-search" placeholder="Search: name, VMID, tag" aria-label="Search resources"
          spellCheck={false} autoComplete="off" />
      </div>
      <div className="tree-scroll">
        <ul role="tree" className="tree" aria-label="Resources" ref={rootRef} onKeyDown={onKeyDown}>
          <TreeItem res={DATACENTER} level={0} selected={selectedId === 'datacenter'} focusable={focusId === 'datacenter'}
            expanded={expanded('datacenter', shown.length)} onToggle={toggle} onClickRow={clickRow}>
            {nodeItems}
          </TreeItem>
        </ul>
        {message ? <div className={message.error ? 'tree-message error' : 'tree-message'}>{message.text}</div> : null}
      </div>
    </nav>
  );
}
