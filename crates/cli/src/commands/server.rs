//! `ferroflow server` / `ferroflow ui`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use ferroflow_artifacts::ArtifactRepo;
use ferroflow_core::host_policy::HostPolicy;
use ferroflow_core::uri::{self, TrackingUri};
use ferroflow_server::{AppState, ServerConfig, default_allowed_hosts};
use ferroflow_store::OpenedKind;
use ferroflow_store::file::is_file_store;
use ferroflow_store::sql::MigrationOutcome;

use crate::args::ServerArgs;
use crate::discovery;
use crate::env;
use crate::printer::Printer;
use crate::tracking::{default_artifacts_destination, local_artifact_root, open_store};

fn absolute(path: &str) -> String {
    let p = Path::new(path);
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    // Drop `.` components for a clean path in messages and URIs.
    abs.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect::<std::path::PathBuf>()
        .display()
        .to_string()
}

pub async fn run(a: ServerArgs, p: Printer) -> Result<()> {
    let backend = match a.backend_store_uri.clone() {
        Some(u) => u,
        // The seeds' default: runs logged with no tracking URI live in ./mlruns.
        None if is_file_store(Path::new("mlruns")) && !Path::new("mlflow.db").exists() => {
            "./mlruns".to_string()
        }
        None => env::DEFAULT_TRACKING_URI.to_string(),
    };
    if let TrackingUri::Http(_) =
        TrackingUri::parse(&backend).map_err(|e| anyhow::anyhow!(e.message))?
    {
        bail!(
            "--backend-store-uri must be a database URI such as sqlite:///mlflow.db or a file store directory, not a server URL"
        );
    }
    let serve_artifacts = if a.no_serve_artifacts {
        false
    } else {
        a.serve_artifacts || env::flag(env::MLFLOW_SERVE_ARTIFACTS).unwrap_or(true)
    };
    let default_root = match &a.default_artifact_root {
        Some(r) => r.clone(),
        None if serve_artifacts => "mlflow-artifacts:/".to_string(),
        None => local_artifact_root(),
    };
    if !serve_artifacts && default_root.starts_with("mlflow-artifacts:") {
        bail!(
            "--default-artifact-root {default_root} needs artifact serving; drop --no-serve-artifacts or choose another root"
        );
    }
    let destination = if serve_artifacts {
        let given = a
            .artifacts_destination
            .clone()
            .unwrap_or_else(default_artifacts_destination);
        let dest = if ferroflow_artifacts::is_object_store(&given) {
            given
        } else {
            let dest = uri::local_path(&given).ok_or_else(|| {
                anyhow::anyhow!(
                    "--artifacts-destination {given} is neither a local directory nor an s3://, gs://, wasbs:// or abfss:// URI"
                )
            })?;
            let dest = absolute(&dest);
            std::fs::create_dir_all(&dest)
                .with_context(|| format!("cannot create the artifacts destination {dest}"))?;
            dest
        };
        Some(dest)
    } else {
        None
    };
    let prefix = match a
        .static_prefix
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "/")
    {
        Some(s) if !s.starts_with('/') => bail!("--static-prefix must start with '/', got '{s}'"),
        Some(s) => s.trim_end_matches('/').to_string(),
        None => String::new(),
    };
    let mut allowed_hosts = if a.allowed_hosts.is_empty() {
        default_allowed_hosts()
    } else {
        a.allowed_hosts.clone()
    };
    if a.allowed_hosts.is_empty() && a.host != "0.0.0.0" && a.host != "::" {
        allowed_hosts.push(a.host.clone());
        allowed_hosts.push(format!("{}:*", a.host));
    }
    if a.gunicorn_opts.is_some() || a.uvicorn_opts.is_some() || a.waitress_opts.is_some() {
        p.note("note: --gunicorn-opts/--uvicorn-opts/--waitress-opts are ignored; Ferroflow is one multi-threaded process");
    }

    let opened = open_store(&backend, Some(&default_root)).await?;
    match &opened.kind {
        OpenedKind::Sql(MigrationOutcome::Created) => {
            p.note(format!(
                "Created a new MLflow database at {}",
                ferroflow_core::uri::without_password(&backend)
            ))
        }
        OpenedKind::Sql(_) => {}
        OpenedKind::File(root) => p.note(format!(
            "Serving the MLflow file store in {} (move it to a database with `ferroflow migrate-filestore --source {} --target sqlite:///mlflow.db`)",
            root.display(),
            root.display()
        )),
    }
    let artifacts: Option<Arc<dyn ArtifactRepo>> = match &destination {
        Some(d) => Some(
            ferroflow_artifacts::open(d)
                .map_err(|e| anyhow::anyhow!("--artifacts-destination {d}: {}", e.message))?,
        ),
        None => None,
    };
    let config = ServerConfig {
        host: a.host.clone(),
        port: a.port,
        backend_store_uri: backend.clone(),
        default_artifact_root: default_root.clone(),
        artifacts_destination: destination.clone(),
        allowed_hosts,
        cors_allowed_origins: a
            .cors_allowed_origins
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        static_prefix: prefix.clone(),
        x_frame_options: ferroflow_server::x_frame_options(&a.x_frame_options)
            .map_err(anyhow::Error::msg)?,
        host_policy: HostPolicy::new(
            &[default_root.as_str()],
            &env::var(env::MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES).unwrap_or_default(),
        ),
        max_artifact_location_length: match env::var(env::MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH) {
            Some(v) => v.trim().parse().with_context(|| {
                format!(
                    "{} must be a number, got '{v}'",
                    env::MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH
                )
            })?,
            None => ferroflow_core::validation::MAX_ARTIFACT_LOCATION_LENGTH,
        },
    };
    let (listener, addr) = super::listen(&a.host, a.port).await?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(a.port);
    let _announcement =
        discovery::announce(&backend, &discovery::client_url(&a.host, port, &prefix));
    let state = AppState {
        store: opened.tracking,
        registry: opened.registry,
        artifacts,
        config: std::sync::Arc::new(config),
        auth: None,
    };
    let state = match a.app_name.as_deref() {
        None => state,
        Some("basic-auth") => {
            let config = ferroflow_auth::AuthConfig::from_env()
                .map_err(|e| anyhow::anyhow!("--app-name basic-auth: {}", e.message))?;
            let db = ferroflow_core::uri::without_password(&config.database_uri);
            let auth = ferroflow_auth::Auth::open(config)
                .await
                .map_err(|e| anyhow::anyhow!("--app-name basic-auth: {}", e.message))?;
            p.note(format!(
                "Basic authentication on (users and permissions in {db})"
            ));
            state.with_auth(auth)
        }
        Some(other) => bail!(
            "--app-name {other}: the one app Ferroflow has is basic-auth (MLflow's HTTP basic authentication)"
        ),
    };
    p.note(format!(
        "Ferroflow {} listening on http://{addr}{prefix}  (backend {}, artifacts {})",
        env!("CARGO_PKG_VERSION"),
        ferroflow_core::uri::without_password(&backend),
        destination.as_deref().unwrap_or("not served")
    ));
    ferroflow_server::serve(
        state,
        listener,
        super::connection_limits(&a.connections),
        super::shutdown_signal(),
    )
    .await
    .context("the server stopped with an error")?;
    p.note("Ferroflow stopped");
    Ok(())
}
