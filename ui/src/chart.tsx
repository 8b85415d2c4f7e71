// Metric line charts (uPlot) drawn from the server's downsampled series: one series per
// run, x as step, wall time or relative time, log scale, smoothing, hover values, and
// drag-to-zoom that fetches the selected step range at full resolution.

import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { get } from './api';
import { alignSeries, logScalable, parseDownsampled, pointsForWidth, smooth, stepRange, X_MODES, xValues, type Downsampled, type DownsampledResponse, type XMode } from './series';
import { ErrorBox, Loading, message } from './ui';

/** A run drawn in a chart. */
export interface ChartRun {
  runId: string;
  label: string;
  /** The run's start (ms), the origin of relative time. */
  startTime?: number;
  /** Its colour's index, so a run keeps its colour across charts. */
  color?: number;
}

/** Settings shared by every chart of a page. */
export interface ChartSettings {
  x: XMode;
  /** EMA weight in [0, 1). */
  smoothing: number;
}

export const DEFAULT_SETTINGS: ChartSettings = { x: 'step', smoothing: 0 };

const HEIGHT = 220;
const PALETTE = ['--accent', '#2563eb', '#16a34a', '#9333ea', '#db2777', '#0891b2', '#ca8a04', '#4b5563'];

export interface StepRange {
  start: number;
  end: number;
}

/** One metric of one run, at most `maxPoints` points of the step range (all of it when absent). */
export async function downsampledHistory(runId: string, key: string, maxPoints: number, range?: StepRange): Promise<Downsampled> {
  const r = await get<DownsampledResponse>('ferroflow/metrics/get-history-downsampled', {
    run_id: runId,
    metric_key: key,
    max_points: maxPoints,
    start_step: range?.start,
    end_step: range?.end,
  });
  return parseDownsampled(r);
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/** The colour of the `i`-th run of a page. */
export function runColor(i: number): string {
  const c = PALETTE[i % PALETTE.length];
  return c.startsWith('--') ? cssVar(c) : c;
}

/** The page-wide chart settings: x axis and smoothing. */
export function ChartControls({ settings, onChange }: { settings: ChartSettings; onChange: (s: ChartSettings) => void }) {
  return (
    <div class="row chart-controls">
      <label>
        X axis{' '}
        <select aria-label="X axis" value={settings.x} onChange={(e) => onChange({ ...settings, x: e.currentTarget.value as XMode })}>
          {X_MODES.map((m) => (
            <option value={m.mode}>{m.label}</option>
          ))}
        </select>
      </label>
      <label>
        Smoothing{' '}
        <input
          type="range"
          aria-label="Smoothing"
          min={0}
          max={0.99}
          step={0.01}
          value={settings.smoothing}
          onInput={(e) => onChange({ ...settings, smoothing: Number(e.currentTarget.value) })}
        />{' '}
        <span class="muted small mono">{settings.smoothing.toFixed(2)}</span>
      </label>
    </div>
  );
}

interface Loaded {
  series?: Downsampled[];
  /** performance.now() when the data arrived. */
  arrived?: number;
  error?: string;
}

/**
 * One metric over one or more runs. `stamp` changes when new points may exist (a live
 * run): the chart then fetches again, keeping its zoom.
 */
export function MetricChart({ metricKey, runs, settings, stamp }: { metricKey: string; runs: ChartRun[]; settings: ChartSettings; stamp?: string }) {
  const card = useRef<HTMLDivElement>(null);
  const box = useRef<HTMLDivElement>(null);
  const [log, setLog] = useState(false);
  const [zoom, setZoom] = useState<StepRange>();
  const [loaded, setLoaded] = useState<Loaded>({});
  const seq = useRef(0);
  const ids = runs.map((r) => r.runId).join();

  useEffect(() => {
    const mine = ++seq.current;
    const maxPoints = pointsForWidth((card.current?.clientWidth ?? 400) - 40);
    Promise.all(runs.map((r) => downsampledHistory(r.runId, metricKey, maxPoints, zoom))).then(
      (series) => mine === seq.current && setLoaded({ series, arrived: performance.now() }),
      (e) => mine === seq.current && setLoaded((l) => ({ ...l, error: message(e) })),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ids, metricKey, zoom?.start, zoom?.end, stamp]);

  const series = loaded.series;
  const drawn = series?.map((s, i) => ({
    x: xValues(settings.x, s, runs[i]?.startTime),
    y: smooth(s.values, settings.smoothing),
    steps: s.steps,
  }));
  const canLog = !!drawn && logScalable(drawn.flatMap((d) => d.y.filter((v) => Number.isFinite(v))));
  const points = series?.reduce((n, s) => n + s.steps.length, 0) ?? 0;
  const total = series?.reduce((n, s) => n + s.total, 0) ?? 0;

  useEffect(() => {
    const el = box.current;
    if (!el || !drawn || points === 0) return;
    const data = alignSeries(drawn);
    const axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--grid') }, ticks: { stroke: cssVar('--grid') } };
    const arrived = loaded.arrived ?? performance.now();
    let first = true;
    const plot = new uPlot(
      {
        width: Math.max(200, el.clientWidth),
        height: HEIGHT,
        scales: { x: { time: settings.x === 'wall' }, y: { distr: log && canLog ? 3 : 1 } },
        legend: { live: true },
        cursor: { drag: { x: true, y: false, setScale: false } },
        series: [
          { label: X_MODES.find((m) => m.mode === settings.x)?.label ?? 'x' },
          ...runs.map((r, i) => ({
            label: runs.length === 1 ? metricKey : r.label,
            stroke: runColor(r.color ?? i),
            width: 1.5,
            spanGaps: true,
            points: { show: data[0].length <= 60 },
          })),
        ],
        axes: [axis, axis],
        hooks: {
          draw: [
            () => {
              if (!first) return;
              first = false;
              el.dataset.drawMs = String(Math.round(performance.now() - arrived));
            },
          ],
          setSelect: [
            (u) => {
              if (u.select.width < 3) return;
              const x0 = u.posToVal(u.select.left, 'x');
              const x1 = u.posToVal(u.select.left + u.select.width, 'x');
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              const r = stepRange(drawn, x0, x1);
              if (r) setZoom(r);
            },
          ],
        },
      },
      data as uPlot.AlignedData,
      el,
    );
    el.dataset.points = String(points);
    el.dataset.total = String(total);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height: HEIGHT }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [series, log, settings.x, settings.smoothing]);

  return (
    <div class="chart-card" data-metric={metricKey} ref={card}>
      <div class="row">
        <strong>{metricKey}</strong>
        <label class="check small">
          <input type="checkbox" checked={log} disabled={!canLog} title={canLog ? '' : 'Log scale needs all values > 0'} onChange={(e) => setLog(e.currentTarget.checked)} />
          log scale
        </label>
        {series && (
          <span class="muted small" data-testid="chart-points">
            {points === total ? `${total} points` : `${points} of ${total} points`}
            {zoom ? ` · steps ${zoom.start}–${zoom.end}` : ''}
          </span>
        )}
        {zoom && (
          <button class="link small" onClick={() => setZoom(undefined)}>
            Reset zoom
          </button>
        )}
      </div>
      {loaded.error ? (
        <ErrorBox error={loaded.error} />
      ) : !series ? (
        <Loading what={`${metricKey} history`} />
      ) : points === 0 ? (
        <p class="muted">No values to draw.</p>
      ) : (
        <div class="chart" ref={box} title="Drag to zoom into a step range" />
      )}
    </div>
  );
}
