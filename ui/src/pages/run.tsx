import { useState } from 'preact/hooks';
import { get, post, type Experiment, type LoggedModel, type Run } from '../api';
import { Artifacts } from '../artifacts';
import { ChartControls, DEFAULT_SETTINGS, MetricChart, type ChartSettings } from '../chart';
import { basename, formatTime, formatValue, runDuration } from '../format';
import { RegisterDialog, type RegisterSource } from '../register';
import { formatRoute, href } from '../route';
import { PARENT_TAG, tag } from '../runs';
import { EditableText, ErrorBox, Loading, Show, TagEditor, useAction, useLoad, usePoll } from '../ui';

const NOTE_TAG = 'mlflow.note.content';
/** Charts drawn at once; the rest behind a button, so a run with hundreds of metrics stays quick. */
const CHARTS_SHOWN = 12;
/** How often a RUNNING run is read again while its page is visible. */
export const LIVE_REFRESH_MS = 3_000;

export function RunPage({ experimentId, runId, artifactPath }: { experimentId: string; runId: string; artifactPath: string }) {
  const run = useLoad(() => get<{ run: Run }>('runs/get', { run_id: runId }).then((r) => r.run), [runId]);
  usePoll(run.data?.info.status === 'RUNNING', LIVE_REFRESH_MS, run.reload);
  return (
    <section>
      <div class="crumbs">
        <a href={href.experiments()}>Experiments</a> / <a href={href.runs(experimentId)}>experiment {experimentId}</a> /
      </div>
      <Show load={run} what={`run ${runId}`}>
        {(r) => <RunView run={r} reload={run.reload} artifactPath={artifactPath} />}
      </Show>
    </section>
  );
}

function RunView({ run, reload, artifactPath }: { run: Run; reload: () => void; artifactPath: string }) {
  const { info } = run;
  const experiment = useLoad(() => get<{ experiment: Experiment }>('experiments/get', { experiment_id: info.experiment_id }).then((r) => r.experiment), [info.experiment_id]);
  const action = useAction();
  const [allCharts, setAllCharts] = useState(false);
  const [settings, setSettings] = useState<ChartSettings>(DEFAULT_SETTINGS);
  const [registering, setRegistering] = useState<RegisterSource>();
  const tags = run.data.tags ?? [];
  const params = [...(run.data.params ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const metrics = [...(run.data.metrics ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const parent = tag(run, PARENT_TAG);
  const setTag = (key: string, value: string) => post('runs/set-tag', { run_id: info.run_id, key, value }).then(reload);
  const deleteTag = (key: string) => post('runs/delete-tag', { run_id: info.run_id, key }).then(reload);
  const models = run.outputs?.model_outputs ?? [];
  // The run's logged models, shown by name as folders of its artifacts.
  const logged = useLoad(
    () =>
      post<{ models?: LoggedModel[] }>('logged-models/search', {
        experiment_ids: [info.experiment_id],
        filter: `source_run_id = '${info.run_id}'`,
        max_results: 100,
      }).then((r) => (r.models ?? []).map((m) => ({ name: m.info.name, modelId: m.info.model_id }))),
    [info.run_id],
  );
  const deleted = info.lifecycle_stage === 'deleted';

  return (
    <>
      <div class="page-head">
        <h1>{info.run_name || info.run_id}</h1>
        <span class={`status ${info.status}`}>{info.status}</span>
        {info.status === 'RUNNING' && <span class="muted small" data-testid="live">live · refreshed every {LIVE_REFRESH_MS / 1000} s</span>}
        {deleted ? (
          <button onClick={() => action.run(() => post('runs/restore', { run_id: info.run_id }).then(reload))}>Restore run</button>
        ) : (
          <button class="danger" onClick={() => confirm('Delete this run?') && action.run(() => post('runs/delete', { run_id: info.run_id }).then(reload))}>
            Delete run
          </button>
        )}
      </div>
      {deleted && (
        <div class="notice" role="alert">
          This run was deleted. It is kept until garbage collection (<code>ferroflow gc</code>); restore it to show it in its experiment again.
        </div>
      )}
      {action.error && <ErrorBox error={action.error} />}
      <table class="kv overview">
        <tbody>
          <tr><th>Run ID</th><td class="mono">{info.run_id}</td></tr>
          <tr>
            <th>Experiment</th>
            <td>
              <a href={href.runs(info.experiment_id)}>{experiment.data?.name ?? info.experiment_id}</a>
            </td>
          </tr>
          <tr><th>Status</th><td>{info.status}</td></tr>
          <tr><th>Started</th><td>{formatTime(info.start_time)}</td></tr>
          <tr><th>Ended</th><td>{formatTime(info.end_time)}</td></tr>
          <tr><th>Duration</th><td>{runDuration(info.start_time, info.end_time, info.status)}</td></tr>
          <tr><th>User</th><td>{info.user_id || tag(run, 'mlflow.user')}</td></tr>
          <tr><th>Source</th><td title={tag(run, 'mlflow.source.name')}>{basename(tag(run, 'mlflow.source.name'))} {tag(run, 'mlflow.source.git.commit')?.slice(0, 8)}</td></tr>
          {parent && (
            <tr>
              <th>Parent run</th>
              <td>
                <a href={href.run(info.experiment_id, parent)}>{parent}</a>
              </td>
            </tr>
          )}
          <tr><th>Artifact URI</th><td class="mono">{info.artifact_uri}</td></tr>
        </tbody>
      </table>

      <h2>Description</h2>
      <EditableText label="description" value={tag(run, NOTE_TAG) ?? ''} placeholder="No description." onSave={(v) => setTag(NOTE_TAG, v)} />

      <h2>Parameters ({params.length})</h2>
      {params.length ? (
        <table class="kv" data-testid="params">
          <tbody>
            {params.map((p) => (
              <tr key={p.key}>
                <th>{p.key}</th>
                <td class="mono">{p.value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="muted">No parameters.</p>
      )}

      <h2>Metrics ({metrics.length})</h2>
      {metrics.length ? (
        <>
          <table class="kv" data-testid="metrics">
            <thead>
              <tr><th>Metric</th><th>Last value</th><th>Step</th><th>Logged</th></tr>
            </thead>
            <tbody>
              {metrics.map((m) => (
                <tr key={m.key}>
                  <th>{m.key}</th>
                  <td class="num">{formatValue(m.value)}</td>
                  <td class="num">{m.step}</td>
                  <td>{formatTime(m.timestamp)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <ChartControls settings={settings} onChange={setSettings} />
          <div class="charts">
            {(allCharts ? metrics : metrics.slice(0, CHARTS_SHOWN)).map((m) => (
              <MetricChart
                key={m.key}
                metricKey={m.key}
                runs={[{ runId: info.run_id, label: info.run_name || info.run_id, startTime: info.start_time }]}
                settings={settings}
                stamp={`${m.step}:${m.timestamp}:${m.value}`}
              />
            ))}
          </div>
          {!allCharts && metrics.length > CHARTS_SHOWN && <button onClick={() => setAllCharts(true)}>Show all {metrics.length} charts</button>}
        </>
      ) : (
        <p class="muted">No metrics.</p>
      )}

      {models.length > 0 && (
        <>
          <h2>Logged models</h2>
          <table class="kv">
            <tbody>
              {models.map((m) => (
                <tr key={m.model_id}>
                  <th class="mono">{m.model_id}</th>
                  <td>step {m.step}</td>
                  <td class="actions">
                    <button aria-label={`Register logged model ${m.model_id}`} onClick={() => setRegistering({ source: `models:/${m.model_id}`, modelId: m.model_id, runId: info.run_id, label: `models:/${m.model_id}` })}>Register model</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}

      <h2>Tags</h2>
      <TagEditor tags={tags} hidePrefix="mlflow." onSet={setTag} onDelete={deleteTag} />

      <h2>Artifacts</h2>
      {logged.loading && !logged.data ? (
        <Loading what="artifacts" />
      ) : (
        <Artifacts
          key={artifactPath}
          runId={info.run_id}
          artifactUri={info.artifact_uri ?? ''}
          initialPath={artifactPath}
          models={logged.data ?? []}
          onSelect={(path) => history.replaceState(null, '', formatRoute({ page: 'run', experimentId: info.experiment_id, runId: info.run_id, artifactPath: path, query: {} }))}
        />
      )}
      {registering && <RegisterDialog what={registering} onClose={() => setRegistering(undefined)} />}
    </>
  );
}

