import { useState } from 'preact/hooks';
import { post, trackingUri, type Experiment, type Run } from '../api';
import { nameContains } from '../filter';
import { formatTime } from '../format';
import { href, formatRoute, type Query } from '../route';
import { Dialog, ErrorBox, Show, useAction, useLoad } from '../ui';

type View = 'ACTIVE_ONLY' | 'DELETED_ONLY';

/** The snippet a new user runs to log a first run here. */
export function GettingStarted({ experiment }: { experiment?: string }) {
  const uri = trackingUri();
  return (
    <div class="empty">
      <h2>Log your first run</h2>
      <p>Point the MLflow client at this server and start a run:</p>
      <pre class="snippet">
        {`export MLFLOW_TRACKING_URI=${uri}
python - <<'PY'
import mlflow
${experiment ? `mlflow.set_experiment(${JSON.stringify(experiment)})\n` : ''}with mlflow.start_run():
    mlflow.log_param("alpha", 0.5)
    for step in range(10):
        mlflow.log_metric("loss", 1 / (step + 1), step=step)
PY`}
      </pre>
    </div>
  );
}

export function ExperimentsPage({ query }: { query: Query }) {
  const search = query.q ?? '';
  const view: View = query.view === 'deleted' ? 'DELETED_ONLY' : 'ACTIVE_ONLY';
  const [draft, setDraft] = useState(search);
  const [creating, setCreating] = useState(false);
  const [renaming, setRenaming] = useState<Experiment>();
  const action = useAction();
  const load = useLoad(async () => {
    const r = await post<{ experiments?: Experiment[] }>('experiments/search', {
      max_results: 1000,
      view_type: view,
      filter: nameContains(search),
      order_by: ['last_update_time DESC'],
    });
    const experiments = r.experiments ?? [];
    // A server with no runs at all gets the getting-started snippet.
    let anyRun = true;
    if (!search && view === 'ACTIVE_ONLY' && experiments.length <= 1) {
      const ids = experiments.map((e) => e.experiment_id);
      const runs = ids.length ? await post<{ runs?: Run[] }>('runs/search', { experiment_ids: ids, max_results: 1 }) : {};
      anyRun = (runs.runs ?? []).length > 0;
    }
    return { experiments, anyRun };
  }, [search, view]);

  const go = (q: Query) => (location.hash = formatRoute({ page: 'experiments', query: q }));
  const act = async (f: () => Promise<unknown>) => (await action.run(f)) && load.reload();

  return (
    <section>
      <div class="page-head">
        <h1>Experiments</h1>
        <button class="primary" onClick={() => setCreating(true)}>
          Create experiment
        </button>
      </div>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          go({ q: draft.trim(), view: view === 'DELETED_ONLY' ? 'deleted' : '' });
        }}
      >
        <input type="search" class="grow" aria-label="Search experiments" placeholder="Search experiments by name" value={draft} onInput={(e) => setDraft(e.currentTarget.value)} />
        <button type="submit">Search</button>
        <label class="check">
          <input type="checkbox" checked={view === 'DELETED_ONLY'} onChange={(e) => go({ q: search, view: e.currentTarget.checked ? 'deleted' : '' })} />
          Show deleted
        </label>
      </form>
      {action.error && <ErrorBox error={action.error} />}
      <Show load={load} what="experiments">
        {({ experiments, anyRun }) => (
          <>
            {experiments.length === 0 ? (
              <p class="muted">{search ? `No experiment matches “${search}”.` : view === 'DELETED_ONLY' ? 'No deleted experiments.' : 'No experiments yet.'}</p>
            ) : (
              <table class="list" data-testid="experiments">
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>ID</th>
                    <th>Created</th>
                    <th>Last updated</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {experiments.map((e) => (
                    <tr key={e.experiment_id}>
                      <td>
                        <a href={href.runs(e.experiment_id)}>{e.name}</a>
                      </td>
                      <td class="mono">{e.experiment_id}</td>
                      <td>{formatTime(e.creation_time)}</td>
                      <td>{formatTime(e.last_update_time)}</td>
                      <td class="actions">
                        {e.lifecycle_stage === 'deleted' ? (
                          <button onClick={() => act(() => post('experiments/restore', { experiment_id: e.experiment_id }))}>Restore</button>
                        ) : (
                          <>
                            <button onClick={() => setRenaming(e)}>Rename</button>
                            <button
                              class="danger"
                              onClick={() => confirm(`Delete experiment “${e.name}”? It can be restored until garbage collection.`) && act(() => post('experiments/delete', { experiment_id: e.experiment_id }))}
                            >
                              Delete
                            </button>
                          </>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            {!anyRun && <GettingStarted />}
          </>
        )}
      </Show>
      {creating && (
        <NameDialog
          title="Create experiment"
          initial=""
          submit="Create"
          onClose={() => setCreating(false)}
          onSubmit={async (name) => {
            const r = await post<{ experiment_id: string }>('experiments/create', { name });
            location.hash = href.runs(r.experiment_id);
          }}
        />
      )}
      {renaming && (
        <NameDialog
          title={`Rename “${renaming.name}”`}
          initial={renaming.name}
          submit="Rename"
          onClose={() => setRenaming(undefined)}
          onSubmit={async (name) => {
            await post('experiments/update', { experiment_id: renaming.experiment_id, new_name: name });
            setRenaming(undefined);
            load.reload();
          }}
        />
      )}
    </section>
  );
}

function NameDialog({ title, initial, submit, onClose, onSubmit }: { title: string; initial: string; submit: string; onClose: () => void; onSubmit: (name: string) => Promise<void> }) {
  const [name, setName] = useState(initial);
  const action = useAction();
  return (
    <Dialog title={title} onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (name.trim()) action.run(() => onSubmit(name.trim()));
        }}
      >
        <input class="wide" aria-label="Name" placeholder="Name" value={name} autoFocus onInput={(e) => setName(e.currentTarget.value)} />
        {action.error && <ErrorBox error={action.error} />}
        <div class="row end">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={action.busy || !name.trim()}>
            {submit}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
