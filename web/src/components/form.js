// Forms built from field descriptions, with the API's per-parameter errors shown next to the
// field they belong to.
//
// A field: { name, label, type, value, required, options, placeholder, help, disabled,
//   params: ['api-param', ...]  (whose errors show here; default [name]),
//   validate(value, values) -> message | null, list: [suggestions], render(field) (type 'custom') }
// Types: text, password, email, number, textarea, select, checkbox, date, multiselect, display,
// custom. A custom field's render returns { el, get(), set(v), focus() }.

import { h, nextId, replace } from '../dom.js';

function optionList(options) {
  return (options || []).map((o) => (typeof o === 'object' ? o : { value: o, label: String(o) }));
}

function buildControl(field, id) {
  const common = { id, name: field.name, disabled: field.disabled, 'aria-required': field.required ? 'true' : null };
  switch (field.type) {
    case 'checkbox': {
      const input = h('input', { ...common, type: 'checkbox', checked: Boolean(field.value) });
      return { el: input, get: () => input.checked, set: (v) => { input.checked = Boolean(v); }, focus: () => input.focus() };
    }
    case 'select': {
      const select = h('select', common);
      const setOptions = (options, value) => {
        replace(select, optionList(options).map((o) => h('option', { value: o.value }, o.label)));
        if (value !== undefined) select.value = value;
      };
      setOptions(field.options, field.value ?? undefined);
      return { el: select, get: () => select.value, set: (v) => { select.value = v; }, focus: () => select.focus(), setOptions };
    }
    case 'multiselect': {
      const box = h('div', { class: 'checklist', id, role: 'group', tabIndex: -1 });
      let boxes = [];
      const setOptions = (options, value) => {
        const selected = new Set(value ?? boxes.filter((b) => b.checked).map((b) => b.value));
        boxes = optionList(options).map((o) => h('input', { type: 'checkbox', value: o.value, checked: selected.has(o.value), disabled: field.disabled }));
        replace(box, boxes.length
          ? boxes.map((b, i) => h('label', { class: 'check' }, b, ' ', optionList(options)[i].label))
          : h('span', { class: 'muted' }, field.emptyText || 'none available'));
      };
      setOptions(field.options, field.value || []);
      return {
        el: box,
        get: () => boxes.filter((b) => b.checked).map((b) => b.value),
        set: (v) => setOptions(boxes.map((b) => ({ value: b.value, label: b.parentElement.textContent.trim() })), v || []),
        focus: () => (boxes[0] || box).focus(),
        setOptions,
      };
    }
    case 'textarea': {
      const ta = h('textarea', { ...common, rows: field.rows || 3, placeholder: field.placeholder });
      ta.value = field.value ?? '';
      return { el: ta, get: () => ta.value.trim(), set: (v) => { ta.value = v ?? ''; }, focus: () => ta.focus() };
    }
    case 'display': {
      const span = h('output', { id, class: 'display-value' }, field.value ?? '');
      return { el: span, get: () => field.value, set: (v) => { span.textContent = v ?? ''; }, focus: () => {} };
    }
    case 'custom':
      return field.render(field, id);
    default: {
      const listId = field.list ? nextId('list') : null;
      const input = h('input', {
        ...common,
        type: field.type || 'text',
        placeholder: field.placeholder,
        autocomplete: field.autocomplete || (field.type === 'password' ? 'new-password' : 'off'),
        list: listId,
        min: field.min,
        max: field.max,
        spellcheck: 'false',
      });
      input.value = field.value ?? '';
      const el = field.list
        ? h('span', { class: 'with-list' }, input, h('datalist', { id: listId }, field.list.map((v) => h('option', { value: v }))))
        : input;
      const trim = field.type !== 'password';
      return { el, input, get: () => (trim ? input.value.trim() : input.value), set: (v) => { input.value = v ?? ''; }, focus: () => input.focus() };
    }
  }
}

export function createForm(fields, { columns = 1 } = {}) {
  const entries = new Map();
  const message = h('div', { class: 'form-message', role: 'alert', hidden: true });
  const grid = h('div', { class: ['form-grid', columns === 2 && 'two-columns'] });

  for (const field of fields) {
    const id = nextId(field.name);
    const control = buildControl(field, id);
    const error = h('div', { class: 'field-error', id: `${id}-error`, hidden: true });
    const focusable = control.input || control.el;
    focusable.setAttribute?.('aria-describedby', `${id}-error`);
    const label = field.type === 'checkbox'
      ? h('span', { class: 'label' })
      : h('label', { class: 'label', for: id }, field.label || '');
    const body = field.type === 'checkbox'
      ? h('label', { class: 'check', for: id }, control.el, ' ', field.label)
      : control.el;
    const row = h('div', {
      class: ['field', field.wide && 'wide', field.required && 'required'],
      dataset: { field: field.name },
      hidden: field.hidden,
    }, label, h('div', { class: 'control' }, body, field.help ? h('div', { class: 'help' }, field.help) : null, error));
    grid.append(row);
    entries.set(field.name, { field, control, error, row, focusable });
  }

  const form = {
    el: h('div', { class: 'form' }, message, grid),

    values() {
      const out = {};
      for (const [name, { field, control, row }] of entries) {
        if (field.type === 'display' || row.hidden) continue;
        out[name] = control.get();
      }
      return out;
    },

    get: (name) => entries.get(name)?.control.get(),
    set: (name, value) => entries.get(name)?.control.set(value),
    control: (name) => entries.get(name)?.control,
    setOptions: (name, options, value) => entries.get(name)?.control.setOptions?.(options, value),

    /** Show/hide a field (a hidden field is left out of values()). */
    show(name, visible) {
      const e = entries.get(name);
      if (e) e.row.hidden = !visible;
    },
    isShown: (name) => !entries.get(name)?.row.hidden,

    clearErrors() {
      message.hidden = true;
      message.textContent = '';
      for (const { error, focusable } of entries.values()) {
        error.hidden = true;
        error.textContent = '';
        focusable.removeAttribute?.('aria-invalid');
      }
    },

    setFieldError(name, text) {
      const e = entries.get(name);
      if (!e) return false;
      e.error.textContent = text;
      e.error.hidden = false;
      e.focusable.setAttribute?.('aria-invalid', 'true');
      return true;
    },

    setMessage(text) {
      message.textContent = text || '';
      message.hidden = !text;
    },

    /**
     * Show an API error: each `errors[param]` next to the field that sends `param`, the rest
     * (and the message) above the form.
     */
    showError(err) {
      form.clearErrors();
      const rest = [];
      for (const [param, text] of Object.entries(err.errors || {})) {
        const target = [...entries.values()].find(({ field, row }) =>
          !row.hidden && (field.params || [field.name]).includes(param));
        if (!target || !form.setFieldError(target.field.name, text)) rest.push(`${param}: ${text}`);
      }
      form.setMessage([err.message, ...rest].filter(Boolean).join('\n'));
      const first = [...entries.values()].find((e) => !e.error.hidden);
      first?.control.focus();
    },

    /** Required fields and each field's own check; returns true when all pass. */
    validate() {
      form.clearErrors();
      const values = form.values();
      let ok = true;
      for (const [name, { field, row }] of entries) {
        if (row.hidden) continue;
        const v = values[name];
        let problem = null;
        if (field.required && (v === '' || v === undefined || (Array.isArray(v) && !v.length))) {
          problem = 'This field is required.';
        } else if (field.validate) {
          problem = field.validate(v, values);
        }
        if (problem) {
          if (ok) entries.get(name).control.focus();
          ok = false;
          form.setFieldError(name, problem);
        }
      }
      return ok;
    },

    focusFirst() {
      const first = [...entries.values()].find(({ field, row }) => !row.hidden && !field.disabled && field.type !== 'display');
      first?.control.focus();
    },
  };
  return form;
}
