// A form rendered from a FormModel: label, control, help and the field's error per row.

import { useEffect, useRef, useSyncExternalStore, type JSX } from 'react';
import type { FieldSpec, FieldValue, FormModel } from './form-model';

function Control({ model, f, id, describedBy }: { model: FormModel; f: FieldSpec; id: string; describedBy: string }): JSX.Element {
  const ref = useRef<HTMLInputElement & HTMLSelectElement & HTMLTextAreaElement>(null);
  const boxRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    model.registerFocus(f.name, () => (ref.current ?? boxRef.current?.querySelector<HTMLElement>('input,select,textarea,[tabindex]') ?? boxRef.current)?.focus());
  }, [model, f.name]);
  const value = model.values[f.name];
  const invalid = model.errors[f.name] ? true : undefined;
  const set = (v: FieldValue): void => model.set(f.name, v, { user: true });
  const common = {
    id,
    name: f.name,
    disabled: f.disabled,
    'aria-required': f.required ? true : undefined,
    'aria-invalid': invalid,
    'aria-describedby': describedBy,
  };
  switch (f.type) {
    case 'checkbox':
      return (
        <label className="check" htmlFor={id}>
          <input {...common} ref={ref} type="checkbox" checked={Boolean(value)} onChange={(e) => set(e.target.checked)} /> {f.label}
        </label>
      );
    case 'select':
      return (
        <select {...common} ref={ref} value={String(value)} onChange={(e) => set(e.target.value)}>
          {model.options[f.name].map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
        </select>
      );
    case 'multiselect': {
      const selected = new Set(Array.isArray(value) ? value : []);
      const opts = model.options[f.name];
      return (
        <div className="checklist" id={id} role="group" tabIndex={-1} ref={boxRef}>
          {opts.length ? opts.map((o) => (
            <label className="check" key={o.value}>
              <input type="checkbox" value={o.value} checked={selected.has(o.value)} disabled={f.disabled}
                onChange={(e) => {
                  const next = new Set(selected);
                  if (e.target.checked) next.add(o.value);
                  else next.delete(o.value);
                  set(opts.map((x) => x.value).filter((x) => next.has(x)));
                }} /> {o.label}
            </label>
          )) : <span className="muted">{f.emptyText || 'none available'}</span>}
        </div>
      );
    }
    case 'textarea':
      return <textarea {...common} ref={ref} rows={f.rows || 3} placeholder={f.placeholder} value={String(value)} onChange={(e) => set(e.target.value)} />;
    case 'display':
      return <output id={id} className="display-value">{String(f.value ?? '')}</output>;
    case 'custom':
      return <div ref={boxRef} className="custom-control">{f.render?.(model, id)}</div>;
    default: {
      const listId = f.list ? `${id}-list` : undefined;
      const input = (
        <input {...common} ref={ref} type={f.type || 'text'} placeholder={f.placeholder}
          autoComplete={f.autocomplete || (f.type === 'password' ? 'new-password' : 'off')}
          list={listId} min={f.min} max={f.max} spellCheck={false}
          value={String(value)} onChange={(e) => set(e.target.value)} />
      );
      if (!f.list) return input;
      return (
        <span className="with-list">
          {input}
          <datalist id={listId}>{f.list.map((v) => <option key={v} value={v} />)}</datalist>
        </span>
      );
    }
  }
}

/** The form; `only` limits it to these fields (a wizard's step). */
export function FormView({ model, columns = 1, only, message = true }: { model: FormModel; columns?: 1 | 2; only?: string[]; message?: boolean }): JSX.Element {
  useSyncExternalStore(model.subscribe, model.snapshot);
  return (
    <div className="form">
      {message && model.message ? <div className="form-message" role="alert">{model.message}</div> : null}
      <div className={['form-grid', columns === 2 && 'two-columns'].filter(Boolean).join(' ')}>
        {model.fields.map((f) => {
          if (model.hidden[f.name] || (only && !only.includes(f.name))) return null;
          const id = model.ids.get(f.name) as string;
          const error = model.errors[f.name];
          const cls = ['field', f.wide && 'wide', f.required && 'required'].filter(Boolean).join(' ');
          return (
            <div className={cls} data-field={f.name} key={f.name}>
              {f.type === 'checkbox' || f.type === 'custom' || f.type === 'multiselect'
                ? <span className="label">{f.type === 'checkbox' ? '' : f.label}</span>
                : <label className="label" htmlFor={id}>{f.label || ''}</label>}
              <div className="control">
                <Control model={model} f={f} id={id} describedBy={`${id}-error`} />
                {f.help ? <div className="help">{f.help}</div> : null}
                {error ? <div className="field-error" id={`${id}-error`}>{error}</div> : null}
              </div>
            </div>
          );
        })}
      </div>
    </div>
  );
}
