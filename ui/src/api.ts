// The REST client: MLflow's API under `ajax-api/2.0/mlflow/`, relative to the page's
// <base href> so the UI works under --static-prefix. Errors carry the server's message.

export interface KV {
  key: string;
  value: string;
}
export interface MetricValue {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}
export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage: string;
  creation_time?: number;
  last_update_time?: number;
  tags?: KV[];
}
export interface RunInfo {
  run_id: string;
  run_name?: string;
  experiment_id: string;
  user_id?: string;
  status: string;
  start_time?: number;
  end_time?: number;
  artifact_uri?: string;
  lifecycle_stage: string;
}
export interface Run {
  info: RunInfo;
  data: { metrics?: MetricValue[]; params?: KV[]; tags?: KV[] };
  outputs?: { model_outputs?: { model_id: string; step: number }[] };
}
/** A logged model (MLflow 3), as `logged-models/search` answers it. */
export interface LoggedModel {
  info: { model_id: string; name: string; artifact_uri?: string; source_run_id?: string; experiment_id: string };
}
export interface FileInfo {
  path: string;
  is_dir: boolean;
  file_size?: number;
}
export interface ModelVersion {
  name: string;
  version: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  current_stage?: string;
  description?: string;
  source?: string;
  run_id?: string;
  status?: string;
  tags?: KV[];
  aliases?: string[];
}
export interface RegisteredModel {
  name: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  description?: string;
  latest_versions?: ModelVersion[];
  aliases?: { alias: string; version: string }[];
  tags?: KV[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const API = 'ajax-api/2.0/mlflow/';
/** MLflow 3's routes (the basic-auth permission routes live there). */
export const API3 = 'ajax-api/3.0/mlflow/';
const TIMEOUT_MS = 30_000;

/**
 * `path` as a URL relative to the page, or an error when it would leave this origin.
 * The browser attaches the cached basic-auth credentials to every request to the
 * server, so the UI must never build a URL that points anywhere else: no scheme, no
 * `//host`, no backslash tricks browsers read as `/`.
 */
export function sameOrigin(path: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(path) || /^[\\/]{2}/.test(path) || path.startsWith('\\')) {
    throw new Error(`Refusing to call ${path}: API URLs stay on this server.`);
  }
  return path;
}

type Params = Record<string, string | number | boolean | string[] | undefined>;

function queryString(params: Params): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) q.append(k, String(item));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

async function errorOf(resp: Response): Promise<ApiError> {
  const text = await resp.text().catch(() => '');
  try {
    const body = JSON.parse(text);
    if (body && typeof body.message === 'string') {
      return new ApiError(resp.status, body.error_code ?? 'ERROR', body.message);
    }
  } catch {
    // not JSON: fall through
  }
  const detail = text.trim().slice(0, 300) || resp.statusText;
  return new ApiError(resp.status, 'HTTP_' + resp.status, `The server answered ${resp.status}${detail ? ': ' + detail : ''}`);
}

/** The relative URL `call` requests: GET params in the query. */
export function apiUrl(method: string, path: string, params: Params = {}, prefix = API): string {
  return sameOrigin(prefix + path + (method === 'GET' ? queryString(params) : ''));
}

/** One API call: GET params go in the query, others in a JSON body. */
export async function call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, params: Params = {}, prefix = API): Promise<T> {
  const url = apiUrl(method, path, params, prefix);
  let resp: Response;
  try {
    resp = await fetch(url, {
      method,
      // Explicit: credentials (the cached basic-auth ones) only go to this origin.
      credentials: 'same-origin',
      headers: method === 'GET' ? {} : { 'Content-Type': 'application/json' },
      body: method === 'GET' ? undefined : JSON.stringify(params),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (e) {
    if ((e as Error).name === 'TimeoutError') {
      throw new ApiError(0, 'TIMEOUT', `The server did not answer ${path} within ${TIMEOUT_MS / 1000} s.`);
    }
    throw new ApiError(0, 'NETWORK', `Cannot reach the Ferroflow server (${(e as Error).message}).`);
  }
  if (!resp.ok) throw await errorOf(resp);
  const text = await resp.text();
  try {
    return (text ? JSON.parse(text) : {}) as T;
  } catch {
    throw new ApiError(resp.status, 'BAD_RESPONSE', `The server sent a response that is not JSON from ${path}.`);
  }
}

export const get = <T>(path: string, params?: Params) => call<T>('GET', path, params);
export const post = <T>(path: string, params?: Params) => call<T>('POST', path, params);
export const patch = <T>(path: string, params?: Params) => call<T>('PATCH', path, params);
export const del = <T>(path: string, params?: Params) => call<T>('DELETE', path, params);
/** The same under `ajax-api/3.0/mlflow/`. */
export const get3 = <T>(path: string, params?: Params) => call<T>('GET', path, params, API3);
export const post3 = <T>(path: string, params?: Params) => call<T>('POST', path, params, API3);

/** The download URL of a run artifact (served by the server's /get-artifact). */
export function artifactUrl(runId: string, path: string): string {
  return sameOrigin('get-artifact' + queryString({ path, run_uuid: runId }));
}

/** The download URL of a file of a logged model (MLflow 3). */
export function loggedModelFileUrl(modelId: string, path: string): string {
  return sameOrigin(API + `logged-models/${encodeURIComponent(modelId)}/artifacts/files` + queryString({ artifact_file_path: path }));
}

/**
 * The first `limit` bytes of the file at `url` as text; reading stops there even when the
 * listing did not know the size. `truncated` says whether there was more.
 */
export async function readArtifactHead(url: string, limit: number): Promise<{ text: string; truncated: boolean }> {
  const resp = await fetch(sameOrigin(url), { credentials: 'same-origin', headers: { Range: `bytes=0-${limit - 1}` } });
  if (!resp.ok) throw await errorOf(resp);
  const reader = resp.body?.getReader();
  if (!reader) return { text: '', truncated: false };
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
    if (size > limit) {
      truncated = true;
      await reader.cancel();
      break;
    }
  }
  const bytes = new Uint8Array(Math.min(size, limit));
  let at = 0;
  for (const c of chunks) {
    const part = c.subarray(0, Math.min(c.length, bytes.length - at));
    bytes.set(part, at);
    at += part.length;
    if (at >= bytes.length) break;
  }
  return { text: new TextDecoder().decode(bytes), truncated };
}

/** The server's own origin and prefix, for `MLFLOW_TRACKING_URI`. */
export function trackingUri(): string {
  return new URL('.', document.baseURI).href.replace(/\/$/, '');
}
