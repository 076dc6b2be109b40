// A VM's config keys with their pending changes as Proxmox shows them: the pending value under
// the current one (highlighted), a pending removal struck through.

import type { JSX } from 'react';
import { Grid } from '../../components/Grid';
import type { PendingEntry } from '../../lib/qemu';

function PendingValue({ e, format }: { e: PendingEntry; format: (key: string, v: string) => string }): JSX.Element {
  const current = e.value === undefined ? '' : format(e.key, String(e.value));
  return (
    <>
      <span className={e.delete ? 'config-value pending-delete' : 'config-value'}>{current}</span>
      {e.pending !== undefined ? <div className="pending-value" title="pending change">{format(e.key, String(e.pending))}</div> : null}
    </>
  );
}

export function PendingGrid({ rows, title, format, selected, onSelect, onActivate, label, error }: {
  rows: PendingEntry[];
  title: (key: string) => string;
  format: (key: string, v: string) => string;
  selected: string | null;
  onSelect: (k: string | null) => void;
  onActivate: (e: PendingEntry) => void;
  label: string;
  error?: string | null;
}): JSX.Element {
  return (
    <Grid label={label} rows={rows} rowKey={(e) => e.key} selected={selected} onSelect={onSelect} onActivate={onActivate}
      emptyText="Nothing configured" error={error} className="pending-grid"
      columns={[
        { key: 'key', title: 'Key', width: '220px', sortable: false, render: (e) => <span data-config-key={e.key}>{title(e.key)}</span> },
        { key: 'value', title: 'Value', sortable: false, className: 'wrap', render: (e) => <PendingValue e={e} format={format} /> },
      ]} />
  );
}
