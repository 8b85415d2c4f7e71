// Metric series for charts: sorting by step and bounded downsampling that keeps the
// shape (each bucket's minimum and maximum, plus the first and last point).

export interface Point {
  step: number;
  value: number;
  timestamp: number;
}

/** Points by step (then time), non-finite values dropped (a chart cannot draw them). */
export function toSeries(points: Point[]): { x: number[]; y: number[] } {
  const sorted = points.filter((p) => Number.isFinite(p.value)).sort((a, b) => a.step - b.step || a.timestamp - b.timestamp);
  return { x: sorted.map((p) => p.step), y: sorted.map((p) => p.value) };
}

/**
 * At most about `max` points of (x, y): x is split into `max / 2` buckets of equal
 * count, and each contributes its minimum and maximum in x order. The first and last
 * points are always kept, so spikes and the final value survive.
 */
export function downsample(x: number[], y: number[], max: number): { x: number[]; y: number[] } {
  const n = x.length;
  if (n <= max || max < 4) return { x, y };
  const buckets = Math.floor((max - 2) / 2);
  const size = (n - 2) / buckets;
  const ox = [x[0]];
  const oy = [y[0]];
  for (let b = 0; b < buckets; b++) {
    const from = 1 + Math.floor(b * size);
    const to = Math.min(n - 1, 1 + Math.floor((b + 1) * size));
    if (from >= to) continue;
    let lo = from;
    let hi = from;
    for (let i = from; i < to; i++) {
      if (y[i] < y[lo]) lo = i;
      if (y[i] > y[hi]) hi = i;
    }
    for (const i of lo === hi ? [lo] : lo < hi ? [lo, hi] : [hi, lo]) {
      ox.push(x[i]);
      oy.push(y[i]);
    }
  }
  ox.push(x[n - 1]);
  oy.push(y[n - 1]);
  return { x: ox, y: oy };
}

/** Whether a log-scale y axis can draw the values (all positive). */
export function logScalable(y: number[]): boolean {
  return y.length > 0 && y.every((v) => v > 0);
}
