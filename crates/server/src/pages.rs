//! The plain page at `/` of a binary built without the web UI: the version, the API, and
//! how to build the UI into the binary.

use axum::extract::State;
use axum::response::Html;

use crate::AppState;

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub async fn index(State(s): State<AppState>) -> Html<String> {
    let c = &s.config;
    let prefix = c.static_prefix.trim_end_matches('/');
    let artifacts = match &c.artifacts_destination {
        Some(d) => format!("proxied into <code>{}</code>", escape(d)),
        None => "not proxied (--no-serve-artifacts)".into(),
    };
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ferroflow</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem}}code,pre{{background:#f3f3f3;padding:.1em .3em;border-radius:4px}}@media(prefers-color-scheme:dark){{body{{background:#111;color:#ddd}}code,pre{{background:#222}}}}</style></head>
<body>
<h1>Ferroflow {version}</h1>
<p>An MLflow-compatible tracking server (REST API of MLflow {mlflow}). The web UI is not built into this binary.</p>
<p>To build it: <code>cd ui &amp;&amp; npm ci &amp;&amp; npm run build</code>, then rebuild ferroflow (<code>cargo build</code>), or run <code>scripts/run.sh</code>.</p>
<p>Backend store: <code>{store}</code><br>Default artifact root: <code>{root}</code><br>Artifacts: {artifacts}</p>
<h2>Log to it</h2>
<pre>export MLFLOW_TRACKING_URI=http://{host}:{port}{prefix}
python -c 'import mlflow; mlflow.start_run(); mlflow.log_metric("x", 1.0)'</pre>
<h2>API</h2>
<ul>
<li><a href="{prefix}/api/2.0/mlflow/experiments/search?max_results=100">/api/2.0/mlflow/experiments/search</a></li>
<li><a href="{prefix}/api/3.0/mlflow/server-info">/api/3.0/mlflow/server-info</a></li>
<li><a href="{prefix}/health">/health</a> · <a href="{prefix}/version">/version</a></li>
</ul>
</body></html>"#,
        version = env!("CARGO_PKG_VERSION"),
        mlflow = ferroflow_core::MLFLOW_COMPAT_VERSION,
        store = escape(&ferroflow_core::uri::without_password(&c.backend_store_uri)),
        root = escape(&c.default_artifact_root),
        host = escape(&c.host),
        port = c.port,
        prefix = escape(prefix),
    ))
}
