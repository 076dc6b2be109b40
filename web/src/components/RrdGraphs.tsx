// History graphs of a node, guest or storage from Proxmox's `.../rrddata` endpoints
// (timeframe hour|day|week|month|year, cf AVERAGE|MAX), drawn with uPlot.

import { useEffect, useRef, useState, type JSX, type ReactNode } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api } from '../lib/api';
import { bytes } from '../lib/format';
import { usePoll } from '../lib/hooks';

export type Timeframe = 'hour' | 'day' | 'week' | 'month' | 'year';
const TIMEFRAMES: Timeframe[] = ['hour', 'day', 'week', 'month', 'year'];
const TF_KEY = 'oxve.rrd.timeframe';

type Unit = 'percent' | 'bytes' | 'bytes/s' | 'number';

export interface GraphSpec {
  title: string;
  unit: Unit;
  series: { field: string; label: string; color: string; scale?: (v: number, row: Row) => number }[];
}

type Row = Record<string, number>;

export const NODE_GRAPHS: GraphSpec[] = [
  { title: 'CPU usage', unit: 'percent', series: [
    { field: 'cpu', label: 'CPU usage', color: '#2a6fb0' },
    { field: 'iowait', label: 'IO delay', color: '#c77700' },
  ] },
  { title: 'Server load', unit: 'number', series: [{ field: 'loadavg', label: 'Load average', color: '#2a6fb0' }] },
  { title: 'Memory usage', unit: 'bytes', series: [
    { field: 'memtotal', label: 'Total', color: '#8a96a3' },
    { field: 'memused', label: 'RAM usage', color: '#2a6fb0' },
  ] },
  { title: 'Network traffic', unit: 'bytes/s', series: [
    { field: 'netin', label: 'netin', color: '#2e9e44' },
    { field: 'netout', label: 'netout', color: '#2a6fb0' },
  ] },
];

export const GUEST_GRAPHS: GraphSpec[] = [
  { title: 'CPU usage', unit: 'percent', series: [{ field: 'cpu', label: 'CPU usage', color: '#2a6fb0' }] },
  { title: 'Memory usage', unit: 'bytes', series: [
    { field: 'maxmem', label: 'Total', color: '#8a96a3' },
    { field: 'mem', label: 'RAM usage', color: '#2a6fb0' },
  ] },
  { title: 'Network traffic', unit: 'bytes/s', series: [
    { field: 'netin', label: 'netin', color: '#2e9e44' },
    { field: 'netout', label: 'netout', color: '#2a6fb0' },
  ] },
  { title: 'Disk IO', unit: 'bytes/s', series: [
    { field: 'diskread', label: 'diskread', color: '#2e9e44' },
    { field: 'diskwrite', label: 'diskwrite', color: '#2a6fb0' },
  ] },
];

export const STORAGE_GRAPHS: GraphSpec[] = [
  { title: 'Usage', unit: 'bytes', series: [
    { field: 'total', label: 'Total', color: '#8a96a3' },
    { field: 'used', label: 'Used', color: '#2a6fb0' },
  ] },
];

function fmt(unit: Unit, v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '-';
  switch (unit) {
    case 'percent':
      return `${(v * 100).toFixed(1)}%`;
    case 'bytes':
      return bytes(Math.round(v));
    case 'bytes/s':
      return `${bytes(Math.round(v))}/s`;
    default:
      return v.toFixed(2);
  }
}

function Graph({ spec, rows }: { spec: GraphSpec; rows: Row[] }): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data: uPlot.AlignedData = [
    rows.map((r) => r.time),
    ...spec.series.map((s) => rows.map((r) => (r[s.field] === undefined ? null : (s.scale ? s.scale(r[s.field], r) : r[s.field])))),
  ];
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const width = Math.max(300, el.clientWidth || 480);
    const opts: uPlot.Options = {
      width,
      height: 170,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      // Byte scales reach at least 1 KiB, so idle traffic shows readable ticks (not 0.5 B/s
      // rounded to "1 B/s" twice).
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), spec.unit.startsWith('bytes') ? Math.max(max * 1.1, 1024) : (max > 0 ? max * 1.1 : 1)] } },
      axes: [
        { stroke: '#66727f', grid: { stroke: '#eef1f4' } },
        { stroke: '#66727f', grid: { stroke: '#eef1f4' }, size: 76, values: (_u, ticks) => ticks.map((t) => fmt(spec.unit, t)) },
      ],
      series: [
        {},
        ...spec.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          fill: `${s.color}22`,
          width: 1.5,
          spanGaps: false,
          // Sparse data (a fresh guest) still shows its points.
          points: { show: (u: uPlot, si: number) => (u.data[si] as (number | null)[]).filter((x) => x !== null).length < 20, size: 4 },
          value: (_u: uPlot, v: number | null) => fmt(spec.unit, v),
        })),
      ],
    };
    plot.current = new uPlot(opts, data, el);
    const ro = new ResizeObserver(() => {
      const w = Math.max(300, el.clientWidth);
      if (plot.current && Math.abs(plot.current.width - w) > 4) plot.current.setSize({ width: w, height: 170 });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [spec]);
  useEffect(() => {
    plot.current?.setData(data);
  });
  return (
    <section className="card rrd-graph" aria-label={spec.title} data-graph={spec.title}
      data-nonzero={(data.slice(1) as (number | null)[][]).reduce((n, col) => n + col.filter((v) => typeof v === 'number' && v > 0).length, 0)}>
      <h2 className="card-title">{spec.title}</h2>
      <div className="card-body" ref={box} />
    </section>
  );
}

/**
 * A timeframe and CF picker with one graph per spec (after `lead`, the summary's own cards, in
 * the same grid); refreshed every 30 s.
 */
export function RrdGraphs({ path, graphs, lead, note }: { path: string; graphs: GraphSpec[]; lead?: ReactNode; note?: ReactNode }): JSX.Element {
  const [timeframe, setTimeframe] = useState<Timeframe>(() => (localStorage.getItem(TF_KEY) as Timeframe) || 'hour');
  const [cf, setCf] = useState<'AVERAGE' | 'MAX'>('AVERAGE');
  const [rows, setRows] = useState<Row[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  usePoll(async () => {
    try {
      const data = await api.get<Row[]>(path, { timeframe, cf });
      setRows(Array.isArray(data) ? data : []);
      setError(null);
    } catch (e) {
      const err = e as { status?: number; message: string };
      setError(err.status === 501 ? 'No history on this server.' : `Cannot load the history: ${err.message}`);
    }
  }, 30000, [path, timeframe, cf]);
  return (
    <div className="rrd">
      <div className="rrd-tools" role="toolbar" aria-label="History">
        {note ? <span className="rrd-note">{note}</span> : null}
        <span className="spacer" />
        <span className="muted">History:</span>
        <select aria-label="Timeframe" value={timeframe} onChange={(e) => {
          const tf = e.target.value as Timeframe;
          localStorage.setItem(TF_KEY, tf);
          setTimeframe(tf);
        }}>
          {TIMEFRAMES.map((t) => <option key={t} value={t}>{`${t[0].toUpperCase()}${t.slice(1)}`}</option>)}
        </select>
        <select aria-label="Consolidation" value={cf} onChange={(e) => setCf(e.target.value as 'AVERAGE' | 'MAX')}>
          <option value="AVERAGE">Average</option>
          <option value="MAX">Maximum</option>
        </select>
        {error ? <span className="view-error" role="alert">{error}</span> : null}
      </div>
      <div className="rrd-graphs" data-points={rows ? rows.length : ''}>
        {lead}
        {graphs.map((g) => <Graph key={g.title} spec={g} rows={rows ?? []} />)}
      </div>
    </div>
  );
}
