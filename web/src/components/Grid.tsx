// A table with one selected row, keyboard navigation and sortable columns, and a toolbar whose
// buttons follow the selection.

import { useMemo, useRef, useState, type JSX, type ReactNode } from 'react';

export interface Column<T> {
  key: string;
  title: string;
  width?: string;
  sortable?: boolean;
  sortValue?: (row: T) => unknown;
  render?: (row: T) => ReactNode;
  className?: string;
}

export interface GridProps<T> {
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
  selected?: string | null;
  onSelect?: (key: string | null, row: T | null) => void;
  /** Double click or Enter (or a single click with activateOnClick). */
  onActivate?: (row: T) => void;
  activateOnClick?: boolean;
  emptyText?: string;
  error?: string | null;
  label?: string;
  className?: string;
}

export function Grid<T>({ columns, rows, rowKey, selected = null, onSelect, onActivate, activateOnClick, emptyText = 'No entries', error, label, className }: GridProps<T>): JSX.Element {
  const [sort, setSort] = useState<{ key: string; dir: number } | null>(null);
  const tbody = useRef<HTMLTableSectionElement>(null);
  const list = useMemo(() => {
    if (!sort) return rows;
    const col = columns.find((c) => c.key === sort.key);
    if (!col) return rows;
    const value = col.sortValue || ((r: T) => (r as Record<string, unknown>)[col.key]);
    return [...rows].sort((a, b) => {
      const va = value(a);
      const vb = value(b);
      if (typeof va === 'number' && typeof vb === 'number') return (va - vb) * sort.dir;
      return String(va ?? '').localeCompare(String(vb ?? ''), undefined, { numeric: true }) * sort.dir;
    });
  }, [rows, sort, columns]);
  const keys = list.map(rowKey);
  const focusKey = selected !== null && keys.includes(selected) ? selected : keys[0];

  const toggleSort = (key: string): void => setSort((s) => (s?.key === key ? { key, dir: -s.dir } : { key, dir: 1 }));
  const select = (key: string | null): void => {
    if (key !== selected) onSelect?.(key, key === null ? null : list[keys.indexOf(key)] ?? null);
  };
  const onKeyDown = (ev: React.KeyboardEvent): void => {
    const trs = [...(tbody.current?.children ?? [])] as HTMLElement[];
    const at = trs.findIndex((tr) => tr === document.activeElement);
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      const next = trs[Math.min(trs.length - 1, Math.max(0, at + (ev.key === 'ArrowDown' ? 1 : -1)))];
      if (next) {
        select(next.dataset.key ?? null);
        next.focus();
      }
    } else if (ev.key === 'Enter' && at >= 0) {
      ev.preventDefault();
      onActivate?.(list[at]);
    } else if (ev.key === ' ' && at >= 0) {
      ev.preventDefault();
      select(trs[at].dataset.key ?? null);
    }
  };

  return (
    <div className={['grid', className].filter(Boolean).join(' ')}>
      <table className="grid-table" aria-label={label}>
        <thead>
          <tr>
            {columns.map((col) => {
              const sortable = col.sortable !== false;
              return (
                <th key={col.key} scope="col" style={col.width ? { width: col.width } : undefined} data-key={col.key}
                  className={sortable ? 'sortable' : undefined} tabIndex={sortable ? 0 : undefined}
                  aria-sort={sort?.key === col.key ? (sort.dir > 0 ? 'ascending' : 'descending') : undefined}
                  onClick={sortable ? () => toggleSort(col.key) : undefined}
                  onKeyDown={sortable ? (ev) => {
                    if (ev.key === 'Enter' || ev.key === ' ') {
                      ev.preventDefault();
                      toggleSort(col.key);
                    }
                  } : undefined}>
                  {col.title}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody ref={tbody} onKeyDown={onKeyDown}>
          {list.map((row, i) => {
            const key = keys[i];
            return (
              <tr key={key} data-key={key} tabIndex={key === focusKey ? 0 : -1} aria-selected={key === selected ? 'true' : 'false'}
                onClick={() => {
                  select(key);
                  if (activateOnClick) onActivate?.(row);
                }}
                onDoubleClick={activateOnClick ? undefined : () => onActivate?.(row)}>
                {columns.map((col) => (
                  <td key={col.key} className={col.className}>
                    {col.render ? col.render(row) : String((row as Record<string, unknown>)[col.key] ?? '')}
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
      {error ? <div className="grid-status error">{error}</div> : !list.length ? <div className="grid-status">{emptyText}</div> : null}
    </div>
  );
}

export interface ToolItem {
  text: string;
  onClick: () => void;
  enabled?: boolean;
  primary?: boolean;
  danger?: boolean;
  title?: string;
}

/** A toolbar of buttons and other controls ('->' pushes the rest to the right). */
export function Toolbar({ items }: { items: (ToolItem | ReactNode | '->')[] }): JSX.Element {
  return (
    <div className="toolbar" role="toolbar">
      {items.map((item, i) => {
        if (item === '->') return <span key={i} className="spacer" />;
        if (item && typeof item === 'object' && 'text' in item && 'onClick' in item) {
          const t = item as ToolItem;
          return (
            <button key={i} type="button" title={t.title} disabled={t.enabled === false}
              className={['btn', t.primary && 'primary', t.danger && 'danger'].filter(Boolean).join(' ')} onClick={t.onClick}>
              {t.text}
            </button>
          );
        }
        return <span key={i} className="toolbar-item">{item as ReactNode}</span>;
      })}
    </div>
  );
}

/** Rows plus their selection. */
export function useSelection<T>(rows: T[], rowKey: (row: T) => string): [string | null, (k: string | null) => void, T | null] {
  const [selected, setSelected] = useState<string | null>(null);
  const row = selected === null ? null : rows.find((r) => rowKey(r) === selected) ?? null;
  return [row ? selected : null, setSelected, row];
}
