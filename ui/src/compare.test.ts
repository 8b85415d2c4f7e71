import { describe, expect, it } from 'vitest';
import type { Run } from './api';
import { diffRows, fieldsOf, fieldValue, formatIds, parseIds, scaleDim } from './compare';

function run(id: string, params: Record<string, string>, metrics: Record<string, number>): Run {
  return {
    info: { run_id: id, experiment_id: '1', status: 'FINISHED', lifecycle_stage: 'active' },
    data: {
      params: Object.entries(params).map(([key, value]) => ({ key, value })),
      metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, step: 0, timestamp: 0 })),
    },
  };
}

describe('parseIds', () => {
  it('reads MLflow JSON arrays and comma lists, without duplicates', () => {
    expect(parseIds('["a","b","a"]')).toEqual(['a', 'b']);
    expect(parseIds('a, b,,c')).toEqual(['a', 'b', 'c']);
    expect(parseIds('[a,b]')).toEqual(['a', 'b']);
    expect(parseIds(undefined)).toEqual([]);
    expect(parseIds(formatIds(['x', 'y']))).toEqual(['x', 'y']);
  });
});

describe('diffRows', () => {
  const runs = [run('a', { alpha: '0.5', seed: '1' }, { rmse: 0.7 }), run('b', { alpha: '0.1', seed: '1' }, { rmse: 0.7, mae: 1 })];
  it('marks the rows whose values differ, a missing value included', () => {
    expect(diffRows(runs, 'params')).toEqual([
      { key: 'alpha', values: ['0.5', '0.1'], differs: true },
      { key: 'seed', values: ['1', '1'], differs: false },
    ]);
    expect(diffRows(runs, 'metrics')).toEqual([
      { key: 'mae', values: [undefined, '1'], differs: true },
      { key: 'rmse', values: ['0.7', '0.7'], differs: false },
    ]);
  });
  it('lists params before metrics as fields', () => {
    expect(fieldsOf(runs)).toEqual(['params.alpha', 'params.seed', 'metrics.mae', 'metrics.rmse']);
    expect(fieldValue(runs[0], 'params.alpha')).toBe('0.5');
    expect(fieldValue(runs[1], 'metrics.mae')).toBe(1);
    expect(fieldValue(runs[0], 'metrics.mae')).toBeUndefined();
  });
});

describe('scaleDim', () => {
  it('scales numbers linearly between min and max', () => {
    const s = scaleDim(['0.1', 0.5, '0.9', undefined]);
    expect(s.numeric).toBe(true);
    expect(s.pos[0]).toBeCloseTo(0);
    expect(s.pos[1]).toBeCloseTo(0.5);
    expect(s.pos[2]).toBeCloseTo(1);
    expect(s.pos[3]).toBeUndefined();
    expect(s.ticks.map((t) => t.pos)).toEqual([0, 0.5, 1]);
  });
  it('puts a single value in the middle', () => {
    expect(scaleDim([3, 3]).pos).toEqual([0.5, 0.5]);
  });
  it('spaces categories evenly in sorted order', () => {
    const s = scaleDim(['sgd', 'adam', 'sgd', 'rmsprop']);
    expect(s.numeric).toBe(false);
    expect(s.pos).toEqual([1, 0, 1, 0.5]);
    expect(s.ticks.map((t) => t.label)).toEqual(['adam', 'rmsprop', 'sgd']);
  });
});
