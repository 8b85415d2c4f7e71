// Small shared components: loading and error states, dialogs, inline editors.

import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

export interface Loaded<T> {
  data?: T;
  error?: string;
  loading: boolean;
  reload: () => void;
}

export function message(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Loads `fn` whenever `deps` change; a stale answer never overwrites a newer one. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setState((s) => ({ data: s.data, loading: true }));
    fn().then(
      (data) => mine === seq.current && setState({ data, loading: false }),
      (e) => mine === seq.current && setState({ error: message(e), loading: false }),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export function ErrorBox({ error, title }: { error: string; title?: string }) {
  return (
    <div class="error" role="alert">
      {title && <strong>{title}: </strong>}
      {error}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <div class="loading" aria-busy="true">
      Loading {what}…
    </div>
  );
}

/** The data of a load, or its loading or error state. */
export function Show<T>({ load, what, children }: { load: Loaded<T>; what: string; children: (data: T) => ComponentChildren }) {
  if (load.error) return <ErrorBox error={load.error} />;
  if (load.data === undefined) return <Loading what={what} />;
  return <>{children(load.data)}</>;
}

export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);
  return (
    <div class="backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="dialog" role="dialog" aria-label={title}>
        <h2>{title}</h2>
        {children}
      </div>
    </div>
  );
}

/** Runs an async action, keeping its error and busy state for the caller to show. */
export function useAction(): { busy: boolean; error: string | undefined; run: (f: () => Promise<unknown>) => Promise<boolean>; clear: () => void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const run = useCallback(async (f: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await f();
      return true;
    } catch (e) {
      setError(message(e));
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, clear: () => setError(undefined) };
}

/** A text shown as is, with an Edit button that turns it into a textarea. */
export function EditableText({ value, onSave, placeholder, label }: { value: string; onSave: (v: string) => Promise<unknown>; placeholder: string; label: string }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(value);
  const action = useAction();
  if (!editing) {
    return (
      <div class="editable">
        {value ? <pre class="note">{value}</pre> : <p class="muted">{placeholder}</p>}
        <button
          onClick={() => {
            setDraft(value);
            setEditing(true);
          }}
        >
          Edit {label}
        </button>
      </div>
    );
  }
  return (
    <div class="editable">
      <textarea aria-label={label} rows={4} value={draft} onInput={(e) => setDraft(e.currentTarget.value)} />
      <div class="row">
        <button
          class="primary"
          disabled={action.busy}
          onClick={async () => (await action.run(() => onSave(draft))) && setEditing(false)}
        >
          Save
        </button>
        <button onClick={() => setEditing(false)}>Cancel</button>
      </div>
      {action.error && <ErrorBox error={action.error} />}
    </div>
  );
}

/** A key/value tag list with add and remove. */
export function TagEditor({ tags, onSet, onDelete, hidePrefix }: { tags: { key: string; value: string }[]; onSet: (k: string, v: string) => Promise<unknown>; onDelete: (k: string) => Promise<unknown>; hidePrefix?: string }) {
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const action = useAction();
  const shown = tags.filter((t) => !hidePrefix || !t.key.startsWith(hidePrefix));
  return (
    <div class="tags">
      <table class="kv">
        <tbody>
          {shown.map((t) => (
            <tr key={t.key}>
              <th>{t.key}</th>
              <td>{t.value}</td>
              <td class="actions">
                <button aria-label={`Remove tag ${t.key}`} onClick={() => action.run(() => onDelete(t.key))}>
                  Remove
                </button>
              </td>
            </tr>
          ))}
          {shown.length === 0 && (
            <tr>
              <td class="muted">No tags.</td>
            </tr>
          )}
        </tbody>
      </table>
      <form
        class="row"
        onSubmit={async (e) => {
          e.preventDefault();
          if (!key.trim()) return;
          if (await action.run(() => onSet(key.trim(), value))) {
            setKey('');
            setValue('');
          }
        }}
      >
        <input aria-label="Tag key" placeholder="key" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        <input aria-label="Tag value" placeholder="value" value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        <button type="submit" disabled={action.busy || !key.trim()}>
          Add tag
        </button>
      </form>
      {action.error && <ErrorBox error={action.error} />}
    </div>
  );
}

/** Calls `fn` every `ms` while `active` and the page is visible (a live run's refresh). */
export function usePoll(active: boolean, ms: number, fn: () => void) {
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => {
    if (!active) return;
    const id = setInterval(() => document.visibilityState === 'visible' && latest.current(), ms);
    return () => clearInterval(id);
  }, [active, ms]);
}
