// Small building blocks of the summary screens.

import type { JSX, ReactNode } from 'react';

/** A titled panel. */
export function Card({ title, children, className }: { title: string; children?: ReactNode; className?: string }): JSX.Element {
  return (
    <section className={['card', className].filter(Boolean).join(' ')} aria-label={title}>
      <h2 className="card-title">{title}</h2>
      <div className="card-body">{children}</div>
    </section>
  );
}

/** A usage bar. */
export function Meter({ fraction, text }: { fraction: number; text: string }): JSX.Element {
  const pct = Math.max(0, Math.min(1, Number(fraction) || 0)) * 100;
  const cls = ['meter', pct >= 80 && 'high', pct >= 95 && 'critical'].filter(Boolean).join(' ');
  return (
    <span className={cls} role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)}>
      <span className="meter-fill" style={{ width: `${pct}%` }} />
      <span className="meter-text">{text}</span>
    </span>
  );
}

/** A two-column table of named values; each value cell has data-key. */
export function KvTable({ rows }: { rows: [key: string, label: string, value: ReactNode][] }): JSX.Element {
  return (
    <table className="kv-table">
      <tbody>
        {rows.map(([key, label, value]) => (
          <tr key={key}>
            <th scope="row">{label}</th>
            <td data-key={key}>{value ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A line telling that loading failed (kept until the next success). */
export function ErrorLine({ error }: { error: Error | string | null | undefined }): JSX.Element | null {
  if (!error) return null;
  return <div className="view-error" role="alert">{typeof error === 'string' ? error : error.message}</div>;
}
