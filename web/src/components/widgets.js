// Small building blocks of the summary screens.

import { h, replace } from '../dom.js';

/** A titled panel. */
export function card(title, ...children) {
  return h('section', { class: 'card', 'aria-label': title }, h('h2', { class: 'card-title' }, title), h('div', { class: 'card-body' }, children));
}

/** A usage bar: meter(0.42) -> el with update(fraction, text). */
export function meter(fraction = 0, text = '') {
  const fill = h('span', { class: 'meter-fill' });
  const label = h('span', { class: 'meter-text' });
  const el = h('span', { class: 'meter', role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': 100 }, fill, label);
  el.update = (f, t) => {
    const pct = Math.max(0, Math.min(1, Number(f) || 0)) * 100;
    fill.style.width = `${pct}%`;
    el.classList.toggle('high', pct >= 80);
    el.classList.toggle('critical', pct >= 95);
    el.setAttribute('aria-valuenow', pct.toFixed(0));
    label.textContent = t;
  };
  el.update(fraction, text);
  return el;
}

/**
 * A two-column table of named values: rows [{ key, label }] -> el with update({ key: value|node }).
 * Each value cell has data-key, so tests and styles can find it.
 */
export function kvTable(rows) {
  const cells = new Map();
  const el = h('table', { class: 'kv-table' }, h('tbody', null, rows.map(({ key, label }) => {
    const td = h('td', { dataset: { key } }, '');
    cells.set(key, td);
    return h('tr', null, h('th', { scope: 'row' }, label), td);
  })));
  el.update = (values) => {
    for (const [key, value] of Object.entries(values)) {
      const td = cells.get(key);
      if (!td) continue;
      if (value instanceof Node) {
        if (td.firstChild !== value) replace(td, value);
      } else if (td.textContent !== String(value ?? '')) {
        td.textContent = String(value ?? '');
      }
    }
  };
  return el;
}

/** A line of text telling that loading failed (kept until the next success). */
export function errorLine() {
  const el = h('div', { class: 'view-error', role: 'alert', hidden: true });
  el.show = (err) => {
    el.textContent = err ? (err.message || String(err)) : '';
    el.hidden = !err;
  };
  return el;
}

/** The standard frame of a view: a title line and its body. */
export function viewFrame(title, ...children) {
  return h('div', { class: 'view' }, title ? h('h2', { class: 'view-title' }, title) : null, children);
}
