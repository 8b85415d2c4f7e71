// The "Register model" dialog: pick an existing registered model or type a new name,
// then create the version from the run's artifacts.

import { useState } from 'preact/hooks';
import { get, post, type ModelVersion, type RegisteredModel } from './api';
import { href } from './route';
import { Dialog, ErrorBox, Loading, useAction, useLoad } from './ui';

const NEW = '\u0000new';

export interface RegisterSource {
  /** The version's source: a URI inside the run's (or logged model's) artifacts. */
  source: string;
  runId: string;
  modelId?: string;
  /** What the user sees being registered. */
  label: string;
}

export function RegisterDialog({ what, onClose }: { what: RegisterSource; onClose: () => void }) {
  const models = useLoad(
    () => get<{ registered_models?: RegisteredModel[] }>('registered-models/search', { max_results: 1000, order_by: ['name ASC'] }).then((r) => r.registered_models ?? []),
    [],
  );
  const [choice, setChoice] = useState(NEW);
  const [name, setName] = useState('');
  const [done, setDone] = useState<ModelVersion>();
  const action = useAction();
  const isNew = choice === NEW;
  const target = isNew ? name.trim() : choice;

  const register = () =>
    action.run(async () => {
      if (isNew) await post('registered-models/create', { name: target });
      const r = await post<{ model_version: ModelVersion }>('model-versions/create', {
        name: target,
        source: what.source,
        run_id: what.runId,
        model_id: what.modelId,
      });
      setDone(r.model_version);
    });

  return (
    <Dialog title="Register model" onClose={onClose}>
      {done ? (
        <>
          <p class="success" role="status">
            Version {done.version} of <strong>{done.name}</strong> registered.
          </p>
          <div class="row end">
            <a class="button" href={href.version(done.name, done.version)} onClick={onClose}>
              Open version {done.version}
            </a>
            <button onClick={onClose}>Close</button>
          </div>
        </>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (target) register();
          }}
        >
          <p class="muted">
            Registers <code>{what.label}</code> as a new version.
          </p>
          {models.error && <ErrorBox error={models.error} />}
          {models.data === undefined && !models.error ? (
            <Loading what="registered models" />
          ) : (
            <label class="field" key="model">
              Model
              <select aria-label="Registered model" value={choice} onChange={(e) => setChoice(e.currentTarget.value)}>
                <option value={NEW}>+ Create new model</option>
                {(models.data ?? []).map((m) => (
                  <option value={m.name}>{m.name}</option>
                ))}
              </select>
            </label>
          )}
          {isNew && (
            <label class="field" key="new-name">
              New model name
              <input aria-label="New model name" value={name} autoFocus onInput={(e) => setName(e.currentTarget.value)} placeholder="e.g. wine_quality" />
            </label>
          )}
          {action.error && <ErrorBox error={action.error} />}
          <div class="row end">
            <button type="button" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" class="primary" disabled={!target || action.busy}>
              {action.busy ? 'Registering…' : 'Register'}
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
