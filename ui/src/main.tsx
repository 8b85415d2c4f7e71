import { render } from 'preact';
import { signal } from '@preact/signals';
import { parseRoute, href, type Route } from './route';
import { ExperimentsPage } from './pages/experiments';
import { RunsPage } from './pages/runs';
import { RunPage } from './pages/run';
import { ComparePage } from './pages/compare';
import { ModelsPage, ModelPage, VersionPage } from './pages/models';
import { AdminPage } from './pages/admin';
import { AccountBadge } from './account';
import './style.css';

/** The current route; follows `location.hash`. */
export const route = signal<Route>(parseRoute(location.hash));
window.addEventListener('hashchange', () => {
  route.value = parseRoute(location.hash);
  window.scrollTo(0, 0);
});

function Page({ r }: { r: Route }) {
  switch (r.page) {
    case 'experiments':
      return <ExperimentsPage query={r.query} />;
    case 'runs':
      return <RunsPage key={r.experimentId} experimentId={r.experimentId} query={r.query} />;
    case 'run':
      return <RunPage key={r.runId} experimentId={r.experimentId} runId={r.runId} artifactPath={r.artifactPath} />;
    case 'compare':
      return <ComparePage query={r.query} />;
    case 'models':
      return <ModelsPage query={r.query} />;
    case 'model':
      return <ModelPage key={r.name} name={r.name} />;
    case 'version':
      return <VersionPage key={r.name + '/' + r.version} name={r.name} version={r.version} />;
    case 'admin':
      return <AdminPage />;
    case 'notfound':
      return (
        <div class="error" role="alert">
          No page at <code>{r.path}</code>. Go to the <a href={href.experiments()}>experiments</a>.
        </div>
      );
  }
}

function App() {
  const r = route.value;
  const section = r.page === 'models' || r.page === 'model' || r.page === 'version' ? 'models' : 'experiments';
  return (
    <>
      <header class="top">
        <a class="brand" href={href.experiments()}>
          Ferroflow
        </a>
        <nav>
          <a href={href.experiments()} class={section === 'experiments' ? 'active' : ''}>
            Experiments
          </a>
          <a href={href.models()} class={section === 'models' ? 'active' : ''}>
            Models
          </a>
        </nav>
        <AccountBadge />
      </header>
      <main>
        <Page r={r} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
