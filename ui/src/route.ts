// Hash routes with MLflow's URL shapes, so bookmarks of MLflow's UI keep working:
// #/experiments, #/experiments/<id>, #/experiments/<id>/runs/<run_id>[/artifacts/<path>],
// #/models, #/models/<name>, #/models/<name>/versions/<n>,
// #/admin (users and permissions, with the basic-auth app),
// #/compare-runs?runs=["<id>",...]&experiments=["<id>",...]. A query after `?` carries
// page state that deep-links (the runs filter and sort).

export type Query = Record<string, string>;

export type Route =
  | { page: 'experiments'; query: Query }
  | { page: 'runs'; experimentId: string; query: Query }
  | { page: 'run'; experimentId: string; runId: string; artifactPath: string; query: Query }
  | { page: 'compare'; query: Query }
  | { page: 'models'; query: Query }
  | { page: 'model'; name: string; query: Query }
  | { page: 'version'; name: string; version: string; query: Query }
  | { page: 'admin'; query: Query }
  | { page: 'notfound'; path: string; query: Query };

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function parseQuery(qs: string): Query {
  const query: Query = {};
  for (const [k, v] of new URLSearchParams(qs)) query[k] = v;
  return query;
}

/** The route of a `location.hash` (with or without the leading `#`). */
export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = q < 0 ? {} : parseQuery(raw.slice(q + 1));
  const parts = path.split('/').filter((p) => p !== '').map(decode);
  const [head, a, b, c, ...rest] = parts;
  if (parts.length === 0) return { page: 'experiments', query };
  if (head === 'experiments') {
    if (a === undefined) return { page: 'experiments', query };
    if (b === undefined) return { page: 'runs', experimentId: a, query };
    if (b === 'runs' && c !== undefined) {
      const artifactPath = rest[0] === 'artifacts' ? rest.slice(1).join('/') : '';
      if (rest.length === 0 || rest[0] === 'artifacts') {
        return { page: 'run', experimentId: a, runId: c, artifactPath, query };
      }
    }
  }
  if (head === 'compare-runs' && a === undefined) return { page: 'compare', query };
  if (head === 'admin' && a === undefined) return { page: 'admin', query };
  if (head === 'models') {
    if (a === undefined) return { page: 'models', query };
    if (b === undefined) return { page: 'model', name: a, query };
    if (b === 'versions' && c !== undefined && rest.length === 0) {
      return { page: 'version', name: a, version: c, query };
    }
  }
  return { page: 'notfound', path: '/' + parts.join('/'), query };
}

const enc = encodeURIComponent;

function formatQuery(query: Query): string {
  const entries = Object.entries(query).filter(([, v]) => v !== '');
  return entries.length ? '?' + new URLSearchParams(entries).toString() : '';
}

/** The hash (with `#`) of a route; `parseRoute(formatRoute(r))` gives `r` back. */
export function formatRoute(route: Route): string {
  let path: string;
  switch (route.page) {
    case 'experiments':
      path = '/experiments';
      break;
    case 'runs':
      path = `/experiments/${enc(route.experimentId)}`;
      break;
    case 'run':
      path = `/experiments/${enc(route.experimentId)}/runs/${enc(route.runId)}`;
      if (route.artifactPath) path += '/artifacts/' + route.artifactPath.split('/').map(enc).join('/');
      break;
    case 'compare':
      path = '/compare-runs';
      break;
    case 'models':
      path = '/models';
      break;
    case 'model':
      path = `/models/${enc(route.name)}`;
      break;
    case 'version':
      path = `/models/${enc(route.name)}/versions/${enc(route.version)}`;
      break;
    case 'admin':
      path = '/admin';
      break;
    case 'notfound':
      path = route.path;
      break;
  }
  return '#' + path + formatQuery(route.query);
}

/** Shorthands for links. */
export const href = {
  experiments: () => formatRoute({ page: 'experiments', query: {} }),
  runs: (experimentId: string, query: Query = {}) => formatRoute({ page: 'runs', experimentId, query }),
  run: (experimentId: string, runId: string, artifactPath = '') =>
    formatRoute({ page: 'run', experimentId, runId, artifactPath, query: {} }),
  compare: (runIds: string[], experimentIds: string[]) =>
    formatRoute({ page: 'compare', query: { runs: JSON.stringify(runIds), experiments: JSON.stringify(experimentIds) } }),
  admin: () => formatRoute({ page: 'admin', query: {} }),
  models: () => formatRoute({ page: 'models', query: {} }),
  model: (name: string) => formatRoute({ page: 'model', name, query: {} }),
  version: (name: string, version: string | number) =>
    formatRoute({ page: 'version', name, version: String(version), query: {} }),
};
