// A table with one selected row, keyboard navigation and sortable columns, plus a toolbar whose
// buttons follow the selection.

import { h, replace } from '../dom.js';

/**
 * createGrid({ columns: [{ key, title, render(row), width, sortable=true, sortValue(row) }],
 *   rowKey: 'field' | (row) => key, onSelect(row|null), onActivate(row), emptyText, label,
 *   activateOnClick })  onActivate runs on double click and Enter (or on a single click).
 */
export function createGrid({ columns, rowKey = 'id', onSelect, onActivate, emptyText = 'No entries', label, className, activateOnClick = false }) {
  const keyOf = typeof rowKey === 'function' ? rowKey : (row) => row[rowKey];
  let rows = [];
  let selectedKey = null;
  let sort = null; // { key, dir }
  const selectListeners = new Set(onSelect ? [onSelect] : []);

  const headRow = h('tr', null, columns.map((col) => {
    const th = h('th', { scope: 'col', style: col.width ? { width: col.width } : null, dataset: { key: col.key } }, col.title);
    if (col.sortable !== false) {
      th.classList.add('sortable');
      th.tabIndex = 0;
      const toggle = () => {
        sort = sort?.key === col.key ? { key: col.key, dir: -sort.dir } : { key: col.key, dir: 1 };
        for (const other of headRow.children) other.removeAttribute('aria-sort');
        th.setAttribute('aria-sort', sort.dir > 0 ? 'ascending' : 'descending');
        render();
      };
      th.addEventListener('click', toggle);
      th.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' || ev.key === ' ') {
          ev.preventDefault();
          toggle();
        }
      });
    }
    return th;
  }));
  const tbody = h('tbody');
  const table = h('table', { class: 'grid-table', 'aria-label': label }, h('thead', null, headRow), tbody);
  const status = h('div', { class: 'grid-status', hidden: true });
  const el = h('div', { class: ['grid', className] }, table, status);

  function sorted() {
    if (!sort) return rows;
    const col = columns.find((c) => c.key === sort.key);
    const value = col.sortValue || ((r) => r[col.key]);
    return [...rows].sort((a, b) => {
      const va = value(a);
      const vb = value(b);
      if (typeof va === 'number' && typeof vb === 'number') return (va - vb) * sort.dir;
      return String(va ?? '').localeCompare(String(vb ?? ''), undefined, { numeric: true }) * sort.dir;
    });
  }

  function render() {
    const focusedKey = tbody.contains(document.activeElement) ? document.activeElement.dataset.key : null;
    const list = sorted();
    const trs = list.map((row) => {
      const key = String(keyOf(row));
      const tr = h('tr', {
        tabIndex: -1,
        dataset: { key },
        'aria-selected': key === selectedKey ? 'true' : 'false',
        onclick: () => {
          select(key);
          if (activateOnClick) onActivate?.(row);
        },
        ondblclick: activateOnClick ? null : () => onActivate?.(row),
      }, columns.map((col) => {
        const content = col.render ? col.render(row) : row[col.key];
        return h('td', { class: col.className }, content ?? '');
      }));
      tr.rowData = row;
      return tr;
    });
    replace(tbody, trs);
    const active = trs.find((tr) => tr.dataset.key === selectedKey);
    if (active) active.tabIndex = 0;
    else if (trs[0]) trs[0].tabIndex = 0;
    if (focusedKey !== null) trs.find((tr) => tr.dataset.key === focusedKey)?.focus();
    if (!list.length) {
      status.textContent = emptyText;
      status.hidden = false;
    } else if (!status.classList.contains('error')) {
      status.hidden = true;
    }
  }

  function select(key, { focus = false } = {}) {
    const changed = key !== selectedKey;
    selectedKey = key === null || key === undefined ? null : String(key);
    for (const tr of tbody.children) {
      const on = tr.dataset.key === selectedKey;
      tr.setAttribute('aria-selected', on ? 'true' : 'false');
      tr.tabIndex = on ? 0 : -1;
      if (on && focus) tr.focus();
    }
    if (changed) {
      const row = grid.selected();
      for (const fn of selectListeners) fn(row);
    }
  }

  tbody.addEventListener('keydown', (ev) => {
    const trs = [...tbody.children];
    const at = trs.findIndex((tr) => tr === document.activeElement);
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      const next = trs[Math.min(trs.length - 1, Math.max(0, at + (ev.key === 'ArrowDown' ? 1 : -1)))];
      if (next) select(next.dataset.key, { focus: true });
    } else if (ev.key === 'Enter' && at >= 0) {
      ev.preventDefault();
      onActivate?.(trs[at].rowData);
    } else if (ev.key === ' ' && at >= 0) {
      ev.preventDefault();
      select(trs[at].dataset.key);
    }
  });

  const grid = {
    el,
    setRows(newRows) {
      rows = newRows || [];
      status.classList.remove('error');
      render();
      if (selectedKey !== null && !rows.some((r) => String(keyOf(r)) === selectedKey)) select(null);
    },
    rows: () => rows,
    selected() {
      return rows.find((r) => String(keyOf(r)) === selectedKey) || null;
    },
    select,
    onSelect(fn) {
      selectListeners.add(fn);
    },
    setError(message) {
      status.textContent = message;
      status.classList.add('error');
      status.hidden = false;
    },
  };
  return grid;
}

/**
 * A toolbar: [{ text, handler(selected), enabled(selected) -> bool, primary, danger, title }]
 * or DOM nodes (filters, spacers). With a grid, buttons re-check `enabled` on selection change.
 */
export function createToolbar(items, grid) {
  const buttons = [];
  const el = h('div', { class: 'toolbar', role: 'toolbar' }, items.map((item) => {
    if (item instanceof Node) return item;
    if (item === '->') return h('span', { class: 'spacer' });
    const btn = h('button', {
      type: 'button',
      class: ['btn', item.primary && 'primary', item.danger && 'danger'],
      title: item.title,
      onclick: () => item.handler(grid?.selected() ?? null),
    }, item.text);
    buttons.push([btn, item]);
    return btn;
  }));
  const update = () => {
    const sel = grid?.selected() ?? null;
    for (const [btn, item] of buttons) btn.disabled = item.enabled ? !item.enabled(sel) : false;
  };
  grid?.onSelect(update);
  update();
  return { el, update };
}
