// Compare runs: overlaid metric charts, a scatter of any two fields, parallel
// coordinates, and a diff table of params and last metric values.

import { useMemo, useState } from 'preact/hooks';
import { get, type Run } from '../api';
import { ChartControls, DEFAULT_SETTINGS, MetricChart, runColor, type ChartSettings } from '../chart';
import { diffRows, fieldsOf, fieldValue, parseIds, scaleDim, type DiffRow, type Field } from '../compare';
import { formatValue } from '../format';
import { href, type Query } from '../route';
import { Show, useLoad, usePoll } from '../ui';
import { LIVE_REFRESH_MS } from './run';

/** Dimensions the parallel coordinates start with. */
const PARALLEL_DEFAULT = 8;

export function ComparePage({ query }: { query: Query }) {
  const ids = parseIds(query.runs);
  const experiments = parseIds(query.experiments);
  const runs = useLoad(() => Promise.all(ids.map((id) => get<{ run: Run }>('runs/get', { run_id: id }).then((r) => r.run))), [query.runs]);
  usePoll(!!runs.data?.some((r) => r.info.status === 'RUNNING'), LIVE_REFRESH_MS, runs.reload);
  const experimentId = experiments[0] ?? runs.data?.[0]?.info.experiment_id;
  return (
    <section class="compare-page">
      <div class="crumbs">
        <a href={href.experiments()}>Experiments</a> /{' '}
        {experimentId && (
          <>
            <a href={href.runs(experimentId)}>experiment {experimentId}</a> /
          </>
        )}
      </div>
      {ids.length === 0 ? (
        <div class="notice" role="alert">
          No runs to compare. Select two or more runs in an experiment's runs table and click <strong>Compare</strong>.
        </div>
      ) : (
        <Show load={runs} what={`${ids.length} runs`}>
          {(rs) => <CompareView runs={rs} />}
        </Show>
      )}
    </section>
  );
}

function name(r: Run): string {
  return r.info.run_name || r.info.run_id.slice(0, 8);
}

function CompareView({ runs }: { runs: Run[] }) {
  const [settings, setSettings] = useState<ChartSettings>(DEFAULT_SETTINGS);
  const metricKeys = useMemo(() => [...new Set(runs.flatMap((r) => (r.data.metrics ?? []).map((m) => m.key)))].sort((a, b) => a.localeCompare(b)), [runs]);
  const fields = useMemo(() => fieldsOf(runs), [runs]);
  return (
    <>
      <div class="page-head">
        <h1>Comparing {runs.length} runs</h1>
      </div>
      <ul class="run-legend">
        {runs.map((r, i) => (
          <li key={r.info.run_id}>
            <span class="swatch" style={{ background: runColor(i) }} />
            <a href={href.run(r.info.experiment_id, r.info.run_id)}>{name(r)}</a> <span class={`status ${r.info.status}`}>{r.info.status}</span>
          </li>
        ))}
      </ul>

      <h2>Metrics ({metricKeys.length})</h2>
      {metricKeys.length ? (
        <>
          <ChartControls settings={settings} onChange={setSettings} />
          <div class="charts" data-testid="compare-charts">
            {metricKeys.map((key) => {
              const having = runs.map((r, i) => ({ r, i, m: r.data.metrics?.find((m) => m.key === key) })).filter((x) => x.m);
              return (
                <MetricChart
                  key={key}
                  metricKey={key}
                  runs={having.map(({ r, i }) => ({ runId: r.info.run_id, label: name(r), startTime: r.info.start_time, color: i }))}
                  settings={settings}
                  stamp={having.map(({ m }) => `${m!.step}:${m!.timestamp}:${m!.value}`).join()}
                />
              );
            })}
          </div>
        </>
      ) : (
        <p class="muted">These runs have no metrics.</p>
      )}

      {fields.length > 0 && (
        <>
          <h2>Scatter</h2>
          <Scatter runs={runs} fields={fields} />
          <h2>Parallel coordinates</h2>
          <Parallel runs={runs} fields={fields} />
        </>
      )}

      <h2>Differences</h2>
      <DiffTable runs={runs} />
    </>
  );
}

function FieldSelect({ label, value, fields, onChange }: { label: string; value: Field; fields: Field[]; onChange: (f: Field) => void }) {
  return (
    <label>
      {label}{' '}
      <select aria-label={label} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        {fields.map((f) => (
          <option value={f}>{f}</option>
        ))}
      </select>
    </label>
  );
}

const W = 520;
const H = 320;
const M = { left: 64, right: 16, top: 16, bottom: 40 };
/** Points sit inside the axes' ends, not on them. */
const inset = (p: number) => 0.05 + 0.9 * p;

function Scatter({ runs, fields }: { runs: Run[]; fields: Field[] }) {
  const metrics = fields.filter((f) => f.startsWith('metrics.'));
  const [fx, setFx] = useState<Field>(fields[0]);
  const [fy, setFy] = useState<Field>(metrics[0] ?? fields[Math.min(1, fields.length - 1)]);
  const sx = scaleDim(runs.map((r) => fieldValue(r, fx)));
  const sy = scaleDim(runs.map((r) => fieldValue(r, fy)));
  const px = (p: number) => M.left + inset(p) * (W - M.left - M.right);
  const py = (p: number) => H - M.bottom - inset(p) * (H - M.top - M.bottom);
  return (
    <div class="figure">
      <div class="row">
        <FieldSelect label="Scatter x" value={fx} fields={fields} onChange={setFx} />
        <FieldSelect label="Scatter y" value={fy} fields={fields} onChange={setFy} />
      </div>
      <svg class="plot" width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${fy} against ${fx}`} data-testid="scatter">
        <line class="axis" x1={M.left} y1={H - M.bottom} x2={W - M.right} y2={H - M.bottom} />
        <line class="axis" x1={M.left} y1={M.top} x2={M.left} y2={H - M.bottom} />
        {sx.ticks.map((t) => (
          <text class="tick" x={px(t.pos)} y={H - M.bottom + 14} text-anchor="middle">
            {t.label}
          </text>
        ))}
        {sy.ticks.map((t) => (
          <text class="tick" x={M.left - 4} y={py(t.pos) + 4} text-anchor="end">
            {t.label}
          </text>
        ))}
        <text class="tick" x={(W + M.left) / 2} y={H - 4} text-anchor="middle">
          {fx}
        </text>
        {runs.map((r, i) => {
          const x = sx.pos[i];
          const y = sy.pos[i];
          if (x === undefined || y === undefined) return null;
          return (
            <circle class="dot" cx={px(x)} cy={py(y)} r={6} fill={runColor(i)}>
              <title>{`${name(r)}: ${fx} = ${fieldValue(r, fx)}, ${fy} = ${fieldValue(r, fy)}`}</title>
            </circle>
          );
        })}
      </svg>
    </div>
  );
}

function Parallel({ runs, fields }: { runs: Run[]; fields: Field[] }) {
  const [dims, setDims] = useState<Field[]>(fields.slice(0, PARALLEL_DEFAULT));
  const shown = fields.filter((f) => dims.includes(f));
  const scales = shown.map((f) => scaleDim(runs.map((r) => fieldValue(r, f))));
  const width = Math.max(W, shown.length * 130);
  const x = (d: number) => (shown.length === 1 ? width / 2 : M.left + (d * (width - M.left - 60)) / (shown.length - 1));
  const y = (p: number) => H - M.bottom - p * (H - M.top - M.bottom - 16);
  return (
    <div class="figure">
      <div class="row wrap" role="group" aria-label="Parallel coordinates dimensions">
        {fields.map((f) => (
          <label class="check small">
            <input type="checkbox" checked={dims.includes(f)} onChange={(e) => setDims(e.currentTarget.checked ? [...dims, f] : dims.filter((d) => d !== f))} />
            {f}
          </label>
        ))}
      </div>
      {shown.length < 2 ? (
        <p class="muted">Choose two or more dimensions.</p>
      ) : (
        <div class="scroll-x">
          <svg class="plot" width={width} height={H} viewBox={`0 0 ${width} ${H}`} role="img" aria-label="Parallel coordinates" data-testid="parallel">
            {runs.map((r, i) => {
              const pts = scales.map((s, d) => (s.pos[i] === undefined ? undefined : `${x(d)},${y(s.pos[i]!)}`)).filter((p) => p !== undefined);
              return (
                <polyline class="line" points={pts.join(' ')} stroke={runColor(i)}>
                  <title>{name(r)}</title>
                </polyline>
              );
            })}
            {shown.map((f, d) => (
              <g>
                <line class="axis" x1={x(d)} y1={y(0)} x2={x(d)} y2={y(1)} />
                <text class="dim" x={x(d)} y={M.top} text-anchor="middle">
                  {f.replace(/^(params|metrics)\./, '')}
                </text>
                {scales[d].ticks.slice(0, 12).map((t) => (
                  <text class="tick" x={x(d) + 4} y={y(t.pos) + 4}>
                    {t.label}
                  </text>
                ))}
              </g>
            ))}
          </svg>
        </div>
      )}
    </div>
  );
}

function DiffSection({ title, rows, runs, metric }: { title: string; rows: DiffRow[]; runs: Run[]; metric?: boolean }) {
  if (!rows.length) return null;
  return (
    <>
      <tr class="section">
        <th colSpan={runs.length + 1}>{title}</th>
      </tr>
      {rows.map((row) => (
        <tr key={title + row.key} class={row.differs ? 'differs' : ''} data-key={row.key}>
          <th>{row.key}</th>
          {row.values.map((v) => (
            <td class={metric ? 'num mono' : 'mono'}>{v === undefined ? <span class="muted">—</span> : metric ? formatValue(Number(v)) : v}</td>
          ))}
        </tr>
      ))}
    </>
  );
}

function DiffTable({ runs }: { runs: Run[] }) {
  const [onlyDiff, setOnlyDiff] = useState(false);
  const keep = (rows: DiffRow[]) => (onlyDiff ? rows.filter((r) => r.differs) : rows);
  const params = keep(diffRows(runs, 'params'));
  const metrics = keep(diffRows(runs, 'metrics'));
  return (
    <>
      <label class="check">
        <input type="checkbox" checked={onlyDiff} onChange={(e) => setOnlyDiff(e.currentTarget.checked)} />
        Only differences
      </label>
      <div class="scroll-x">
        <table class="kv diff" data-testid="diff">
          <thead>
            <tr>
              <th />
              {runs.map((r, i) => (
                <th key={r.info.run_id}>
                  <span class="swatch" style={{ background: runColor(i) }} />
                  {name(r)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            <DiffSection title="Parameters" rows={params} runs={runs} />
            <DiffSection title="Metrics (last value)" rows={metrics} runs={runs} metric />
          </tbody>
        </table>
      </div>
      {!params.length && !metrics.length && <p class="muted">{onlyDiff ? 'No differences.' : 'No params or metrics.'}</p>}
    </>
  );
}
