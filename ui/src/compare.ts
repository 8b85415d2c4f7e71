// Pure logic of the compare page: run id lists in URLs, the diff table, scatter and
// parallel-coordinate fields and their scales.

import type { Run } from './api';
import { metric, param } from './runs';

/** `["a","b"]` (MLflow's JSON form) or `a,b`, as found in `?runs=` and `?experiments=`. */
export function parseIds(s: string | undefined): string[] {
  if (!s) return [];
  const t = s.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t);
      if (Array.isArray(v)) return [...new Set(v.map(String).filter((x) => x !== ''))];
    } catch {
      // not JSON: fall through to the comma form
    }
  }
  return [...new Set(t.replace(/^\[|\]$/g, '').split(',').map((x) => x.trim().replace(/^"|"$/g, '')).filter((x) => x !== ''))];
}

/** The JSON-array form MLflow uses in compare URLs. */
export function formatIds(ids: string[]): string {
  return JSON.stringify(ids);
}

export interface DiffRow {
  key: string;
  values: (string | undefined)[];
  /** Whether the runs do not all have the same value (a missing value differs too). */
  differs: boolean;
}

/** One row per param (or last metric value) over the runs, sorted by key. */
export function diffRows(runs: Run[], kind: 'params' | 'metrics'): DiffRow[] {
  const keys = new Set<string>();
  for (const r of runs) for (const x of (kind === 'params' ? r.data.params : r.data.metrics) ?? []) keys.add(x.key);
  return [...keys]
    .sort((a, b) => a.localeCompare(b))
    .map((key) => {
      const values = runs.map((r) => (kind === 'params' ? param(r, key) : metric(r, key)?.toString()));
      return { key, values, differs: new Set(values).size > 1 };
    });
}

/** A field of a run as the scatter and parallel coordinates use it: `params.x` or `metrics.y`. */
export type Field = string;

export function fieldsOf(runs: Run[]): Field[] {
  const fields = new Set<string>();
  for (const r of runs) {
    for (const p of r.data.params ?? []) fields.add('params.' + p.key);
    for (const m of r.data.metrics ?? []) fields.add('metrics.' + m.key);
  }
  return [...fields].sort((a, b) => (a.startsWith('metrics.') === b.startsWith('metrics.') ? a.localeCompare(b) : a.startsWith('metrics.') ? 1 : -1));
}

export function fieldValue(run: Run, field: Field): string | number | undefined {
  if (field.startsWith('params.')) return param(run, field.slice(7));
  if (field.startsWith('metrics.')) return metric(run, field.slice(8));
  return undefined;
}

export interface Scale {
  /** Each value's position in [0, 1] (undefined for a missing value). */
  pos: (number | undefined)[];
  /** Labelled positions along the axis. */
  ticks: { label: string; pos: number }[];
  numeric: boolean;
}

function asNumber(v: string | number | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function short(n: number): string {
  return Math.abs(n) >= 1e5 || (Math.abs(n) < 1e-3 && n !== 0) ? n.toExponential(2) : String(Number(n.toPrecision(4)));
}

/**
 * Maps a dimension's values onto [0, 1]: linearly between min and max when every
 * present value is a number (one distinct value sits in the middle), otherwise as
 * evenly spaced categories in sorted order.
 */
export function scaleDim(values: (string | number | undefined)[]): Scale {
  const present = values.filter((v) => v !== undefined && v !== '');
  const nums = present.map(asNumber);
  if (present.length > 0 && nums.every((n) => n !== undefined)) {
    const ns = nums as number[];
    const lo = Math.min(...ns);
    const hi = Math.max(...ns);
    const at = (n: number) => (hi === lo ? 0.5 : (n - lo) / (hi - lo));
    const pos = values.map((v) => {
      const n = asNumber(v);
      return n === undefined ? undefined : at(n);
    });
    const ticks = hi === lo ? [{ label: short(lo), pos: 0.5 }] : [0, 0.5, 1].map((f) => ({ label: short(lo + f * (hi - lo)), pos: f }));
    return { pos, ticks, numeric: true };
  }
  const cats = [...new Set(present.map(String))].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const at = (c: string) => (cats.length === 1 ? 0.5 : cats.indexOf(c) / (cats.length - 1));
  return {
    pos: values.map((v) => (v === undefined || v === '' ? undefined : at(String(v)))),
    ticks: cats.map((c) => ({ label: c, pos: at(c) })),
    numeric: false,
  };
}
