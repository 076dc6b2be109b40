// Modal windows on Radix UI's Dialog (focus kept inside, Escape closes, stacked windows), each
// its own React root, opened from event handlers: openWindow, openFormDialog, confirmDialog,
// alertDialog.

import * as RDialog from '@radix-ui/react-dialog';
import { useEffect, useRef, useState, type JSX, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { ApiError } from '../lib/api';
import { FormView } from './Form';
import { FormModel, type FieldSpec, type FieldValue } from './form-model';

export interface WindowHandle {
  close(): void;
}

export interface WindowOptions {
  title: string;
  width?: number;
  className?: string;
  onClose?: () => void;
  /** Header with title and × (default true). */
  header?: boolean;
  /** Extra attributes of the window element (data-*). */
  attrs?: Record<string, string>;
}

function Window({ opts, handle, register, children }: {
  opts: WindowOptions;
  handle: WindowHandle;
  register: (setOpen: (open: boolean) => void) => void;
  children: ReactNode;
}): JSX.Element {
  const [open, setOpen] = useState(true);
  useEffect(() => register(setOpen), [register]);
  const header = opts.header ?? true;
  return (
    <RDialog.Root open={open} onOpenChange={(o) => { if (!o) handle.close(); }}>
      <RDialog.Portal>
        <RDialog.Overlay className="window-overlay" />
        <RDialog.Content className={['window', opts.className].filter(Boolean).join(' ')} aria-describedby={undefined}
          style={opts.width ? { width: `${opts.width}px` } : undefined} {...opts.attrs}
          onPointerDownOutside={(e) => e.preventDefault()}>
          {header ? (
            <div className="window-header">
              <RDialog.Title className="window-title">{opts.title}</RDialog.Title>
              <RDialog.Close className="window-close" aria-label="Close window">×</RDialog.Close>
            </div>
          ) : <RDialog.Title className="visually-hidden">{opts.title}</RDialog.Title>}
          {children}
        </RDialog.Content>
      </RDialog.Portal>
    </RDialog.Root>
  );
}

/** Open a modal window whose body is `render(handle)`. */
export function openWindow(opts: WindowOptions, render: (w: WindowHandle) => ReactNode): WindowHandle {
  // Windows have no Radix trigger: give the focus back to what had it (the opening button).
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const host = document.createElement('div');
  document.body.append(host);
  const root = createRoot(host);
  let closed = false;
  let setOpen: ((open: boolean) => void) | null = null;
  const handle: WindowHandle = {
    close() {
      if (closed) return;
      closed = true;
      setOpen?.(false);
      // Unmount after this event's React work is done.
      setTimeout(() => {
        root.unmount();
        host.remove();
        const lost = !document.activeElement || document.activeElement === document.body;
        if (lost && opener?.isConnected) opener.focus();
      }, 0);
      opts.onClose?.();
    },
  };
  root.render(<Window opts={opts} handle={handle} register={(fn) => { setOpen = fn; }}>{render(handle)}</Window>);
  return handle;
}

export interface ButtonSpec {
  text: string;
  primary?: boolean;
  danger?: boolean;
  disabled?: boolean;
  onClick: () => void;
  autoFocus?: boolean;
}

export function WindowButtons({ buttons }: { buttons: ButtonSpec[] }): JSX.Element {
  return (
    <div className="window-buttons">
      {buttons.map((b) => (
        <button key={b.text} type="button" className={['btn', b.primary && 'primary', b.danger && 'danger'].filter(Boolean).join(' ')}
          disabled={b.disabled} autoFocus={b.autoFocus} onClick={b.onClick}>{b.text}</button>
      ))}
    </div>
  );
}

export interface FormDialogOptions<R> {
  title: string;
  fields: FieldSpec[];
  submitText?: string;
  onSubmit: (values: Record<string, FieldValue>, model: FormModel) => Promise<R> | R;
  columns?: 1 | 2;
  width?: number;
  intro?: ReactNode;
  /** Runs once the window is open (load options, wire fields). */
  setup?: (model: FormModel) => void;
  className?: string;
}

function FormDialogBody<R>({ opts, model, done }: { opts: FormDialogOptions<R>; model: FormModel; done: (r: R | true | null) => void }): JSX.Element {
  const [busy, setBusy] = useState(false);
  const formId = useRef(`form-${Math.random().toString(36).slice(2)}`).current;
  useEffect(() => {
    opts.setup?.(model);
    setTimeout(() => model.focusFirst(), 0);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const submit = async (ev: React.FormEvent): Promise<void> => {
    ev.preventDefault();
    if (busy || !model.validate()) return;
    setBusy(true);
    try {
      const result = await opts.onSubmit(model.getValues(), model);
      done(result ?? true);
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiError) {
        // 401: the login window takes over; the form stays as it is, to be sent again.
        if (err.status === 401) model.setMessage('Your session has expired: log in again, then press the button again.');
        else model.showError(err);
      } else {
        model.setMessage(String((err as Error)?.message || err));
        console.error(err);
      }
    }
  };
  return (
    <>
      <div className="window-body">
        <form className="dialog-form" noValidate id={formId} onSubmit={submit}>
          {opts.intro ? <p className="intro">{opts.intro}</p> : null}
          <FormView model={model} columns={opts.columns} />
        </form>
      </div>
      <div className={['window-buttons', busy && 'busy'].filter(Boolean).join(' ')}>
        <button type="button" className="btn" disabled={busy} onClick={() => done(null)}>Cancel</button>
        <button type="submit" className="btn primary" form={formId} disabled={busy}>{opts.submitText || 'OK'}</button>
      </div>
    </>
  );
}

/**
 * A form in a window. `onSubmit(values, model)` does the API call; an ApiError keeps the window
 * open and shows the errors next to their fields. Resolves with onSubmit's result (true when it
 * gave none), or null when cancelled.
 */
export function openFormDialog<R>(opts: FormDialogOptions<R>): Promise<R | true | null> {
  return new Promise((resolve) => {
    const model = new FormModel(opts.fields);
    let result: R | true | null = null;
    const win = openWindow({
      title: opts.title,
      width: opts.width || (opts.columns === 2 ? 720 : 460),
      className: opts.className,
      onClose: () => resolve(result),
    }, () => <FormDialogBody opts={opts} model={model} done={(r) => { result = r; win.close(); }} />);
  });
}

/** Ask before doing something. Resolves true when confirmed. */
export function confirmDialog({ title = 'Confirm', message, confirmText = 'Yes', danger = false }: { title?: string; message: ReactNode; confirmText?: string; danger?: boolean }): Promise<boolean> {
  return new Promise((resolve) => {
    let answer = false;
    const win = openWindow({ title, width: 420, onClose: () => resolve(answer) }, () => (
      <>
        <div className="window-body"><p className="confirm-text">{message}</p></div>
        <WindowButtons buttons={[
          { text: 'No', onClick: () => win.close() },
          { text: confirmText, primary: !danger, danger, autoFocus: true, onClick: () => { answer = true; win.close(); } },
        ]} />
      </>
    ));
  });
}

/** Tell the user something (an error of an action without a form). */
export function alertDialog({ title = 'Error', message }: { title?: string; message: ReactNode }): Promise<void> {
  return new Promise((resolve) => {
    const win = openWindow({ title, width: 420, onClose: () => resolve() }, () => (
      <>
        <div className="window-body"><p className="alert-text" role="alert">{message}</p></div>
        <WindowButtons buttons={[{ text: 'OK', primary: true, autoFocus: true, onClick: () => win.close() }]} />
      </>
    ));
  });
}

/** Run an action; show its error in an alert window. Returns the result or undefined. */
export async function runAction<T>(fn: () => Promise<T>, title = 'Error'): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if ((err as ApiError)?.status === 401) return undefined; // the login window takes over
    await alertDialog({ title, message: (err as Error)?.message || String(err) });
    return undefined;
  }
}
