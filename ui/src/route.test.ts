import { describe, expect, it } from 'vitest';
import { formatRoute, href, parseRoute, type Route } from './route';

describe('parseRoute', () => {
  const cases: [string, Route][] = [
    ['', { page: 'experiments', query: {} }],
    ['#/', { page: 'experiments', query: {} }],
    ['#/experiments', { page: 'experiments', query: {} }],
    ['#/experiments/12', { page: 'runs', experimentId: '12', query: {} }],
    ['#/experiments/12?filter=metrics.x%20%3C%201', { page: 'runs', experimentId: '12', query: { filter: 'metrics.x < 1' } }],
    ['#/experiments/1/runs/abc', { page: 'run', experimentId: '1', runId: 'abc', artifactPath: '', query: {} }],
    ['#/experiments/1/runs/abc/artifacts/model/MLmodel', { page: 'run', experimentId: '1', runId: 'abc', artifactPath: 'model/MLmodel', query: {} }],
    ['#/models', { page: 'models', query: {} }],
    ['#/models/wine%20model', { page: 'model', name: 'wine model', query: {} }],
    ['#/models/wine/versions/3', { page: 'version', name: 'wine', version: '3', query: {} }],
    ['#/admin', { page: 'admin', query: {} }],
    ['#/admin/x', { page: 'notfound', path: '/admin/x', query: {} }],
    ['#/nope', { page: 'notfound', path: '/nope', query: {} }],
    ['#/experiments/1/runs', { page: 'notfound', path: '/experiments/1/runs', query: {} }],
    ['#/models/%E0%A4%A', { page: 'model', name: '%E0%A4%A', query: {} }],
  ];
  for (const [hash, route] of cases) {
    it(`parses ${hash || '(empty)'}`, () => expect(parseRoute(hash)).toEqual(route));
  }
});

describe('formatRoute', () => {
  it('round-trips every page', () => {
    const routes: Route[] = [
      { page: 'experiments', query: { q: 'wine' } },
      { page: 'runs', experimentId: '7', query: { filter: "params.a = 'x y'", order: 'metrics.`m 1` ASC' } },
      { page: 'run', experimentId: '7', runId: 'r1', artifactPath: 'plots/a b.png', query: {} },
      { page: 'model', name: 'a/b?c#d', query: {} },
      { page: 'version', name: 'm', version: '10', query: {} },
      { page: 'admin', query: {} },
    ];
    for (const r of routes) expect(parseRoute(formatRoute(r))).toEqual(r);
  });
  it('keeps MLflow URL shapes and drops empty query values', () => {
    expect(href.run('1', 'abc')).toBe('#/experiments/1/runs/abc');
    expect(href.version('my model', 2)).toBe('#/models/my%20model/versions/2');
    expect(href.runs('3', { filter: '', order: '' })).toBe('#/experiments/3');
    expect(href.admin()).toBe('#/admin');
  });
});

describe('compare-runs', () => {
  it('parses MLflow compare URLs and round-trips the shorthand', () => {
    const r = parseRoute('#/compare-runs?runs=["a","b"]&experiments=["1"]');
    expect(r).toEqual({ page: 'compare', query: { runs: '["a","b"]', experiments: '["1"]' } });
    expect(parseRoute(href.compare(['a', 'b'], ['1']))).toEqual(r);
  });
});
