import { describe, expect, it } from 'vitest';
import { PREVIEW_LIMIT, prettyJson, previewKind, previewRefusal } from './artifact';
import { downsample, logScalable, toSeries } from './series';

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
