// Pure helpers of the runs table: columns, sort keys, nested-run folding.

import type { Run } from './api';

export const PARENT_TAG = 'mlflow.parentRunId';

export interface Sort {
  /** An `order_by` key: `attributes.start_time`, `metrics.\`rmse\``, `params.alpha`, ... */
  key: string;
  asc: boolean;
}

export const DEFAULT_SORT: Sort = { key: 'attributes.start_time', asc: false };

/** A param/metric/tag key quoted for the search grammar when it is not a plain identifier. */
export function quoteKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : '`' + key.replace(/`/g, '') + '`';
}

/** The `order_by` key of a column. */
export function sortKey(kind: 'attributes' | 'params' | 'metrics' | 'tags', key: string): string {
  return `${kind}.${kind === 'attributes' ? key : quoteKey(key)}`;
}

export function orderBy(sort: Sort): string[] {
  return [`${sort.key} ${sort.asc ? 'ASC' : 'DESC'}`];
}

/** `"metrics.rmse DESC"` (as kept in a URL) back into a sort; the default when empty. */
export function parseSort(s: string | undefined): Sort {
  if (!s) return DEFAULT_SORT;
  const m = /^(.*?)(?:\s+(ASC|DESC))?$/i.exec(s.trim());
  if (!m || !m[1]) return DEFAULT_SORT;
  return { key: m[1], asc: (m[2] ?? 'ASC').toUpperCase() === 'ASC' };
}

export function formatSort(sort: Sort): string {
  return sort.key === DEFAULT_SORT.key && sort.asc === DEFAULT_SORT.asc ? '' : orderBy(sort)[0];
}

/** The next sort when a column header is clicked: a new column sorts descending, the same flips. */
export function toggleSort(current: Sort, key: string): Sort {
  return current.key === key ? { key, asc: !current.asc } : { key, asc: false };
}

/**
 * The param, metric and tag keys over some runs, each sorted, for the table's columns.
 * MLflow's own `mlflow.*` tags are left out (the table shows them as attributes).
 */
export function columnsOf(runs: Run[]): { params: string[]; metrics: string[]; tags: string[] } {
  const params = new Set<string>();
  const metrics = new Set<string>();
  const tags = new Set<string>();
  for (const r of runs) {
    for (const p of r.data.params ?? []) params.add(p.key);
    for (const m of r.data.metrics ?? []) metrics.add(m.key);
    for (const t of r.data.tags ?? []) if (!t.key.startsWith('mlflow.')) tags.add(t.key);
  }
  const cmp = (a: string, b: string) => a.localeCompare(b);
  return { params: [...params].sort(cmp), metrics: [...metrics].sort(cmp), tags: [...tags].sort(cmp) };
}

/**
 * Which optional columns the user chose, by id (`params.alpha`, `metrics.rmse`,
 * `tags.team`): params and metrics show unless hidden, tags only when shown, so
 * columns that appear later follow the default.
 */
export interface ColumnPrefs {
  hidden: string[];
  shown: string[];
}

export const NO_PREFS: ColumnPrefs = { hidden: [], shown: [] };

export function columnShown(prefs: ColumnPrefs, id: string): boolean {
  return id.startsWith('tags.') ? prefs.shown.includes(id) : !prefs.hidden.includes(id);
}

export function setColumnShown(prefs: ColumnPrefs, id: string, show: boolean): ColumnPrefs {
  const hidden = prefs.hidden.filter((h) => h !== id);
  const shown = prefs.shown.filter((s) => s !== id);
  if (id.startsWith('tags.')) return { hidden, shown: show ? [...shown, id] : shown };
  return { hidden: show ? hidden : [...hidden, id], shown };
}

/** Prefs as kept in localStorage and the URL's `cols`; empty when there are none. */
export function formatPrefs(p: ColumnPrefs): string {
  return p.hidden.length || p.shown.length ? JSON.stringify(p) : '';
}

/** Prefs as kept in localStorage; anything unreadable is no prefs. */
export function parsePrefs(s: string | null | undefined): ColumnPrefs {
  try {
    const v = JSON.parse(s ?? '');
    const list = (x: unknown) => (Array.isArray(x) ? x.filter((i): i is string => typeof i === 'string') : []);
    return { hidden: list(v?.hidden), shown: list(v?.shown) };
  } catch {
    return NO_PREFS;
  }
}

export function tag(run: Run, key: string): string | undefined {
  return run.data.tags?.find((t) => t.key === key)?.value;
}

export function param(run: Run, key: string): string | undefined {
  return run.data.params?.find((p) => p.key === key)?.value;
}

export function metric(run: Run, key: string): number | undefined {
  return run.data.metrics?.find((m) => m.key === key)?.value;
}

export interface Row {
  run: Run;
  depth: number;
  /** How many of this run's children are loaded. */
  children: number;
  expanded: boolean;
}

/**
 * The table's rows: runs in the server's order, each child folded under its parent
 * (shown right after it when the parent is in `expanded`). A child whose parent is not
 * among `runs` is shown at the top level.
 */
export function foldRuns(runs: Run[], expanded: ReadonlySet<string>): Row[] {
  const ids = new Set(runs.map((r) => r.info.run_id));
  const children = new Map<string, Run[]>();
  const roots: Run[] = [];
  for (const r of runs) {
    const parent = tag(r, PARENT_TAG);
    if (parent && parent !== r.info.run_id && ids.has(parent)) {
      const list = children.get(parent) ?? [];
      list.push(r);
      children.set(parent, list);
    } else {
      roots.push(r);
    }
  }
  const rows: Row[] = [];
  const seen = new Set<string>();
  const visit = (run: Run, depth: number) => {
    if (seen.has(run.info.run_id)) return;
    seen.add(run.info.run_id);
    const kids = children.get(run.info.run_id) ?? [];
    const open = expanded.has(run.info.run_id);
    rows.push({ run, depth, children: kids.length, expanded: open });
    if (open) for (const k of kids) visit(k, depth + 1);
  };
  for (const r of roots) visit(r, 0);
  return rows;
}

/** Appends a page of runs, skipping ids already loaded (pages can overlap after writes). */
export function mergeRuns(loaded: Run[], page: Run[]): Run[] {
  const ids = new Set(loaded.map((r) => r.info.run_id));
  return loaded.concat(page.filter((r) => !ids.has(r.info.run_id)));
}
