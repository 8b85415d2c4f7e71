// One metric's history as a uPlot line chart (x = step), with a log-scale toggle.

import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { get, type MetricValue } from './api';
import { downsample, logScalable, toSeries } from './series';
import { ErrorBox, Loading, useLoad } from './ui';

const PAGE = 25_000;
/** Points read per metric; beyond this the chart says so (server-side downsampling is the next step). */
const MAX_POINTS = 200_000;
/** Points drawn: about two per pixel column of a wide chart. */
const DRAW_POINTS = 4_000;

export async function metricHistory(runId: string, key: string): Promise<{ points: MetricValue[]; capped: boolean }> {
  const points: MetricValue[] = [];
  let token: string | undefined;
  do {
    const r = await get<{ metrics?: MetricValue[]; next_page_token?: string }>('metrics/get-history', {
      run_id: runId,
      metric_key: key,
      max_results: PAGE,
      page_token: token,
    });
    points.push(...(r.metrics ?? []));
    token = r.next_page_token || undefined;
  } while (token && points.length < MAX_POINTS);
  return { points, capped: !!token };
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

export function MetricChart({ runId, metricKey }: { runId: string; metricKey: string }) {
  const history = useLoad(() => metricHistory(runId, metricKey), [runId, metricKey]);
  const [log, setLog] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const series = history.data ? toSeries(history.data.points) : undefined;
  const canLog = series ? logScalable(series.y) : false;

  useEffect(() => {
    const el = box.current;
    if (!el || !series || series.x.length === 0) return;
    const { x, y } = downsample(series.x, series.y, DRAW_POINTS);
    const axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--grid') }, ticks: { stroke: cssVar('--grid') } };
    const started = performance.now();
    const plot = new uPlot(
      {
        width: Math.max(200, el.clientWidth),
        height: 220,
        scales: { x: { time: false }, y: { distr: log && canLog ? 3 : 1 } },
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
        series: [{ label: 'step' }, { label: metricKey, stroke: cssVar('--accent'), width: 1.5, points: { show: x.length <= 60 } }],
        axes: [axis, axis],
      },
      [x, y],
      el,
    );
    el.dataset.drawMs = String(Math.round(performance.now() - started));
    el.dataset.points = String(x.length);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height: 220 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [history.data, log]);

  return (
    <div class="chart-card" data-metric={metricKey}>
      <div class="row">
        <strong>{metricKey}</strong>
        <label class="check small">
          <input type="checkbox" checked={log} disabled={!canLog} title={canLog ? '' : 'Log scale needs all values > 0'} onChange={(e) => setLog(e.currentTarget.checked)} />
          log scale
        </label>
        {series && <span class="muted small">{series.x.length} points{history.data?.capped ? ` (first ${MAX_POINTS})` : ''}</span>}
      </div>
      {history.error ? (
        <ErrorBox error={history.error} />
      ) : !series ? (
        <Loading what={`${metricKey} history`} />
      ) : series.x.length === 0 ? (
        <p class="muted">No finite values to draw.</p>
      ) : (
        <div class="chart" ref={box} />
      )}
    </div>
  );
}
