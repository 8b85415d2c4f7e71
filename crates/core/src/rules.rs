//! The rules and messages every store applies the same way, whatever keeps the data:
//! what a missing or inactive entity answers, how a new run gets its name, when a param
//! may not change, which metric point is a key's latest.

use std::cmp::Ordering;

use crate::entities::{LifecycleStage, Metric, Tag};
use crate::error::{Error, Result};
use crate::validation::MAX_RUN_NAME_LENGTH;

/// The tag that holds a run's name.
pub const RUN_NAME_TAG: &str = "mlflow.runName";

pub fn experiment_not_found(id: &str) -> Error {
    Error::not_found(format!("No Experiment with id={id} exists"))
}

pub fn experiment_not_active(id: &str, stage: LifecycleStage) -> Error {
    Error::invalid_param(format!(
        "The experiment {id} must be in the 'active' state. Current state is {stage}."
    ))
}

pub fn experiment_name_taken(name: &str, deleted: bool) -> Error {
    if deleted {
        Error::already_exists(format!(
            "Experiment '{name}' already exists in deleted state. You can restore the experiment, or permanently delete it with `ferroflow gc` to free the name."
        ))
    } else {
        Error::already_exists(format!("Experiment(name={name}) already exists."))
    }
}

/// Deleting or restoring an experiment that is not in the stage it leaves.
pub fn experiment_stage_error(id: &str, to: LifecycleStage) -> Error {
    Error::invalid_param(match to {
        LifecycleStage::Deleted => format!("Cannot delete experiment {id}: it is already deleted."),
        LifecycleStage::Active => format!("Cannot restore experiment {id}: it is not deleted."),
    })
}

pub fn default_experiment_undeletable() -> Error {
    Error::invalid_param(
        "Cannot delete the default experiment '0'. This is an internally reserved experiment.",
    )
}

pub fn run_not_found(run_id: &str) -> Error {
    Error::not_found(format!("Run with id={run_id} not found"))
}

pub fn run_not_active(run_id: &str, stage: LifecycleStage) -> Error {
    Error::invalid_param(format!(
        "The run {run_id} must be in the 'active' state. Current state is {stage}."
    ))
}

pub fn logged_model_not_found(id: &str) -> Error {
    Error::not_found(format!("Logged model with ID '{id}' not found."))
}

pub fn registered_model_not_found(name: &str) -> Error {
    Error::not_found(format!("Registered Model with name={name} not found"))
}

pub fn model_version_not_found(name: &str, version: &str) -> Error {
    Error::not_found(format!(
        "Model Version (name={name}, version={version}) not found"
    ))
}

fn check_run_name_length(name: &str) -> Result<()> {
    if name.chars().count() > MAX_RUN_NAME_LENGTH {
        return Err(Error::invalid_param(format!(
            "'run_name' exceeds the maximum length of {MAX_RUN_NAME_LENGTH} characters"
        )));
    }
    Ok(())
}

/// A new run's name, from `run_name` or its `mlflow.runName` tag (refusing two different
/// ones), else a random one; the tag is added to `tags` when missing.
pub fn new_run_name(run_name: Option<String>, tags: &mut Vec<Tag>) -> Result<String> {
    let tag_name = tags
        .iter()
        .find(|t| t.key == RUN_NAME_TAG)
        .map(|t| t.value.clone());
    let name = match (run_name.filter(|n| !n.is_empty()), tag_name) {
        (Some(n), Some(t)) if n != t => {
            return Err(Error::invalid_param(format!(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='{n}', mlflow.runName='{t}')."
            )));
        }
        (Some(n), _) => n,
        (None, Some(t)) => t,
        (None, None) => crate::ids::random_run_name(),
    };
    check_run_name_length(&name)?;
    if !tags.iter().any(|t| t.key == RUN_NAME_TAG) {
        tags.push(Tag::new(RUN_NAME_TAG, name.clone()));
    }
    Ok(name)
}

/// A renamed run's name must fit, as a new one's.
pub fn check_new_run_name(name: Option<&str>) -> Result<()> {
    name.map_or(Ok(()), check_run_name_length)
}

/// A param logged again with another value.
pub fn param_changed(run_id: &str, key: &str, old: &str, new: &str) -> Error {
    Error::invalid_param(format!(
        "Changing param values is not allowed. Param with key='{key}' was already logged with value='{old}' for run ID='{run_id}'. Attempted logging new value '{new}'."
    ))
}

pub fn run_tag_not_found(run_id: &str, key: &str) -> Error {
    Error::not_found(format!("No tag with name: {key} in run with id {run_id}"))
}

pub fn experiment_tag_not_found(id: &str, key: &str) -> Error {
    Error::not_found(format!(
        "No tag with name: {key} in experiment with id {id}"
    ))
}

/// The order that makes a key's latest point the greatest: step, then timestamp, then
/// value (NaN lowest), as MLflow picks it.
pub fn metric_order(a: &Metric, b: &Metric) -> Ordering {
    (a.step, a.timestamp)
        .cmp(&(b.step, b.timestamp))
        .then_with(|| match (a.value.is_nan(), b.value.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            _ => a.value.partial_cmp(&b.value).unwrap_or(Ordering::Equal),
        })
}

/// The checks of a `log-batch`, in MLflow's order: the limits, unique param keys, then
/// each metric, param and tag (over-long values truncated or refused as `long` says).
/// A single item is named without its position, as MLflow names it.
pub fn validate_log_batch(
    metrics: &[Metric],
    params: &mut [crate::entities::Param],
    tags: &mut [Tag],
    long: crate::validation::LongValues,
) -> Result<()> {
    use crate::validation::{
        validate_batch_limits, validate_metric, validate_param, validate_param_keys_unique,
        validate_tag,
    };
    validate_batch_limits(metrics.len(), params.len(), tags.len())?;
    validate_param_keys_unique(params)?;
    let single = metrics.len() + params.len() + tags.len() == 1;
    let path = |kind: &str, i: usize| {
        if single {
            String::new()
        } else {
            format!("{kind}[{i}]")
        }
    };
    for (i, m) in metrics.iter().enumerate() {
        validate_metric(m, &path("metrics", i))?;
    }
    for (i, p) in params.iter_mut().enumerate() {
        validate_param(p, &path("params", i), long)?;
    }
    for (i, t) in tags.iter_mut().enumerate() {
        validate_tag(t, &path("tags", i), long)?;
    }
    Ok(())
}

/// `search-runs`' page size bound.
pub fn validate_search_runs_max_results(max: i64) -> Result<()> {
    use crate::validation::MAX_RESULTS_SEARCH_RUNS;
    if !(1..=MAX_RESULTS_SEARCH_RUNS).contains(&max) {
        return Err(Error::invalid_param(format!(
            "Invalid value {max} for parameter 'max_results' supplied. It must be at most {MAX_RESULTS_SEARCH_RUNS}, and at least 1."
        )));
    }
    Ok(())
}

/// `log-inputs`' bound on datasets, then each dataset's own checks.
pub fn validate_log_inputs(datasets: &[crate::entities::DatasetInput]) -> Result<()> {
    use crate::validation::{MAX_DATASETS_PER_BATCH, validate_dataset_input};
    if datasets.len() > MAX_DATASETS_PER_BATCH {
        return Err(Error::invalid_param(format!(
            "A batch logging request can contain at most {MAX_DATASETS_PER_BATCH} datasets. Got {}.",
            datasets.len()
        )));
    }
    datasets.iter().try_for_each(validate_dataset_input)
}

/// `logged-models/search`' page size bound.
pub fn validate_search_logged_models_max_results(max: i64) -> Result<()> {
    if !(1..=50_000).contains(&max) {
        return Err(Error::invalid_param(format!(
            "Invalid value {max} for parameter 'max_results' supplied."
        )));
    }
    Ok(())
}

/// A new experiment's checks (its name, then its tags), and the artifact location it was
/// given, with a relative local one made absolute against the working directory.
pub fn new_experiment(
    name: &str,
    artifact_location: Option<&str>,
    tags: &[Tag],
) -> Result<Option<String>> {
    crate::validation::validate_experiment_name(name)?;
    for t in tags {
        crate::validation::validate_experiment_tag(t)?;
    }
    Ok(artifact_location.filter(|l| !l.is_empty()).map(|l| {
        let cwd = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        crate::uri::resolve_if_local(l, &cwd)
    }))
}
