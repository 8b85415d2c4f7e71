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

// ---- server-side downsampled series (ferroflow/metrics/get-history-downsampled) ----

/** The route's answer: columns in step order; non-finite values come as strings. */
export interface DownsampledResponse {
  metric_key?: string;
  total_points?: number;
  steps?: number[];
  timestamps?: number[];
  values?: (number | string)[];
}

export interface Downsampled {
  steps: number[];
  timestamps: number[];
  values: number[];
  /** Points in the requested range before downsampling. */
  total: number;
}

/** The route's answer with `"NaN"`/`"Infinity"`/`"-Infinity"` turned into numbers. */
export function parseDownsampled(r: DownsampledResponse): Downsampled {
  const values = (r.values ?? []).map((v) => (typeof v === 'number' ? v : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : NaN));
  return { steps: r.steps ?? [], timestamps: r.timestamps ?? [], values, total: r.total_points ?? values.length };
}

/** The server's bounds on `max_points`. */
export const MIN_REQUEST_POINTS = 4;
export const MAX_REQUEST_POINTS = 10_000;

/** Points to ask for a chart `width` pixels wide: two per pixel column, within the server's bounds. */
export function pointsForWidth(width: number): number {
  const n = Math.round((Number.isFinite(width) && width > 0 ? width : 800) * 2);
  return Math.max(MIN_REQUEST_POINTS, Math.min(MAX_REQUEST_POINTS, n));
}

/** What the x axis shows. */
export type XMode = 'step' | 'wall' | 'relative';
export const X_MODES: { mode: XMode; label: string }[] = [
  { mode: 'step', label: 'Step' },
  { mode: 'wall', label: 'Wall time' },
  { mode: 'relative', label: 'Relative time' },
];

/**
 * The x values of a series: steps, wall time in seconds since the epoch (uPlot's time
 * unit), or seconds since `start` (the run's start; its first point when unknown).
 */
export function xValues(mode: XMode, s: Pick<Downsampled, 'steps' | 'timestamps'>, start?: number): number[] {
  if (mode === 'step') return s.steps;
  if (mode === 'wall') return s.timestamps.map((t) => t / 1000);
  const origin = start ?? (s.timestamps.length ? Math.min(...s.timestamps) : 0);
  return s.timestamps.map((t) => (t - origin) / 1000);
}

/**
 * The step range `[start, end]` of the points whose x lies in `[x0, x1]` (a zoom
 * selection), over several series; undefined when none does.
 */
export function stepRange(series: { x: number[]; steps: number[] }[], x0: number, x1: number): { start: number; end: number } | undefined {
  let start = Infinity;
  let end = -Infinity;
  for (const { x, steps } of series) {
    for (let i = 0; i < x.length; i++) {
      if (x[i] >= x0 && x[i] <= x1) {
        start = Math.min(start, steps[i]);
        end = Math.max(end, steps[i]);
      }
    }
  }
  return start <= end ? { start, end } : undefined;
}

/**
 * Exponential moving average with weight `w` in [0, 1) (0 = none), debiased so the
 * start is not pulled towards zero. Non-finite values pass through and do not count.
 */
export function smooth(y: number[], w: number): number[] {
  if (!(w > 0)) return y;
  const weight = Math.min(w, 0.999);
  let acc = 0;
  let n = 0;
  return y.map((v) => {
    if (!Number.isFinite(v)) return v;
    acc = acc * weight + (1 - weight) * v;
    n++;
    return acc / (1 - Math.pow(weight, n));
  });
}

/**
 * Several (x, y) series on one shared, sorted x: uPlot's data layout. A series has
 * `null` where another has a point and it has none (drawn across with spanGaps).
 */
export function alignSeries(series: { x: number[]; y: number[] }[]): [number[], ...(number | null)[][]] {
  const xs = [...new Set(series.flatMap((s) => s.x))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = series.map((s) => {
    const col: (number | null)[] = new Array(xs.length).fill(null);
    s.x.forEach((x, i) => {
      const v = s.y[i];
      col[index.get(x)!] = Number.isFinite(v) ? v : null;
    });
    return col;
  });
  return [xs, ...ys];
}
