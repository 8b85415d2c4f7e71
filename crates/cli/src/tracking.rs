//! Opening the tracking store and artifact repositories a command needs, from URIs.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use ferroflow_artifacts::{ArtifactRepo, LocalRepo};
use ferroflow_client::{Credentials, HttpArtifactRepo, RestStore};
use ferroflow_core::uri::{self, TrackingUri};
use ferroflow_core::validation::LongValues;
use ferroflow_store::{RegistryStore, TrackingStore};

use crate::env;

/// The tracking URI of client commands: MLFLOW_TRACKING_URI, or the local default database.
pub fn tracking_uri() -> String {
    env::var(env::MLFLOW_TRACKING_URI).unwrap_or_else(|| env::DEFAULT_TRACKING_URI.to_string())
}

/// Where a client command logs and reads: MLFLOW_TRACKING_URI when set; otherwise the
/// ferroflow server that announced itself for the local default database, if one runs
/// (see `discovery`); otherwise that database.
pub async fn client_uri() -> String {
    if let Some(uri) = env::var(env::MLFLOW_TRACKING_URI) {
        return uri;
    }
    match crate::discovery::find(env::DEFAULT_TRACKING_URI).await {
        Some(url) => url,
        None => env::DEFAULT_TRACKING_URI.to_string(),
    }
}

/// `uri` with a relative SQLite path made absolute against `cwd`, for a process that runs
/// in another directory.
pub fn absolute_tracking_uri(uri: &str, cwd: &Path) -> String {
    match uri.strip_prefix("sqlite:///") {
        Some(rel) if !rel.starts_with('/') && !rel.is_empty() && !rel.starts_with(":memory:") => {
            format!("sqlite:///{}", cwd.join(rel).display())
        }
        _ => uri.to_string(),
    }
}

pub fn long_values() -> LongValues {
    if env::flag(env::MLFLOW_TRUNCATE_LONG_VALUES) == Some(false) {
        LongValues::Reject
    } else {
        LongValues::Truncate
    }
}

fn credentials() -> Credentials {
    Credentials {
        token: env::var(env::MLFLOW_TRACKING_TOKEN),
        username: env::var(env::MLFLOW_TRACKING_USERNAME),
        password: env::var(env::MLFLOW_TRACKING_PASSWORD),
        insecure_tls: env::flag(env::MLFLOW_TRACKING_INSECURE_TLS).unwrap_or(false),
    }
}

/// An absolute `./mlruns`, where runs logged straight to a database keep their artifacts
/// (as MLflow's Python client does).
pub fn local_artifact_root() -> String {
    std::env::current_dir()
        .map(|d| d.join("mlruns").display().to_string())
        .unwrap_or_else(|_| "./mlruns".into())
}

/// Where a server keeps proxied artifacts when `--artifacts-destination` is not given:
/// `./mlartifacts` when it exists (what MLflow 3's server writes, so its artifacts stay
/// found), else `./mlruns`, the seeds' layout (`mlruns/<experiment_id>/<run_id>/artifacts`).
pub fn default_artifacts_destination() -> String {
    if std::path::Path::new("mlartifacts").is_dir() {
        "./mlartifacts".to_string()
    } else {
        "./mlruns".to_string()
    }
}

/// Opens the database or file store at `uri`. `default_artifact_root` is where new
/// experiments keep artifacts (`None`: `./mlruns` beside a database, the file store's
/// own folders inside one, as MLflow's client does).
pub async fn open_store(
    uri: &str,
    default_artifact_root: Option<&str>,
) -> Result<ferroflow_store::Opened> {
    ferroflow_store::open(
        uri,
        ferroflow_store::OpenOptions {
            default_artifact_root: default_artifact_root.map(str::to_string),
            database_artifact_root: local_artifact_root(),
            long_values: long_values(),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", e.message))
    .with_context(|| {
        format!(
            "cannot open the backend store {}",
            ferroflow_core::uri::without_password(uri)
        )
    })
}

/// The tracking store behind `uri`, and for http URIs the client for its artifact proxy.
pub struct Tracking {
    pub store: Arc<dyn TrackingStore>,
    /// The model registry, at the same URI.
    pub registry: Arc<dyn RegistryStore>,
    pub rest: Option<RestStore>,
}

impl Tracking {
    /// The artifact URI behind a `runs:/`, `models:/` or artifact URI.
    pub async fn artifact_uri(&self, any_uri: &str) -> Result<String> {
        ferroflow_store::model_uri::artifact_uri(
            self.store.as_ref(),
            self.registry.as_ref(),
            any_uri,
        )
        .await
        .map_err(|e| anyhow::anyhow!(e.message))
    }
}

pub async fn open(uri: &str) -> Result<Tracking> {
    match TrackingUri::parse(uri).map_err(|e| anyhow::anyhow!(e.message))? {
        TrackingUri::Http(base) => {
            let rest =
                RestStore::new(&base, credentials()).map_err(|e| anyhow::anyhow!(e.message))?;
            Ok(Tracking {
                store: Arc::new(rest.clone()),
                registry: Arc::new(rest.clone()),
                rest: Some(rest),
            })
        }
        TrackingUri::Database(_) | TrackingUri::File(_) => {
            let opened = open_store(uri, None).await?;
            Ok(Tracking {
                store: opened.tracking,
                registry: opened.registry,
                rest: None,
            })
        }
    }
}

/// The repository holding an artifact URI, and the path of the URI inside it.
pub fn artifact_repo(t: &Tracking, artifact_uri: &str) -> Result<(Arc<dyn ArtifactRepo>, String)> {
    if let Some(path) = uri::mlflow_artifacts_path(artifact_uri) {
        let rest = match artifact_uri.strip_prefix("mlflow-artifacts://") {
            Some(rest) => {
                let host = rest.split('/').next().unwrap_or_default();
                RestStore::new(&format!("http://{host}"), credentials())
                    .map_err(|e| anyhow::anyhow!(e.message))?
            }
            None => match &t.rest {
                Some(r) => r.clone(),
                None => bail!(
                    "'{artifact_uri}' lives on a tracking server's artifact proxy; set MLFLOW_TRACKING_URI to that server (e.g. http://127.0.0.1:5000)"
                ),
            },
        };
        return Ok((Arc::new(HttpArtifactRepo::new(rest)), path.to_string()));
    }
    if let Some(path) = uri::local_path(artifact_uri) {
        // A file is served from its directory, so that it keeps its name.
        let p = Path::new(&path);
        if p.is_file() {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            let parent = p.parent().map(Path::to_path_buf).unwrap_or_default();
            return Ok((Arc::new(LocalRepo::new(parent)), name));
        }
        return Ok((Arc::new(LocalRepo::new(p)), String::new()));
    }
    if ferroflow_artifacts::is_object_store(artifact_uri) {
        // Rooted at the parent, so that a URI naming one object downloads as that file.
        let trimmed = artifact_uri.trim_end_matches('/');
        let (parent, name) = match trimmed.rsplit_once('/') {
            Some((parent, name)) if !parent.ends_with(':') && !parent.ends_with(":/") => {
                (parent, name)
            }
            _ => (trimmed, ""),
        };
        let repo = ferroflow_artifacts::open(parent).map_err(|e| anyhow::anyhow!(e.message))?;
        return Ok((repo, name.to_string()));
    }
    bail!(
        "Artifact URI '{artifact_uri}' uses a scheme Ferroflow cannot read (supported: mlflow-artifacts:/, file:, local paths, s3://, gs://, wasbs://, abfss://)"
    )
}
