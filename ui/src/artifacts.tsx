// A run's artifacts: a lazily listed tree, previews read only up to PREVIEW_LIMIT, and
// "Register model" on a folder holding an MLmodel file. The run's logged models (MLflow 3's
// `log_model`) are folders of the tree under their names, as in MLflow's UI: their files
// come from the logged model's own artifacts.

import { useEffect, useState } from 'preact/hooks';
import { artifactUrl, get, loggedModelFileUrl, readArtifactHead, type FileInfo } from './api';
import { PREVIEW_LIMIT, locate, prettyJson, previewKind, previewRefusal, type ModelFolder } from './artifact';
import { formatBytes } from './format';
import { RegisterDialog } from './register';
import { ErrorBox, Loading, message, useLoad } from './ui';

type Listings = Record<string, FileInfo[] | { error: string } | undefined>;

const byKind = (a: FileInfo, b: FileInfo) => Number(b.is_dir) - Number(a.is_dir) || a.path.localeCompare(b.path);

async function list(runId: string, path: string, models: ModelFolder[]): Promise<FileInfo[]> {
  const { model, rel } = locate(path, models);
  if (model) {
    const r = await get<{ files?: FileInfo[] }>(`logged-models/${encodeURIComponent(model.modelId)}/artifacts/directories`, {
      artifact_directory_path: rel || undefined,
    });
    return (r.files ?? []).map((f) => ({ ...f, path: `${model.name}/${f.path}` })).sort(byKind);
  }
  const r = await get<{ files?: FileInfo[] }>('artifacts/list', { run_id: runId, path: path || undefined });
  const files = r.files ?? [];
  if (!path) {
    for (const m of models) {
      if (!files.some((f) => f.path === m.name)) files.push({ path: m.name, is_dir: true });
    }
  }
  return files.sort(byKind);
}

/** The download URL of a file of the tree. */
function fileUrl(runId: string, path: string, models: ModelFolder[]): string {
  const { model, rel } = locate(path, models);
  return model ? loggedModelFileUrl(model.modelId, rel) : artifactUrl(runId, path);
}

const nameOf = (path: string) => path.slice(path.lastIndexOf('/') + 1);
const parentOf = (path: string) => path.slice(0, Math.max(0, path.lastIndexOf('/')));

export function Artifacts({ runId, artifactUri, initialPath, models = [], onSelect }: { runId: string; artifactUri: string; initialPath: string; models?: ModelFolder[]; onSelect: (path: string) => void }) {
  const [listings, setListings] = useState<Listings>({});
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const [selected, setSelected] = useState<FileInfo | undefined>();

  const load = async (path: string): Promise<FileInfo[] | undefined> => {
    try {
      const files = await list(runId, path, models);
      setListings((l) => ({ ...l, [path]: files }));
      return files;
    } catch (e) {
      setListings((l) => ({ ...l, [path]: { error: message(e) } }));
      return undefined;
    }
  };

  // The root, then each folder down to a deep-linked path.
  useEffect(() => {
    (async () => {
      let files = await load('');
      const parts = initialPath.split('/').filter(Boolean);
      const opened = new Set<string>();
      for (let i = 0; i < parts.length && files; i++) {
        const path = parts.slice(0, i + 1).join('/');
        const hit = files.find((f) => f.path === path);
        if (!hit) break;
        if (i === parts.length - 1) setSelected(hit);
        if (hit.is_dir) {
          opened.add(path);
          files = await load(path);
        }
      }
      setOpen(opened);
    })();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [runId, models.map((m) => m.modelId).join()]);

  const choose = (f: FileInfo) => {
    setSelected(f);
    onSelect(f.path);
    if (f.is_dir) {
      const next = new Set(open);
      if (!next.delete(f.path)) next.add(f.path);
      setOpen(next);
      if (!listings[f.path]) load(f.path);
    }
  };

  const root = listings[''];
  return (
    <div class="artifacts">
      <div class="tree" role="tree" aria-label="Artifacts">
        {root === undefined ? (
          <Loading what="artifacts" />
        ) : 'error' in root ? (
          <ErrorBox error={root.error} />
        ) : root.length === 0 ? (
          <p class="muted">No artifacts logged.</p>
        ) : (
          <Tree files={root} listings={listings} open={open} selected={selected?.path} onChoose={choose} />
        )}
      </div>
      <div class="preview">
        {selected ? <Preview runId={runId} artifactUri={artifactUri} file={selected} listings={listings} models={models} /> : <p class="muted">Select a file to preview it.</p>}
      </div>
    </div>
  );
}

function Tree({ files, listings, open, selected, onChoose }: { files: FileInfo[]; listings: Listings; open: ReadonlySet<string>; selected?: string; onChoose: (f: FileInfo) => void }) {
  return (
    <ul>
      {files.map((f) => {
        const kids = listings[f.path];
        return (
          <li key={f.path} role="treeitem" aria-expanded={f.is_dir ? open.has(f.path) : undefined}>
            <button class={`node${selected === f.path ? ' active' : ''}`} onClick={() => onChoose(f)}>
              {f.is_dir ? (open.has(f.path) ? '▾ ' : '▸ ') : '  '}
              {nameOf(f.path)}
            </button>
            {f.is_dir && open.has(f.path) && (kids === undefined ? <Loading what={nameOf(f.path)} /> : 'error' in kids ? <ErrorBox error={kids.error} /> : kids.length ? <Tree files={kids} listings={listings} open={open} selected={selected} onChoose={onChoose} /> : <p class="muted small">empty</p>)}
          </li>
        );
      })}
    </ul>
  );
}

/** The folder a selection registers: a folder with an MLmodel file, or an MLmodel file's folder. */
function modelFolder(file: FileInfo, listings: Listings): string | null {
  if (!file.is_dir) return nameOf(file.path) === 'MLmodel' ? parentOf(file.path) : null;
  const kids = listings[file.path];
  return Array.isArray(kids) && kids.some((k) => nameOf(k.path) === 'MLmodel') ? file.path : null;
}

function Preview({ runId, artifactUri, file, listings, models }: { runId: string; artifactUri: string; file: FileInfo; listings: Listings; models: ModelFolder[] }) {
  const [registering, setRegistering] = useState(false);
  const located = locate(file.path, models);
  // A logged model's own folder registers that model; inside one, nothing else does.
  const logged = located.model && file.is_dir && located.rel === '' ? located.model : undefined;
  const folder = logged ? file.path : located.model ? null : modelFolder(file, listings);
  const url = fileUrl(runId, file.path, models);
  return (
    <div data-testid="preview">
      <div class="row">
        <strong class="mono">{file.path}</strong>
        {!file.is_dir && <span class="muted">{formatBytes(file.file_size)}</span>}
        {!file.is_dir && (
          <a class="button" href={url} download={nameOf(file.path)}>
            Download
          </a>
        )}
        {folder !== null && (
          <button class="primary" onClick={() => setRegistering(true)}>
            Register model
          </button>
        )}
      </div>
      {file.is_dir ? (
        <p class="muted">
          {logged ? (
            <>
              Logged model <span class="mono">{logged.modelId}</span>. Register it to add a version to the model registry.
            </>
          ) : (
            <>Folder{folder !== null ? ' holding a model (MLmodel). Register it to add a version to the model registry.' : '.'}</>
          )}
        </p>
      ) : (
        <FileBody path={file.path} size={file.file_size} url={url} />
      )}
      {registering && folder !== null && (
        <RegisterDialog
          what={
            logged
              ? { source: `models:/${logged.modelId}`, modelId: logged.modelId, runId, label: `${logged.name} (models:/${logged.modelId})` }
              : { source: artifactUri.replace(/\/$/, '') + (folder ? '/' + folder : ''), runId, label: folder || '(run root)' }
          }
          onClose={() => setRegistering(false)}
        />
      )}
    </div>
  );
}

function FileBody({ path, size, url }: { path: string; size?: number; url: string }) {
  const refusal = previewRefusal(path, size);
  const kind = previewKind(path);
  const text = useLoad(async () => (refusal || kind === 'image' ? null : readArtifactHead(url, PREVIEW_LIMIT)), [url]);
  const [imgError, setImgError] = useState(false);
  if (refusal) {
    return (
      <p class="notice" data-testid="no-preview">
        {refusal} <a href={url}>Download it</a> instead.
      </p>
    );
  }
  if (kind === 'image') {
    return imgError ? <ErrorBox error="This image could not be displayed (not a valid image, or the download failed)." /> : <img class="artifact-img" src={url} alt={path} onError={() => setImgError(true)} />;
  }
  if (text.error) return <ErrorBox title="Preview failed" error={text.error} />;
  if (!text.data) return <Loading what="preview" />;
  return (
    <>
      {text.data.truncated && <p class="notice">Showing the first {PREVIEW_LIMIT / 1024} KiB only.</p>}
      <pre class="file" data-testid="file-text">
        {kind === 'json' && !text.data.truncated ? prettyJson(text.data.text) : text.data.text}
      </pre>
    </>
  );
}
