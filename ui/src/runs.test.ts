import { describe, expect, it } from 'vitest';
import type { Run } from './api';
import { columnShown, columnsOf, DEFAULT_SORT, formatPrefs, NO_PREFS, parsePrefs, setColumnShown, foldRuns, formatSort, mergeRuns, orderBy, parseSort, quoteKey, sortKey, toggleSort } from './runs';

function run(id: string, opts: { parent?: string; params?: Record<string, string>; metrics?: Record<string, number> } = {}): Run {
  return {
    info: { run_id: id, experiment_id: '1', status: 'FINISHED', lifecycle_stage: 'active' },
    data: {
      params: Object.entries(opts.params ?? {}).map(([key, value]) => ({ key, value })),
      metrics: Object.entries(opts.metrics ?? {}).map(([key, value]) => ({ key, value, step: 0, timestamp: 0 })),
      tags: opts.parent ? [{ key: 'mlflow.parentRunId', value: opts.parent }] : [],
    },
  };
}

describe('sort keys', () => {
  it('quotes keys that are not identifiers', () => {
    expect(quoteKey('rmse')).toBe('rmse');
    expect(quoteKey('val loss')).toBe('`val loss`');
    expect(quoteKey('a.b')).toBe('`a.b`');
    expect(sortKey('metrics', 'val/acc')).toBe('metrics.`val/acc`');
    expect(sortKey('attributes', 'start_time')).toBe('attributes.start_time');
  });
  it('builds and parses order_by', () => {
    expect(orderBy({ key: 'metrics.x', asc: true })).toEqual(['metrics.x ASC']);
    expect(parseSort('metrics.`val loss` DESC')).toEqual({ key: 'metrics.`val loss`', asc: false });
    expect(parseSort('params.a')).toEqual({ key: 'params.a', asc: true });
    expect(parseSort(undefined)).toEqual(DEFAULT_SORT);
    expect(formatSort(DEFAULT_SORT)).toBe('');
    expect(parseSort(formatSort({ key: 'metrics.x', asc: true }))).toEqual({ key: 'metrics.x', asc: true });
  });
  it('toggles direction on the same column, starts descending on a new one', () => {
    expect(toggleSort({ key: 'metrics.x', asc: false }, 'metrics.x')).toEqual({ key: 'metrics.x', asc: true });
    expect(toggleSort({ key: 'metrics.x', asc: true }, 'params.a')).toEqual({ key: 'params.a', asc: false });
  });
});

describe('columnsOf', () => {
  it('collects sorted param and metric keys', () => {
    const cols = columnsOf([run('a', { params: { lr: '1', alpha: '2' }, metrics: { rmse: 1 } }), run('b', { params: { alpha: '3' }, metrics: { mae: 2 } })]);
    expect(cols).toEqual({ params: ['alpha', 'lr'], metrics: ['mae', 'rmse'], tags: [] });
  });
});

describe('foldRuns', () => {
  const runs = [run('p'), run('c1', { parent: 'p' }), run('x'), run('c2', { parent: 'p' }), run('orphan', { parent: 'gone' })];
  it('folds children under their parent', () => {
    const rows = foldRuns(runs, new Set());
    expect(rows.map((r) => [r.run.info.run_id, r.depth, r.children])).toEqual([
      ['p', 0, 2],
      ['x', 0, 0],
      ['orphan', 0, 0],
    ]);
  });
  it('shows children after an expanded parent, in server order', () => {
    const rows = foldRuns(runs, new Set(['p']));
    expect(rows.map((r) => [r.run.info.run_id, r.depth])).toEqual([
      ['p', 0],
      ['c1', 1],
      ['c2', 1],
      ['x', 0],
      ['orphan', 0],
    ]);
    expect(rows[0].expanded).toBe(true);
  });
  it('survives a cycle of parent tags', () => {
    const rows = foldRuns([run('a', { parent: 'b' }), run('b', { parent: 'a' })], new Set(['a', 'b']));
    expect(rows.length).toBeLessThanOrEqual(2);
  });
  it('merges pages without duplicates', () => {
    expect(mergeRuns([run('a'), run('b')], [run('b'), run('c')]).map((r) => r.info.run_id)).toEqual(['a', 'b', 'c']);
  });
});

describe('column prefs', () => {
  it('show params and metrics unless hidden, tags only when shown', () => {
    expect(columnShown(NO_PREFS, 'params.alpha')).toBe(true);
    expect(columnShown(NO_PREFS, 'tags.team')).toBe(false);
    let p = setColumnShown(NO_PREFS, 'params.alpha', false);
    p = setColumnShown(p, 'tags.team', true);
    expect(columnShown(p, 'params.alpha')).toBe(false);
    expect(columnShown(p, 'tags.team')).toBe(true);
    p = setColumnShown(setColumnShown(p, 'params.alpha', true), 'tags.team', false);
    expect(p).toEqual(NO_PREFS);
  });
  it('read back from storage; anything unreadable is no prefs', () => {
    const p = setColumnShown(NO_PREFS, 'metrics.rmse', false);
    expect(parsePrefs(formatPrefs(p))).toEqual(p);
    expect(formatPrefs(NO_PREFS)).toBe('');
    expect(parsePrefs(null)).toEqual(NO_PREFS);
    expect(parsePrefs('{oops')).toEqual(NO_PREFS);
    expect(parsePrefs('{"hidden": [1, "params.x"]}')).toEqual({ hidden: ['params.x'], shown: [] });
  });
});
