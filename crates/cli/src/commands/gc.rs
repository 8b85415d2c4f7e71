//! `ferroflow gc`: permanently removes deleted runs and experiments, artifacts first.

use std::sync::Arc;

use anyhow::{Result, bail};
use ferroflow_artifacts::{ArtifactRepo, LocalRepo};
use ferroflow_core::uri::{self, TrackingUri};

use super::user;
use crate::args::GcArgs;
use crate::printer::Printer;
use crate::tracking;

/// Parses `1d2h3m4s`-style durations into milliseconds.
pub fn parse_duration(s: &str) -> Result<i64> {
    let mut total: i64 = 0;
    let mut num = String::new();
    let mut any = false;
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            'd' => 86_400_000,
            'h' => 3_600_000,
            'm' => 60_000,
            's' => 1_000,
            _ => bail!("invalid duration '{s}': use numbers with d, h, m or s, e.g. 1d2h"),
        };
        let n: i64 = num.parse().map_err(|_| {
            anyhow::anyhow!("invalid duration '{s}': a unit needs a number before it")
        })?;
        total += n * unit;
        num.clear();
        any = true;
    }
    if !num.is_empty() || !any {
        bail!("invalid duration '{s}': every number needs a unit (d, h, m, s), e.g. 30d");
    }
    Ok(total)
}

pub async fn run(a: GcArgs, p: Printer) -> Result<()> {
    let older_than = a.older_than.as_deref().map(parse_duration).transpose()?;
    let backend = match a.backend_store_uri {
        Some(u) => u,
        None => {
            let t = tracking::tracking_uri();
            match TrackingUri::parse(&t).map_err(user)? {
                TrackingUri::Database(_) | TrackingUri::File(_) => t,
                _ => crate::env::DEFAULT_TRACKING_URI.to_string(),
            }
        }
    };
    let store = tracking::open_store(&backend, None).await?.tracking;
    let destination = a
        .artifacts_destination
        .clone()
        .unwrap_or_else(crate::tracking::default_artifacts_destination);
    let proxied: Arc<dyn ArtifactRepo> = ferroflow_artifacts::open(&destination).map_err(user)?;
    let garbage = store.garbage(older_than).await.map_err(user)?;

    for id in &a.run_ids {
        if let Some((_, versions)) = garbage.kept_runs.iter().find(|(r, _)| r == id) {
            bail!(
                "Run {id} is kept: registered model versions {} were made from it; delete them first",
                versions.join(", ")
            );
        }
        if !garbage.runs.iter().any(|r| &r.run_id == id) {
            bail!(
                "Run {id} is not in the deleted stage (or not old enough); only deleted runs can be removed"
            );
        }
    }
    for id in &a.experiment_ids {
        if !garbage.experiment_ids.contains(id) {
            bail!(
                "Experiment {id} is not in the deleted stage; only deleted experiments can be removed"
            );
        }
    }
    let filtered = !a.run_ids.is_empty() || !a.experiment_ids.is_empty();
    let runs: Vec<_> = garbage
        .runs
        .iter()
        .filter(|r| {
            !filtered
                || a.run_ids.contains(&r.run_id)
                || a.experiment_ids.contains(&r.experiment_id)
        })
        .collect();
    for run in &runs {
        delete_artifacts(&proxied, &run.artifact_uri).await?;
        store.purge_run(&run.run_id).await.map_err(user)?;
        p.out(format!(
            "Removed run {} ({})",
            run.run_id,
            run.run_name.as_deref().unwrap_or("")
        ));
    }
    for (run_id, versions) in &garbage.kept_runs {
        if !filtered || a.run_ids.contains(run_id) {
            p.note(format!(
                "Kept run {run_id}: registered model versions {} were made from it; delete them first",
                versions.join(", ")
            ));
        }
    }
    let experiments: Vec<_> = garbage
        .experiment_ids
        .iter()
        .filter(|e| !filtered || a.experiment_ids.contains(e))
        .collect();
    for id in experiments {
        let exp = store.get_experiment(id).await.map_err(user)?;
        match store.purge_experiment(id).await {
            Ok(()) => {
                delete_artifacts(&proxied, &exp.artifact_location).await?;
                p.out(format!("Removed experiment {id} ({})", exp.name));
            }
            Err(e) => p.note(format!("Kept experiment {id}: {}", e.message)),
        }
    }
    if runs.is_empty() && garbage.experiment_ids.is_empty() {
        p.note("Nothing to remove: no deleted runs or experiments");
    }
    Ok(())
}

async fn delete_artifacts(proxied: &Arc<dyn ArtifactRepo>, artifact_uri: &str) -> Result<()> {
    let (repo, path): (Arc<dyn ArtifactRepo>, String) =
        if let Some(path) = uri::mlflow_artifacts_path(artifact_uri) {
            (proxied.clone(), path.to_string())
        } else if let Some(local) = uri::local_path(artifact_uri) {
            (Arc::new(LocalRepo::new(local)), String::new())
        } else if ferroflow_artifacts::is_object_store(artifact_uri) {
            (
                ferroflow_artifacts::open(artifact_uri).map_err(user)?,
                String::new(),
            )
        } else {
            tracing::warn!(
                artifact_uri,
                "cannot delete artifacts in this store; leaving them"
            );
            return Ok(());
        };
    if path.is_empty() && !ferroflow_artifacts::is_object_store(artifact_uri) {
        // A whole local directory: remove it if present.
        if let Some(local) = uri::local_path(artifact_uri) {
            match tokio::fs::remove_dir_all(&local).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(anyhow::anyhow!("cannot delete artifacts at {local}: {e}")),
            }
        }
        return Ok(());
    }
    match repo.delete(&path).await {
        Ok(()) => Ok(()),
        Err(e) if e.code == ferroflow_core::ErrorCode::RESOURCE_DOES_NOT_EXIST => Ok(()),
        Err(e) => Err(user(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1d2h").unwrap(), 86_400_000 + 7_200_000);
        assert_eq!(parse_duration("45s").unwrap(), 45_000);
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("").is_err());
    }
}
