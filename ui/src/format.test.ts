import { describe, expect, it } from 'vitest';
import { basename, formatBytes, formatDuration, formatTime, formatValue, runDuration } from './format';

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [850, '850ms'],
    [12_340, '12.3s'],
    [270_000, '4.5min'],
    [7_200_000, '2.0h'],
    [3 * 86_400_000, '3.0d'],
    [-5, ''],
    [NaN, ''],
    [null, ''],
  ])('%s ms is %s', (ms, text) => expect(formatDuration(ms as number)).toBe(text));
});

describe('runDuration', () => {
  it('is end minus start, up to now while running, empty when unknown', () => {
    expect(runDuration(1000, 3500, 'FINISHED')).toBe('2.5s');
    expect(runDuration(1000, undefined, 'RUNNING', 61_000)).toBe('1.0min');
    expect(runDuration(1000, undefined, 'FAILED')).toBe('');
    expect(runDuration(undefined, 5)).toBe('');
    expect(runDuration('1000', '2000')).toBe('1.0s');
  });
});

describe('formatValue', () => {
  it.each([
    [3, '3'],
    [0.123456789, '0.123457'],
    [1234.56789, '1234.57'],
    [0.00001234, '1.2340e-5'],
    [12345678901.5, '1.2346e+10'],
    [NaN, 'NaN'],
    [undefined, ''],
  ])('%s is %s', (v, text) => expect(formatValue(v as number)).toBe(text));
});

describe('other formats', () => {
  it('formats times, sizes and sources', () => {
    expect(formatTime(0)).toBe('');
    expect(formatTime(new Date(2024, 0, 2, 3, 4, 5).getTime())).toBe('2024-01-02 03:04:05');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3 * 1024 * 1024)).toBe('3.0 MiB');
    expect(basename('/home/me/train.py')).toBe('train.py');
    expect(basename('C:\\work\\fit.py')).toBe('fit.py');
    expect(basename(undefined)).toBe('');
  });
});
