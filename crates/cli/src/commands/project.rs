//! `ferroflow run`: an MLflow project as an MLflow run (the work is in `ferroflow-projects`).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use anyhow::{Result, anyhow, bail};
use ferroflow_core::entities::RunStatus;
use ferroflow_projects::env::EnvManager;
use ferroflow_projects::runner::{self, Fetcher, RunRequest};

use super::artifacts;

use crate::args::RunArgs;
use crate::printer::Printer;
use crate::tracking;

/// Runs the project; answers the exit code of its command.
pub async fn run(a: RunArgs, p: Printer) -> Result<u8> {
    if a.backend != "local" {
        bail!(
            "--backend {}: ferroflow runs projects on the local backend only",
            a.backend
        );
    }
    let params = a
        .params
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(anyhow!("-P {kv}: a parameter is KEY=VALUE")),
        })
        .collect::<Result<Vec<_>>>()?;
    let env_manager = if a.no_conda {
        Some(EnvManager::Local)
    } else {
        a.env_manager
            .as_deref()
            .map(EnvManager::parse)
            .transpose()?
    };
    let uri = tracking::client_uri().await;
    if crate::env::var(crate::env::MLFLOW_TRACKING_URI).is_none() && uri.starts_with("http") {
        p.note(format!(
            "Logging to the ferroflow server at {uri}, which serves ./mlflow.db"
        ));
    }
    let t = tracking::open(&uri).await?;
    let cwd = std::env::current_dir()?;
    let req = RunRequest {
        uri: a.uri,
        entry_point: a.entry_point,
        version: a.version,
        params,
        experiment_id: a.experiment_id,
        experiment_name: a.experiment_name,
        run_name: a.run_name,
        env_manager,
        tracking_uri: tracking::absolute_tracking_uri(&uri, &cwd),
        cache_dir: crate::env::cache_dir(),
        cwd,
        user: runner::current_user(),
    };
    let say = |m: &str| p.note(m);
    let fetcher = ArtifactFetcher { t: &t, p };
    let outcome = runner::run(t.store.as_ref(), &fetcher, req, &say).await?;
    let id = &outcome.run_id;
    match outcome.status {
        RunStatus::Finished => p.note(format!("Run {id} succeeded")),
        RunStatus::Killed => p.note(format!("Run {id} was interrupted and marked KILLED")),
        _ => p.note(format!(
            "Run {id} failed: the command exited with status {}",
            outcome.exit_code
        )),
    }
    Ok(u8::try_from(outcome.exit_code).unwrap_or(1))
}

/// Downloads `path` parameters given as URIs, as `ferroflow artifacts download` does.
struct ArtifactFetcher<'t> {
    t: &'t tracking::Tracking,
    p: Printer,
}

impl Fetcher for ArtifactFetcher<'_> {
    fn fetch<'a>(
        &'a self,
        uri: &'a str,
        dest: &'a Path,
    ) -> Pin<Box<dyn Future<Output = std::result::Result<PathBuf, String>> + Send + 'a>> {
        Box::pin(async move {
            artifacts::download_uri(self.t, uri, dest, &self.p)
                .await
                .map_err(|e| e.to_string())
        })
    }
}
