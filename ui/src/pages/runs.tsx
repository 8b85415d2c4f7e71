import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { get, post, type Experiment, type Run } from '../api';
import { basename, formatTime, formatValue, runDuration } from '../format';
import { formatRoute, href, type Query } from '../route';
import { columnShown, columnsOf, foldRuns, formatPrefs, formatSort, mergeRuns, metric, orderBy, param, parsePrefs, parseSort, setColumnShown, sortKey, tag, toggleSort, type ColumnPrefs, type Row, type Sort } from '../runs';
import { ErrorBox, Loading, message, Show, useAction, useLoad } from '../ui';
import { nearEnd, scrollToRow, visibleWindow } from '../virtual';
import { GettingStarted } from './experiments';

const PAGE_SIZE = 500;
/** Preact 11 sets style numbers as given, without a unit. */
const px = (n: number) => `${n}px`;
const ROW_HEIGHT = 32;

interface Page {
  runs: Run[];
  token?: string;
  error?: string;
  loading: boolean;
}

export function RunsPage({ experimentId, query }: { experimentId: string; query: Query }) {
  const experiment = useLoad(() => get<{ experiment: Experiment }>('experiments/get', { experiment_id: experimentId }).then((r) => r.experiment), [experimentId]);
  return (
    <section class="runs-page">
      <div class="crumbs">
        <a href={href.experiments()}>Experiments</a> /
      </div>
      <Show load={experiment} what={`experiment ${experimentId}`}>
        {(exp) => (
          <>
            <div class="page-head">
              <h1>{exp.name}</h1>
              <span class="muted mono">ID {exp.experiment_id}</span>
              {exp.lifecycle_stage === 'deleted' && <span class="badge warn">deleted</span>}
            </div>
            <RunsTable experiment={exp} query={query} />
          </>
        )}
      </Show>
    </section>
  );
}

function RunsTable({ experiment, query }: { experiment: Experiment; query: Query }) {
  const filter = query.filter ?? '';
  const sort = parseSort(query.order);
  const [draft, setDraft] = useState(filter);
  const [page, setPage] = useState<Page>({ runs: [], loading: true });
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const prefsKey = `ferroflow.runs.columns.${experiment.experiment_id}`;
  // A link's `cols` wins over what this browser remembers.
  const [prefs, setPrefsState] = useState<ColumnPrefs>(() => parsePrefs(query.cols ?? localStorage.getItem(prefsKey)));
  const setPrefs = (p: ColumnPrefs) => {
    setPrefsState(p);
    try {
      localStorage.setItem(prefsKey, JSON.stringify(p));
    } catch {
      // storage full or disabled: the choice lasts for this page only
    }
    history.replaceState(null, '', formatRoute({ page: 'runs', experimentId: experiment.experiment_id, query: { filter, order: formatSort(sort), cols: formatPrefs(p) } }));
  };
  const seq = useRef(0);
  /** A page is being fetched (state alone lags behind a burst of scroll events). */
  const busy = useRef(false);
  const action = useAction();

  const fetchPage = async (token: string | undefined, prior: Run[]) => {
    const mine = ++seq.current;
    busy.current = true;
    setPage((p) => ({ ...p, loading: true, error: undefined }));
    try {
      const r = await post<{ runs?: Run[]; next_page_token?: string }>('runs/search', {
        experiment_ids: [experiment.experiment_id],
        filter: filter || undefined,
        order_by: orderBy(sort),
        max_results: PAGE_SIZE,
        page_token: token,
        run_view_type: 'ACTIVE_ONLY',
      });
      if (mine === seq.current) setPage({ runs: mergeRuns(prior, r.runs ?? []), token: r.next_page_token || undefined, loading: false });
    } catch (e) {
      if (mine === seq.current) setPage({ runs: prior, token, error: message(e), loading: false });
    } finally {
      if (mine === seq.current) busy.current = false;
    }
  };

  useEffect(() => {
    setDraft(filter);
    setPage({ runs: [], loading: true });
    fetchPage(undefined, []);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [filter, query.order, experiment.experiment_id]);

  const setQuery = (q: { filter?: string; sort?: Sort }) =>
    (location.hash = formatRoute({
      page: 'runs',
      experimentId: experiment.experiment_id,
      query: { filter: q.filter ?? filter, order: formatSort(q.sort ?? sort), cols: formatPrefs(prefs) },
    }));

  const rows = useMemo(() => foldRuns(page.runs, expanded), [page.runs, expanded]);
  const columns = useMemo(() => columnsOf(page.runs), [page.runs]);
  const visible = useMemo(
    () => ({
      params: columns.params.filter((k) => columnShown(prefs, 'params.' + k)),
      metrics: columns.metrics.filter((k) => columnShown(prefs, 'metrics.' + k)),
      tags: columns.tags.filter((k) => columnShown(prefs, 'tags.' + k)),
    }),
    [columns, prefs],
  );
  const loadMore = () => page.token && !busy.current && fetchPage(page.token, page.runs);

  const deleteSelected = () =>
    action.run(async () => {
      for (const id of selected) await post('runs/delete', { run_id: id });
      setSelected(new Set());
      setPage({ runs: [], loading: true });
      await fetchPage(undefined, []);
    });

  return (
    <>
      <form
        class="row filter"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ filter: draft.trim() });
        }}
      >
        <input
          type="search"
          class="grow mono"
          aria-label="Filter runs"
          placeholder="metrics.rmse < 0.8 and params.alpha = '0.5'"
          value={draft}
          onInput={(e) => setDraft(e.currentTarget.value)}
        />
        <button type="submit">Search</button>
        {filter && (
          <button type="button" onClick={() => setQuery({ filter: '' })}>
            Clear
          </button>
        )}
      </form>
      {page.error && <ErrorBox title={page.runs.length ? 'Loading more runs failed' : 'Search failed'} error={page.error} />}
      {action.error && <ErrorBox error={action.error} />}
      <div class="row toolbar">
        <span class="muted" data-testid="run-count">
          {page.runs.length} run{page.runs.length === 1 ? '' : 's'}
          {page.token ? ' loaded, more available' : ''}
        </span>
        <ColumnChooser columns={columns} prefs={prefs} onChange={setPrefs} />
        {selected.size > 0 && (
          <>
            <span>{selected.size} selected</span>
            <button
              class="primary"
              disabled={selected.size < 2}
              title={selected.size < 2 ? 'Select two or more runs to compare' : ''}
              onClick={() => (location.hash = href.compare([...selected], [experiment.experiment_id]))}
            >
              Compare
            </button>
            <button class="danger" disabled={action.busy} onClick={() => confirm(`Delete ${selected.size} run(s)?`) && deleteSelected()}>
              Delete selected
            </button>
            <button onClick={() => setSelected(new Set())}>Clear selection</button>
          </>
        )}
      </div>
      {page.runs.length === 0 && page.loading && <Loading what="runs" />}
      {page.runs.length === 0 && !page.loading && !page.error &&
        (filter ? <p class="muted">No run matches this filter.</p> : <GettingStarted experiment={experiment.name} />)}
      {page.runs.length > 0 && (
        <VirtualTable
          rows={rows}
          params={visible.params}
          metrics={visible.metrics}
          tags={visible.tags}
          sort={sort}
          onSort={(key) => setQuery({ sort: toggleSort(sort, key) })}
          selected={selected}
          onSelect={setSelected}
          onToggle={(id) => {
            const next = new Set(expanded);
            if (!next.delete(id)) next.add(id);
            setExpanded(next);
          }}
          onNearEnd={loadMore}
        />
      )}
      {page.token && (
        <div class="row">
          <button disabled={page.loading} onClick={loadMore}>
            {page.loading ? 'Loading…' : 'Load more runs'}
          </button>
        </div>
      )}
    </>
  );
}

/** Which param, metric and tag columns show; the choice is kept per experiment. */
function ColumnChooser({ columns, prefs, onChange }: { columns: { params: string[]; metrics: string[]; tags: string[] }; prefs: ColumnPrefs; onChange: (p: ColumnPrefs) => void }) {
  const groups: [string, 'params' | 'metrics' | 'tags'][] = [
    ['Parameters', 'params'],
    ['Metrics', 'metrics'],
    ['Tags', 'tags'],
  ];
  return (
    <details class="columns-menu">
      <summary>Columns</summary>
      <div class="menu" role="group" aria-label="Columns">
        {groups.map(([title, kind]) =>
          columns[kind].length ? (
            <>
              <h4>{title}</h4>
              {columns[kind].map((k) => {
                const id = `${kind}.${k}`;
                const on = columnShown(prefs, id);
                return (
                  <label class="check">
                    <input type="checkbox" aria-label={`Show column ${id}`} checked={on} onChange={() => onChange(setColumnShown(prefs, id, !on))} />
                    {k}
                  </label>
                );
              })}
            </>
          ) : null,
        )}
        {!columns.params.length && !columns.metrics.length && !columns.tags.length && <p class="muted">No params, metrics or tags yet.</p>}
      </div>
    </details>
  );
}

interface Column {
  label: string;
  title?: string;
  width: number;
  sort?: string;
  cls?: string;
  cell: (r: Row) => preact.ComponentChildren;
}

function baseColumns(onToggle: (id: string) => void): Column[] {
  return [
    {
      label: 'Run name',
      width: 230,
      sort: sortKey('attributes', 'run_name'),
      cell: ({ run, depth, children, expanded }) => (
        <span class="name" style={{ paddingLeft: px(depth * 18) }}>
          {children > 0 ? (
            <button class="fold" aria-expanded={expanded} aria-label={`${expanded ? 'Fold' : 'Unfold'} ${children} child runs`} onClick={() => onToggle(run.info.run_id)}>
              {expanded ? '▾' : '▸'}
              {children}
            </button>
          ) : (
            <span class="fold-space" />
          )}
          <a href={href.run(run.info.experiment_id, run.info.run_id)}>{run.info.run_name || run.info.run_id}</a>
          {(run.outputs?.model_outputs?.length || tag(run, 'mlflow.log-model.history')) && <span class="badge">model</span>}
        </span>
      ),
    },
    { label: 'Created', width: 172, sort: sortKey('attributes', 'start_time'), cell: ({ run }) => formatTime(run.info.start_time) },
    { label: 'Duration', width: 92, cell: ({ run }) => runDuration(run.info.start_time, run.info.end_time, run.info.status) },
    { label: 'User', width: 90, sort: sortKey('attributes', 'user_id'), cell: ({ run }) => run.info.user_id || tag(run, 'mlflow.user') },
    { label: 'Source', width: 130, cell: ({ run }) => basename(tag(run, 'mlflow.source.name')) },
    { label: 'Status', width: 90, sort: sortKey('attributes', 'status'), cell: ({ run }) => <span class={`status ${run.info.status}`}>{run.info.status}</span> },
  ];
}

/** Stands for rows out of view (a row needs a cell to take a height). */
function Spacer({ height, span }: { height: number; span: number }) {
  return (
    <tr class="spacer" aria-hidden="true">
      <td colSpan={span} style={{ height: px(height) }} />
    </tr>
  );
}

function VirtualTable(props: {
  rows: Row[];
  params: string[];
  metrics: string[];
  tags: string[];
  sort: Sort;
  onSort: (key: string) => void;
  selected: ReadonlySet<string>;
  onSelect: (s: ReadonlySet<string>) => void;
  onToggle: (id: string) => void;
  onNearEnd: () => void;
}) {
  const { rows, selected, onSelect } = props;
  const box = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 600 });
  const [cursor, setCursor] = useState(-1);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let frame = 0;
    const update = () => {
      frame = 0;
      setView({ top: el.scrollTop, height: el.clientHeight });
    };
    const onScroll = () => frame || (frame = requestAnimationFrame(update));
    update();
    el.addEventListener('scroll', onScroll, { passive: true });
    window.addEventListener('resize', onScroll);
    return () => {
      el.removeEventListener('scroll', onScroll);
      window.removeEventListener('resize', onScroll);
      cancelAnimationFrame(frame);
    };
  }, []);

  useEffect(() => {
    if (rows.length && nearEnd(view.top, view.height, ROW_HEIGHT, rows.length)) props.onNearEnd();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [view, rows.length]);

  const columns: Column[] = useMemo(
    () => [
      ...baseColumns(props.onToggle),
      ...props.params.map((k) => ({ label: k, title: `param ${k}`, width: 100, cls: 'param', sort: sortKey('params', k), cell: ({ run }: Row) => param(run, k) })),
      ...props.metrics.map((k) => ({ label: k, title: `metric ${k}`, width: 110, cls: 'metric num', sort: sortKey('metrics', k), cell: ({ run }: Row) => formatValue(metric(run, k)) })),
      ...props.tags.map((k) => ({ label: k, title: `tag ${k}`, width: 110, cls: 'tag', sort: sortKey('tags', k), cell: ({ run }: Row) => tag(run, k) })),
    ],
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [props.params, props.metrics, props.tags],
  );
  const width = 36 + columns.reduce((w, c) => w + c.width, 0);
  const win = visibleWindow(view.top, view.height, ROW_HEIGHT, rows.length);
  const allSelected = rows.length > 0 && rows.every((r) => selected.has(r.run.info.run_id));

  const toggle = (id: string) => {
    const next = new Set(selected);
    if (!next.delete(id)) next.add(id);
    onSelect(next);
  };
  const moveTo = (i: number) => {
    const idx = Math.max(0, Math.min(rows.length - 1, i));
    setCursor(idx);
    const el = box.current;
    const top = el && scrollToRow(idx, el.scrollTop, el.clientHeight - ROW_HEIGHT, ROW_HEIGHT);
    if (el && top != null) el.scrollTop = top + (top > el.scrollTop ? ROW_HEIGHT : 0);
  };
  const onKey = (e: KeyboardEvent) => {
    if ((e.target as HTMLElement).tagName === 'INPUT') return;
    const row = rows[cursor];
    if (e.key === 'ArrowDown' || e.key === 'j') moveTo(cursor + 1);
    else if (e.key === 'ArrowUp' || e.key === 'k') moveTo(cursor - 1);
    else if (e.key === 'Enter' && row) location.hash = href.run(row.run.info.experiment_id, row.run.info.run_id);
    else if (e.key === ' ' && row) toggle(row.run.info.run_id);
    else if ((e.key === 'ArrowRight' || e.key === 'ArrowLeft') && row?.children) {
      if (row.expanded !== (e.key === 'ArrowRight')) props.onToggle(row.run.info.run_id);
    } else return;
    e.preventDefault();
  };

  return (
    <div class="table-scroll" ref={box} tabIndex={0} onKeyDown={onKey} aria-label="Runs (arrow keys move, Enter opens, Space selects)">
      <table class="runs" style={{ width: px(width) }} data-testid="runs-table">
        <colgroup>
          <col style={{ width: px(36) }} />
          {columns.map((c) => (
            <col style={{ width: px(c.width) }} />
          ))}
        </colgroup>
        <thead>
          <tr>
            <th>
              <input
                type="checkbox"
                aria-label="Select all loaded runs"
                checked={allSelected}
                onChange={() => onSelect(allSelected ? new Set() : new Set(rows.map((r) => r.run.info.run_id)))}
              />
            </th>
            {columns.map((c) => (
              <th class={c.cls} title={c.title ?? c.label}>
                {c.sort ? (
                  <button class="sort" onClick={() => props.onSort(c.sort!)} aria-sort={props.sort.key === c.sort ? (props.sort.asc ? 'ascending' : 'descending') : undefined}>
                    {c.label}
                    {props.sort.key === c.sort ? (props.sort.asc ? ' ▲' : ' ▼') : ''}
                  </button>
                ) : (
                  c.label
                )}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {win.padTop > 0 && <Spacer height={win.padTop} span={columns.length + 1} />}
          {rows.slice(win.start, win.end).map((row, i) => {
            const id = row.run.info.run_id;
            return (
              <tr key={id} class={`r${win.start + i === cursor ? ' cursor' : ''}${selected.has(id) ? ' selected' : ''}`} data-run-id={id} onClick={() => setCursor(win.start + i)}>
                <td>
                  <input type="checkbox" aria-label={`Select run ${row.run.info.run_name ?? id}`} checked={selected.has(id)} onChange={() => toggle(id)} />
                </td>
                {columns.map((c) => (
                  <td class={c.cls}>{c.cell(row)}</td>
                ))}
              </tr>
            );
          })}
          {win.padBottom > 0 && <Spacer height={win.padBottom} span={columns.length + 1} />}
        </tbody>
      </table>
    </div>
  );
}
