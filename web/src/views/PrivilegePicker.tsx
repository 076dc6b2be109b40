// A form field (type 'custom') with a checkbox per privilege, grouped by prefix, with a filter.
// Every privilege is listed by GET /access/roles/Administrator.

import { useEffect, useState, useSyncExternalStore, type JSX } from 'react';
import { api } from '../lib/api';
import type { FieldSpec, FormModel } from '../components/form-model';

function Picker({ model, name, id, label }: { model: FormModel; name: string; id: string; label: string }): JSX.Element {
  useSyncExternalStore(model.subscribe, model.snapshot);
  const [all, setAll] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState('');
  useEffect(() => {
    api.get<Record<string, number>>('/access/roles/Administrator')
      .then((privs) => setAll(Object.keys(privs || {}).sort()))
      .catch((e: Error) => setError(`Cannot load privileges: ${e.message}`));
  }, []);
  const selected = new Set(model.get(name) as string[]);
  const setSelected = (next: Set<string>): void => model.set(name, (all ?? []).filter((p) => next.has(p)));
  const groups = new Map<string, string[]>();
  for (const p of all ?? []) {
    const prefix = p.split('.')[0];
    if (!groups.has(prefix)) groups.set(prefix, []);
    groups.get(prefix)?.push(p);
  }
  const q = filter.trim().toLowerCase();
  return (
    <div className="priv-picker" id={id} role="group" aria-label={label}>
      <div className="priv-tools">
        <input type="search" className="priv-filter" placeholder="Filter privileges" aria-label="Filter privileges" spellCheck={false}
          value={filter} onChange={(e) => setFilter(e.target.value)} />
        <span className="muted priv-count">{all ? `${selected.size} of ${all.length} selected` : ''}</span>
      </div>
      <div className="priv-groups">
        {error ? <span className="field-error">{error}</span> : !all ? <span className="muted">Loading privileges…</span> : [...groups].map(([prefix, privs]) => {
          const visible = privs.filter((p) => !q || p.toLowerCase().includes(q));
          const n = privs.filter((p) => selected.has(p)).length;
          return (
            <fieldset className="priv-group" data-prefix={prefix} key={prefix} hidden={!visible.length}>
              <legend>
                <label className="check">
                  <input type="checkbox" aria-label={`All ${prefix} privileges`} checked={n === privs.length}
                    ref={(el) => { if (el) el.indeterminate = n > 0 && n < privs.length; }}
                    onChange={(e) => {
                      const next = new Set(selected);
                      for (const p of privs) {
                        if (e.target.checked) next.add(p);
                        else next.delete(p);
                      }
                      setSelected(next);
                    }} /> {prefix}
                </label>
              </legend>
              {privs.map((p) => (
                <label className="check priv" data-priv={p} key={p} hidden={!visible.includes(p)}>
                  <input type="checkbox" value={p} checked={selected.has(p)} onChange={(e) => {
                    const next = new Set(selected);
                    if (e.target.checked) next.add(p);
                    else next.delete(p);
                    setSelected(next);
                  }} /> {p}
                </label>
              ))}
            </fieldset>
          );
        })}
      </div>
    </div>
  );
}

export function privilegePicker({ name = 'privs', label = 'Privileges', value = [] as string[] } = {}): FieldSpec {
  return {
    name,
    label,
    type: 'custom',
    wide: true,
    value,
    params: ['privs'],
    render: (model, id) => <Picker model={model} name={name} id={id} label={label} />,
  };
}
