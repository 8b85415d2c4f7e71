import { describe, expect, it } from 'vitest';
import { PREVIEW_LIMIT, locate, prettyJson, previewKind, previewRefusal } from './artifact';
import { alignSeries, downsample, logScalable, parseDownsampled, pointsForWidth, smooth, stepRange, toSeries, xValues } from './series';

describe('toSeries', () => {
  it('orders by step and drops non-finite values', () => {
    const s = toSeries([
      { step: 2, value: 0.5, timestamp: 3 },
      { step: 0, value: 1, timestamp: 1 },
      { step: 1, value: NaN, timestamp: 2 },
    ]);
    expect(s).toEqual({ x: [0, 2], y: [1, 0.5] });
  });
});

describe('downsample', () => {
  const n = 100_000;
  const x = Array.from({ length: n }, (_, i) => i);
  const y = x.map((i) => Math.sin(i / 500));
  y[54_321] = 40; // a spike
  y[77_777] = -40;

  it('keeps small series whole', () => {
    expect(downsample([1, 2, 3], [4, 5, 6], 100)).toEqual({ x: [1, 2, 3], y: [4, 5, 6] });
  });
  it('bounds the points, keeps extremes, the first and the last point, in x order', () => {
    const d = downsample(x, y, 2000);
    expect(d.x.length).toBeLessThanOrEqual(2000);
    expect(d.x.length).toBeGreaterThan(1000);
    expect(d.y).toContain(40);
    expect(d.y).toContain(-40);
    expect(d.x[0]).toBe(0);
    expect(d.x[d.x.length - 1]).toBe(n - 1);
    for (let i = 1; i < d.x.length; i++) expect(d.x[i]).toBeGreaterThan(d.x[i - 1]);
  });
  it('knows when log scale works', () => {
    expect(logScalable([1, 2])).toBe(true);
    expect(logScalable([0, 2])).toBe(false);
    expect(logScalable([])).toBe(false);
  });
});

describe('artifact previews', () => {
  it.each([
    ['model/MLmodel', 'text'],
    ['model/requirements.txt', 'text'],
    ['conf.YAML', 'text'],
    ['data.csv', 'text'],
    ['metrics.json', 'json'],
    ['plot.PNG', 'image'],
    ['photo.jpeg', 'image'],
    ['model.pkl', 'none'],
  ])('%s previews as %s', (path, kind) => expect(previewKind(path)).toBe(kind));
  it('refuses big or unknown files', () => {
    expect(previewRefusal('a.txt', 10)).toBeNull();
    expect(previewRefusal('a.txt', PREVIEW_LIMIT + 1)).toMatch(/Too large/);
    expect(previewRefusal('model.pkl', 10)).toMatch(/No preview/);
  });
  it('pretty-prints JSON and leaves other text alone', () => {
    expect(prettyJson('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(prettyJson('{oops')).toBe('{oops');
  });
});

describe('downsampled series from the server', () => {
  it('turns non-finite strings into numbers and keeps the total', () => {
    const d = parseDownsampled({ total_points: 9, steps: [0, 1, 2, 3], timestamps: [5, 6, 7, 8], values: [1, 'NaN', 'Infinity', '-Infinity'] });
    expect(d.steps).toEqual([0, 1, 2, 3]);
    expect(d.values[0]).toBe(1);
    expect(Number.isNaN(d.values[1])).toBe(true);
    expect(d.values.slice(2)).toEqual([Infinity, -Infinity]);
    expect(d.total).toBe(9);
    expect(parseDownsampled({})).toEqual({ steps: [], timestamps: [], values: [], total: 0 });
  });
  it('asks for two points per pixel within the server bounds', () => {
    expect(pointsForWidth(600)).toBe(1200);
    expect(pointsForWidth(1)).toBe(4);
    expect(pointsForWidth(1e6)).toBe(10_000);
    expect(pointsForWidth(NaN)).toBe(1600);
  });
});

describe('x axis', () => {
  const s = { steps: [0, 10, 20], timestamps: [1_000, 3_000, 6_000] };
  it('is the step, wall time in seconds, or seconds since the run started', () => {
    expect(xValues('step', s)).toEqual([0, 10, 20]);
    expect(xValues('wall', s)).toEqual([1, 3, 6]);
    expect(xValues('relative', s, 0)).toEqual([1, 3, 6]);
    expect(xValues('relative', s)).toEqual([0, 2, 5]);
  });
  it('maps a zoom selection back to the step range it covers', () => {
    const series = [
      { x: [1, 3, 6], steps: [0, 10, 20] },
      { x: [2, 4], steps: [5, 15] },
    ];
    expect(stepRange(series, 2, 4)).toEqual({ start: 5, end: 15 });
    expect(stepRange(series, 2.5, 3.5)).toEqual({ start: 10, end: 10 });
    expect(stepRange(series, 7, 9)).toBeUndefined();
  });
});

describe('smooth', () => {
  it('is the identity at weight 0', () => {
    expect(smooth([1, 5, 2], 0)).toEqual([1, 5, 2]);
  });
  it('is debiased: a constant stays constant', () => {
    for (const v of smooth([3, 3, 3, 3], 0.9)) expect(v).toBeCloseTo(3, 10);
  });
  it('damps a spike and passes non-finite values through', () => {
    const out = smooth([0, 0, 10, 0, NaN, 0], 0.5);
    expect(out[2]).toBeLessThan(10);
    expect(out[2]).toBeGreaterThan(0);
    expect(Number.isNaN(out[4])).toBe(true);
    expect(out[5]).toBeLessThan(out[3]);
  });
});

describe('alignSeries', () => {
  it('puts several series on one sorted x with nulls where a series has no point', () => {
    expect(alignSeries([{ x: [0, 2], y: [1, 3] }, { x: [1, 2], y: [5, NaN] }])).toEqual([
      [0, 1, 2],
      [1, null, 3],
      [null, 5, null],
    ]);
  });
});

describe('logged models in the artifact tree', () => {
  const models = [{ name: 'model', modelId: 'm-1' }];
  it('sends a path under a logged model to that model', () => {
    expect(locate('model', models)).toEqual({ model: models[0], rel: '' });
    expect(locate('model/MLmodel', models)).toEqual({ model: models[0], rel: 'MLmodel' });
    expect(locate('model/sub/x.pkl', models)).toEqual({ model: models[0], rel: 'sub/x.pkl' });
  });
  it('keeps other paths in the run', () => {
    expect(locate('models/x', models)).toEqual({ rel: 'models/x' });
    expect(locate('notes.txt', [])).toEqual({ rel: 'notes.txt' });
  });
});
