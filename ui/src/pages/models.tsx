import { useState } from 'preact/hooks';
import { del, get, patch, post, type ModelVersion, type RegisteredModel } from '../api';
import { nameContains, nameIs } from '../filter';
import { formatTime } from '../format';
import { formatRoute, href, type Query } from '../route';
import { EditableText, ErrorBox, Show, TagEditor, useAction, useLoad } from '../ui';

const STAGES = ['None', 'Staging', 'Production', 'Archived'];

export function ModelsPage({ query }: { query: Query }) {
  const search = query.q ?? '';
  const [draft, setDraft] = useState(search);
  const models = useLoad(
    () =>
      get<{ registered_models?: RegisteredModel[] }>('registered-models/search', {
        filter: nameContains(search),
        max_results: 1000,
        order_by: ['name ASC'],
      }).then((r) => r.registered_models ?? []),
    [search],
  );
  return (
    <section>
      <div class="page-head">
        <h1>Registered models</h1>
      </div>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          location.hash = formatRoute({ page: 'models', query: { q: draft.trim() } });
        }}
      >
        <input type="search" class="grow" aria-label="Search models" placeholder="Search models by name" value={draft} onInput={(e) => setDraft(e.currentTarget.value)} />
        <button type="submit">Search</button>
      </form>
      <Show load={models} what="registered models">
        {(list) =>
          list.length === 0 ? (
            <p class="muted">
              {search ? `No model matches “${search}”.` : 'No registered models yet. Open a run, select its model folder under Artifacts and click “Register model”, or call mlflow.register_model().'}
            </p>
          ) : (
            <table class="list" data-testid="models">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Latest version</th>
                  <th>Stages</th>
                  <th>Aliases</th>
                  <th>Last updated</th>
                </tr>
              </thead>
              <tbody>
                {list.map((m) => {
                  const latest = Math.max(0, ...(m.latest_versions ?? []).map((v) => Number(v.version)));
                  return (
                    <tr key={m.name}>
                      <td>
                        <a href={href.model(m.name)}>{m.name}</a>
                      </td>
                      <td>{latest > 0 && <a href={href.version(m.name, latest)}>Version {latest}</a>}</td>
                      <td>
                        {(m.latest_versions ?? [])
                          .filter((v) => v.current_stage && v.current_stage !== 'None')
                          .map((v) => (
                            <span class={`badge stage-${v.current_stage}`}>
                              {v.current_stage}: v{v.version}
                            </span>
                          ))}
                      </td>
                      <td>
                        {(m.aliases ?? []).map((a) => (
                          <span class="badge">
                            @{a.alias}: v{a.version}
                          </span>
                        ))}
                      </td>
                      <td>{formatTime(m.last_updated_timestamp)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )
        }
      </Show>
    </section>
  );
}

export function ModelPage({ name }: { name: string }) {
  const model = useLoad(() => get<{ registered_model: RegisteredModel }>('registered-models/get', { name }).then((r) => r.registered_model), [name]);
  const versions = useLoad(
    () =>
      get<{ model_versions?: ModelVersion[] }>('model-versions/search', {
        filter: nameIs(name),
        max_results: 1000,
        order_by: ['version_number DESC'],
      }).then((r) => r.model_versions ?? []),
    [name],
  );
  return (
    <section>
      <div class="crumbs">
        <a href={href.models()}>Registered models</a> /
      </div>
      <Show load={model} what={`model ${name}`}>
        {(m) => (
          <>
            <div class="page-head">
              <h1>{m.name}</h1>
            </div>
            <p class="muted">
              Created {formatTime(m.creation_timestamp)} · last updated {formatTime(m.last_updated_timestamp)}
            </p>
            <h2>Description</h2>
            <EditableText label="description" value={m.description ?? ''} placeholder="No description." onSave={(d) => patch('registered-models/update', { name, description: d }).then(model.reload)} />
            <h2>Versions</h2>
            <Show load={versions} what="versions">
              {(list) =>
                list.length === 0 ? (
                  <p class="muted">No versions yet.</p>
                ) : (
                  <table class="list" data-testid="versions">
                    <thead>
                      <tr>
                        <th>Version</th>
                        <th>Registered</th>
                        <th>Stage</th>
                        <th>Aliases</th>
                        <th>Source run</th>
                      </tr>
                    </thead>
                    <tbody>
                      {list.map((v) => (
                        <tr key={v.version}>
                          <td>
                            <a href={href.version(name, v.version)}>Version {v.version}</a>
                          </td>
                          <td>{formatTime(v.creation_timestamp)}</td>
                          <td>
                            <span class={`badge stage-${v.current_stage}`}>{v.current_stage}</span>
                          </td>
                          <td>
                            {aliasesOf(m, v).map((a) => (
                              <span class="badge">@{a}</span>
                            ))}
                          </td>
                          <td class="mono">{v.run_id && <RunLink runId={v.run_id} />}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )
              }
            </Show>
            <h2>Tags</h2>
            <TagEditor
              tags={m.tags ?? []}
              onSet={(key, value) => post('registered-models/set-tag', { name, key, value }).then(model.reload)}
              onDelete={(key) => del('registered-models/delete-tag', { name, key }).then(model.reload)}
            />
          </>
        )}
      </Show>
    </section>
  );
}

/** A version's aliases: from the model (version search results may not carry them). */
function aliasesOf(m: RegisteredModel, v: ModelVersion): string[] {
  const fromModel = (m.aliases ?? []).filter((a) => String(a.version) === String(v.version)).map((a) => a.alias);
  return [...new Set([...fromModel, ...(v.aliases ?? [])])];
}

/** A link to a run, resolving its experiment (the URL needs it). */
function RunLink({ runId }: { runId: string }) {
  const run = useLoad(() => get<{ run: { info: { experiment_id: string; run_name?: string } } }>('runs/get', { run_id: runId }).then((r) => r.run.info), [runId]);
  if (run.error) return <span title={run.error}>{runId} (unavailable)</span>;
  if (!run.data) return <span>{runId}</span>;
  return <a href={href.run(run.data.experiment_id, runId)}>{run.data.run_name || runId}</a>;
}

export function VersionPage({ name, version }: { name: string; version: string }) {
  const mv = useLoad(() => get<{ model_version: ModelVersion }>('model-versions/get', { name, version }).then((r) => r.model_version), [name, version]);
  const action = useAction();
  const [stage, setStage] = useState<string>();
  const [archive, setArchive] = useState(false);
  const [alias, setAlias] = useState('');
  const act = async (f: () => Promise<unknown>) => (await action.run(f)) && mv.reload();
  return (
    <section>
      <div class="crumbs">
        <a href={href.models()}>Registered models</a> / <a href={href.model(name)}>{name}</a> /
      </div>
      <Show load={mv} what={`version ${version} of ${name}`}>
        {(v) => (
          <>
            <div class="page-head">
              <h1>
                {name} · version {v.version}
              </h1>
              <span class={`badge stage-${v.current_stage}`} data-testid="stage">
                {v.current_stage}
              </span>
            </div>
            {action.error && <ErrorBox error={action.error} />}
            <table class="kv overview">
              <tbody>
                <tr><th>Registered</th><td>{formatTime(v.creation_timestamp)}</td></tr>
                <tr><th>Last updated</th><td>{formatTime(v.last_updated_timestamp)}</td></tr>
                <tr><th>Status</th><td>{v.status}</td></tr>
                <tr><th>Source run</th><td>{v.run_id ? <RunLink runId={v.run_id} /> : '—'}</td></tr>
                <tr><th>Source</th><td class="mono">{v.source}</td></tr>
                <tr><th>Load it</th><td class="mono">mlflow.pyfunc.load_model("models:/{name}/{v.version}")</td></tr>
              </tbody>
            </table>

            <h2>Stage</h2>
            <form
              class="row"
              onSubmit={(e) => {
                e.preventDefault();
                const to = stage ?? v.current_stage;
                act(() => post('model-versions/transition-stage', { name, version: v.version, stage: to, archive_existing_versions: archive }));
              }}
            >
              <select aria-label="Stage" value={stage ?? v.current_stage} onChange={(e) => setStage(e.currentTarget.value)}>
                {STAGES.map((s) => (
                  <option value={s}>{s}</option>
                ))}
              </select>
              <label class="check">
                <input type="checkbox" checked={archive} onChange={(e) => setArchive(e.currentTarget.checked)} />
                Archive other versions in this stage
              </label>
              <button type="submit" class="primary" disabled={action.busy || (stage ?? v.current_stage) === v.current_stage}>
                Change stage
              </button>
            </form>

            <h2>Aliases</h2>
            <div class="row">
              {(v.aliases ?? []).length === 0 && <span class="muted">No aliases.</span>}
              {(v.aliases ?? []).map((a) => (
                <span class="badge">
                  @{a}{' '}
                  <button class="link" aria-label={`Remove alias ${a}`} onClick={() => act(() => del('registered-models/alias', { name, alias: a }))}>
                    ×
                  </button>
                </span>
              ))}
            </div>
            <form
              class="row"
              onSubmit={async (e) => {
                e.preventDefault();
                const a = alias.trim();
                if (a) {
                  await act(() => post('registered-models/alias', { name, alias: a, version: v.version }));
                  setAlias('');
                }
              }}
            >
              <input aria-label="New alias" placeholder="alias, e.g. champion" value={alias} onInput={(e) => setAlias(e.currentTarget.value)} />
              <button type="submit" disabled={!alias.trim()}>
                Add alias
              </button>
            </form>

            <h2>Description</h2>
            <EditableText label="description" value={v.description ?? ''} placeholder="No description." onSave={(d) => patch('model-versions/update', { name, version: v.version, description: d }).then(mv.reload)} />

            <h2>Tags</h2>
            <TagEditor
              tags={v.tags ?? []}
              onSet={(key, value) => post('model-versions/set-tag', { name, version: v.version, key, value }).then(mv.reload)}
              onDelete={(key) => del('model-versions/delete-tag', { name, version: v.version, key }).then(mv.reload)}
            />
          </>
        )}
      </Show>
    </section>
  );
}
