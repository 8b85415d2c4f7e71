import { describe, expect, it } from 'vitest';
import { nearEnd, scrollToRow, visibleWindow } from './virtual';

describe('visibleWindow', () => {
  it('renders the rows in view plus overscan, with spacers for the rest', () => {
    const w = visibleWindow(3200, 640, 32, 10_000, 8);
    expect(w.start).toBe(92);
    expect(w.end).toBe(100 + 21 + 8);
    expect(w.padTop).toBe(92 * 32);
    expect(w.padTop + (w.end - w.start) * 32 + w.padBottom).toBe(10_000 * 32);
  });
  it('clamps at both ends', () => {
    expect(visibleWindow(0, 640, 32, 5)).toEqual({ start: 0, end: 5, padTop: 0, padBottom: 0 });
    const w = visibleWindow(1e9, 640, 32, 100);
    expect(w.end).toBe(100);
    expect(w.padBottom).toBe(0);
    expect(visibleWindow(-50, 640, 32, 0)).toEqual({ start: 0, end: 0, padTop: 0, padBottom: 0 });
  });
  it('never renders more than a screenful plus overscan, however many rows', () => {
    for (const top of [0, 123, 50_000, 3_199_968]) {
      const w = visibleWindow(top, 800, 32, 100_000, 8);
      expect(w.end - w.start).toBeLessThanOrEqual(Math.ceil(800 / 32) + 1 + 16);
    }
  });
});

describe('scrolling helpers', () => {
  it('knows when the end is near', () => {
    expect(nearEnd(0, 640, 32, 100)).toBe(false);
    expect(nearEnd(2600, 640, 32, 100)).toBe(true);
  });
  it('scrolls a row into view only when needed', () => {
    expect(scrollToRow(5, 0, 320, 32)).toBeNull();
    expect(scrollToRow(20, 0, 320, 32)).toBe(20 * 32 + 32 - 320);
    expect(scrollToRow(2, 320, 320, 32)).toBe(64);
  });
});
