// Modal windows on the native <dialog> element (focus kept inside, Escape closes).

import { h } from '../dom.js';
import { createForm } from './form.js';

/**
 * openDialog({ title, body, buttons: [{ text, primary, danger, handler(dlg), close }], width,
 *   onClose, className }) -> { el, close(), setBusy(bool), buttons }
 * A button's handler may be async; `close: true` closes after it resolves.
 */
export function openDialog({ title, body, buttons = [], width, onClose, className }) {
  const el = h('dialog', { class: ['window', className], 'aria-label': title });
  if (width) el.style.width = typeof width === 'number' ? `${width}px` : width;
  let closed = false;

  const dlg = {
    el,
    buttons: {},
    close(result) {
      if (closed) return;
      closed = true;
      el.close();
      el.remove();
      onClose?.(result);
    },
    setBusy(busy) {
      el.classList.toggle('busy', busy);
      for (const b of Object.values(dlg.buttons)) {
        if (busy) {
          b.dataset.wasDisabled = b.disabled ? '1' : '';
          b.disabled = true;
        } else {
          b.disabled = b.dataset.wasDisabled === '1';
        }
      }
    },
  };

  const closeButton = h('button', { type: 'button', class: 'window-close', 'aria-label': 'Close window', onclick: () => dlg.close(null) }, '×');
  const footer = h('div', { class: 'window-buttons' });
  for (const spec of buttons) {
    const btn = h('button', {
      type: spec.submit ? 'submit' : 'button',
      class: ['btn', spec.primary && 'primary', spec.danger && 'danger'],
      onclick: spec.submit ? null : async () => {
        if (spec.handler) await spec.handler(dlg);
        if (spec.close) dlg.close(spec.result ?? null);
      },
    }, spec.text);
    dlg.buttons[spec.key || spec.text] = btn;
    footer.append(btn);
  }

  el.append(
    h('div', { class: 'window-header' }, h('h2', { class: 'window-title' }, title), closeButton),
    h('div', { class: 'window-body' }, body),
    buttons.length ? footer : null,
  );
  el.addEventListener('cancel', (ev) => {
    ev.preventDefault();
    dlg.close(null);
  });
  document.body.append(el);
  el.showModal();
  return dlg;
}

/**
 * A form in a window. `onSubmit(values, form)` does the API call; an ApiError keeps the window
 * open and shows the errors next to their fields. Resolves with onSubmit's result (true when it
 * gave none), or null when cancelled. `setup(form, dlg)` runs after the window opened (load options, wire fields).
 */
export function openFormDialog({ title, fields, submitText = 'OK', onSubmit, columns = 1, width, intro, setup }) {
  return new Promise((resolve) => {
    const form = createForm(fields, { columns });
    const formEl = h('form', { class: 'dialog-form', novalidate: true },
      intro ? h('p', { class: 'intro' }, intro) : null, form.el);
    const dlg = openDialog({
      title,
      body: formEl,
      width: width || (columns === 2 ? 720 : 460),
      buttons: [
        { text: 'Cancel', key: 'cancel', handler: (d) => d.close(null) },
        { text: submitText, key: 'submit', primary: true, submit: true },
      ],
      onClose: resolve,
    });
    // The submit button lives in the footer: tie it to the form.
    const formId = `form-${Math.random().toString(36).slice(2)}`;
    formEl.id = formId;
    dlg.buttons.submit.setAttribute('form', formId);
    formEl.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (dlg.el.classList.contains('busy')) return;
      if (!form.validate()) return;
      dlg.setBusy(true);
      try {
        const result = await onSubmit(form.values(), form);
        dlg.close(result ?? true);
      } catch (err) {
        dlg.setBusy(false);
        if (err && err.name === 'ApiError') form.showError(err);
        else {
          form.setMessage(String(err?.message || err));
          console.error(err);
        }
      }
    });
    setup?.(form, dlg);
    form.focusFirst();
  });
}

/** Ask before doing something. Resolves true when confirmed. */
export function confirmDialog({ title = 'Confirm', message, confirmText = 'Yes', danger = false }) {
  return new Promise((resolve) => {
    const dlg = openDialog({
      title,
      body: h('p', { class: 'confirm-text' }, message),
      width: 420,
      buttons: [
        { text: 'No', key: 'no', close: true, result: false },
        { text: confirmText, key: 'yes', primary: !danger, danger, close: true, result: true },
      ],
      onClose: (r) => resolve(r === true),
    });
    dlg.buttons.yes.focus();
  });
}

/** Tell the user something (an error of an action without a form). */
export function alertDialog({ title = 'Error', message }) {
  return new Promise((resolve) => {
    const dlg = openDialog({
      title,
      body: h('p', { class: 'alert-text', role: 'alert' }, message),
      width: 420,
      buttons: [{ text: 'OK', key: 'ok', primary: true, close: true }],
      onClose: () => resolve(),
    });
    dlg.buttons.ok.focus();
  });
}

/** Run an action; show its error in an alert window. Returns the result or undefined. */
export async function runAction(fn, title = 'Error') {
  try {
    return await fn();
  } catch (err) {
    if (err?.status === 401) return undefined; // the login window takes over
    await alertDialog({ title, message: err?.message || String(err) });
    return undefined;
  }
}
