//! Resolving `models:/` URIs to the artifact URI of a model: the one resolver every
//! command that takes a model URI goes through, over any tracking and registry store.

use ferroflow_core::model_uri::{ModelRef, ModelUri};
use ferroflow_core::{Error, ErrorCode, Result, uri};

use crate::{LoggedModelSearch, RegistryStore, TrackingStore};

/// What a `models:/` URI names, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedModel {
    /// The artifact URI of the model directory (plus the URI's sub-path, if any).
    pub artifact_uri: String,
    /// The registered `(name, version)` it resolved to, if it named a registered model.
    pub version: Option<(String, String)>,
}

/// The newest version among the latest of `stages` (of every stage when empty).
async fn newest(registry: &dyn RegistryStore, name: &str, stages: Vec<String>) -> Result<String> {
    let what = if stages.is_empty() {
        String::new()
    } else {
        format!(" and stage '{}'", stages.join(", "))
    };
    registry
        .get_latest_versions(name, stages)
        .await?
        .into_iter()
        .max_by_key(|v| v.version.parse::<i64>().unwrap_or(0))
        .map(|v| v.version)
        .ok_or_else(|| {
            Error::not_found(format!(
                "No versions of model with name '{name}'{what} found"
            ))
        })
}

/// Resolves any `models:/` form to the artifact URI of the model.
pub async fn resolve(
    tracking: &dyn TrackingStore,
    registry: &dyn RegistryStore,
    model_uri: &str,
) -> Result<ResolvedModel> {
    let parsed = ModelUri::parse(model_uri)?;
    let (name, version) = match &parsed.model {
        ModelRef::LoggedModel { model_id } => {
            let base = tracking.get_logged_model(model_id).await?.info.artifact_uri;
            return Ok(ResolvedModel {
                artifact_uri: uri::join(&base, &parsed.path),
                version: None,
            });
        }
        ModelRef::Version { name, version } => (name, version.to_string()),
        ModelRef::Alias { name, alias } => (
            name,
            registry
                .get_model_version_by_alias(name, alias)
                .await?
                .version,
        ),
        ModelRef::Stage { name, stage } => {
            (name, newest(registry, name, vec![stage.to_string()]).await?)
        }
        ModelRef::Latest { name } => (name, newest(registry, name, vec![]).await?),
    };
    let base = match registry
        .get_model_version_download_uri(name, &version)
        .await
    {
        Ok(base) => base,
        // Say which is missing: the whole model, or only this version.
        Err(e) if e.code == ErrorCode::RESOURCE_DOES_NOT_EXIST => {
            registry.get_registered_model(name).await?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    // A version registered from `runs:/<run>/<path>` keeps that URI as its location, as
    // MLflow does; it names the run's artifacts (or its logged model) at any moment.
    let base = if base.starts_with("runs:/") {
        runs_artifact_uri(tracking, &base).await?
    } else {
        base
    };
    Ok(ResolvedModel {
        artifact_uri: uri::join(&base, &parsed.path),
        version: Some((name.clone(), version)),
    })
}

/// The artifact URI a `runs:/<run_id>/<path>` URI names: in MLflow 3, `log_model(name=
/// "model")` makes a logged model of the run rather than a folder of its artifacts, so
/// `runs:/<run>/model` names that model when there is one.
async fn runs_artifact_uri(tracking: &dyn TrackingStore, any_uri: &str) -> Result<String> {
    let rest = any_uri.trim_start_matches("runs:/").trim_start_matches('/');
    let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
    if run_id.is_empty() {
        return Err(Error::invalid_param(format!(
            "'{any_uri}' has no run id; expected runs:/<run_id>/<path>"
        )));
    }
    let run = tracking.get_run(run_id).await?;
    let (first, rest) = path.split_once('/').unwrap_or((path, ""));
    if !first.is_empty() && !first.contains('\'') {
        let found = tracking
            .search_logged_models(LoggedModelSearch {
                experiment_ids: vec![run.info.experiment_id.clone()],
                filter: format!("source_run_id = '{run_id}' AND name = '{first}'"),
                order_by: vec![("creation_timestamp".into(), false)],
                datasets: vec![],
                max_results: 1,
                page_token: None,
            })
            .await?;
        if let Some(m) = found.items.into_iter().next() {
            return Ok(uri::join(&m.info.artifact_uri, rest));
        }
    }
    Ok(uri::join(&run.info.artifact_uri, path))
}

/// The artifact URI behind any URI a command takes: `runs:/<run_id>/<path>`, any
/// `models:/` form, or an artifact URI (returned as is).
pub async fn artifact_uri(
    tracking: &dyn TrackingStore,
    registry: &dyn RegistryStore,
    any_uri: &str,
) -> Result<String> {
    if any_uri.starts_with("runs:/") {
        return runs_artifact_uri(tracking, any_uri).await;
    }
    if any_uri.starts_with("models:") {
        return Ok(resolve(tracking, registry, any_uri).await?.artifact_uri);
    }
    Ok(any_uri.to_string())
}
