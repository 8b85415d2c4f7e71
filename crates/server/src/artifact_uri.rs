//! Where a run's or logged model's artifacts live, as seen from the server.

use std::sync::Arc;

use ferroflow_artifacts::{ArtifactRepo, LocalRepo, safe_path};
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

/// Resolves an artifact URI (`mlflow-artifacts:/...`, a local path or `file://` URI).
pub fn resolve(state: &AppState, artifact_uri: &str) -> Result<Location> {
    if let Some(path) = uri::mlflow_artifacts_path(artifact_uri) {
        let repo = state.artifacts.clone().ok_or_else(|| {
            Error::invalid_param(
                "This server was started with --no-serve-artifacts, so it does not serve mlflow-artifacts:/ URIs",
            )
        })?;
        return Ok(Location {
            repo,
            base: safe_path(path)?,
        });
    }
    if let Some(path) = uri::local_path(artifact_uri) {
        return Ok(Location {
            repo: Arc::new(LocalRepo::new(path)),
            base: String::new(),
        });
    }
    Err(Error::invalid_param(format!(
        "The artifact location '{artifact_uri}' uses a scheme this server cannot read yet; only mlflow-artifacts:/ and local paths are served"
    )))
}
