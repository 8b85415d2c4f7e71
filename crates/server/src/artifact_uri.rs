//! Where a run's or logged model's artifacts live, as seen from the server.

use std::sync::Arc;

use ferroflow_artifacts::{ArtifactRepo, safe_path};
use ferroflow_core::{Error, Result, uri};

use crate::AppState;

/// A repository and the path of a location inside it.
pub struct Location {
    pub repo: Arc<dyn ArtifactRepo>,
    pub base: String,
}

impl Location {
    /// The repository path of `rel` under this location, validated.
    pub fn path(&self, rel: &str) -> Result<String> {
        Ok(ferroflow_artifacts::join(&self.base, &safe_path(rel)?))
    }
}

/// The proxy route inside an http(s) artifact URI.
const PROXY_ROUTE: &str = "/api/2.0/mlflow-artifacts/artifacts";

/// The path under the proxy's root of an `http(s)://<host>[/prefix]/api/2.0/mlflow-artifacts/artifacts/...`
/// URI, the form a `--default-artifact-root` that names the server itself gives runs.
fn proxied_http_path(artifact_uri: &str) -> Option<String> {
    let parts = uri::UriParts::parse(artifact_uri);
    if parts.scheme != "http" && parts.scheme != "https" {
        return None;
    }
    let at = parts.path.find(PROXY_ROUTE)?;
    let rest = &parts.path[at + PROXY_ROUTE.len()..];
    (rest.is_empty() || rest.starts_with('/'))
        .then(|| uri::percent_decode(rest.trim_start_matches('/')))
}

/// Resolves an artifact URI: `mlflow-artifacts:/...`, an http(s) URI through this server's
/// own proxy, or a storage URI (a local path, `file://`, `s3://`, `gs://`, `wasbs://`,
/// `abfss://`).
pub fn resolve(state: &AppState, artifact_uri: &str) -> Result<Location> {
    let proxied = match uri::mlflow_artifacts_path(artifact_uri) {
        Some(path) => Some(path.to_string()),
        None => proxied_http_path(artifact_uri),
    };
    if let Some(path) = proxied {
        // An http(s) location is read only when it names the host of this server's own
        // configured artifact root (MLflow's host policy); it is then this proxy's.
        if !artifact_uri.starts_with("mlflow-artifacts:") {
            state.config.host_policy.check_stored(artifact_uri)?;
        }
        let repo = state.artifacts.clone().ok_or_else(|| {
            Error::invalid_param(
                "This server was started with --no-serve-artifacts, so it does not serve mlflow-artifacts:/ URIs",
            )
        })?;
        return Ok(Location {
            repo,
            base: safe_path(&path)?,
        });
    }
    if artifact_uri.starts_with("http://") || artifact_uri.starts_with("https://") {
        return Err(Error::invalid_param(format!(
            "The artifact location '{artifact_uri}' is not this server's artifact proxy; it cannot be read here"
        )));
    }
    Ok(Location {
        repo: ferroflow_artifacts::open(artifact_uri)?,
        base: String::new(),
    })
}
