//! `runs/*`.

use axum::extract::{Extension, State};
use axum::response::Response;
use ferroflow_core::Error;
use ferroflow_core::entities::{
    Dataset, DatasetInput, LifecycleStage, Metric, ModelInput, ModelOutput, Param, Run, RunInfo,
    RunStatus, Tag, ViewType,
};
use ferroflow_core::validation::DEFAULT_SEARCH_RUNS_MAX_RESULTS;
use ferroflow_store::{Batch, CreateRun, RunSearch, RunUpdate};
use serde::Serialize;

use super::experiments::{VIEW_TYPES, tags};
use super::{empty, json};
use crate::auth::{Caller, readable_experiments};
use crate::request::Fields;
use crate::{ApiResult, AppState};

const RUN_STATUSES: &[(i64, &str)] = &[
    (1, "RUNNING"),
    (2, "SCHEDULED"),
    (3, "FINISHED"),
    (4, "FAILED"),
    (5, "KILLED"),
];

/// MLflow's limit on the size of one `log-batch` request.
const MAX_BATCH_LOG_REQUEST_SIZE: usize = 1_000_000;

const RUN_ID: &[&str] = &["run_id", "run_uuid"];

#[derive(Serialize)]
struct OneRun {
    run: Run,
}

pub async fn create(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let req = CreateRun {
        experiment_id: f
            .opt_str("experiment_id")?
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| "0".into()),
        user_id: f.opt_str("user_id")?,
        run_name: f.opt_str("run_name")?,
        // MLflow stores what the request says; a request without one starts at 0.
        start_time: Some(f.opt_i64("start_time")?.unwrap_or(0)),
        tags: tags(&f, "tags")?,
    };
    Ok(json(&OneRun {
        run: s.store.create_run(req).await?,
    }))
}

pub async fn get(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let id = f.req_str_any(RUN_ID)?;
    Ok(json(&OneRun {
        run: s.store.get_run(&id).await?,
    }))
}

#[derive(Serialize)]
struct Updated {
    run_info: RunInfo,
}

pub async fn update(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let id = f.req_str_any(RUN_ID)?;
    let update = RunUpdate {
        status: f.opt_enum::<RunStatus>("status", RUN_STATUSES)?,
        end_time: f.opt_i64("end_time")?,
        run_name: f.opt_str("run_name")?,
    };
    Ok(json(&Updated {
        run_info: s.store.update_run(&id, update).await?,
    }))
}

pub async fn delete(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let id = f.req_str_any(RUN_ID)?;
    s.store
        .set_run_lifecycle(&id, LifecycleStage::Deleted)
        .await?;
    Ok(empty())
}

pub async fn restore(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let id = f.req_str_any(RUN_ID)?;
    s.store
        .set_run_lifecycle(&id, LifecycleStage::Active)
        .await?;
    Ok(empty())
}

fn metric(f: &Fields) -> ferroflow_core::Result<Metric> {
    let key = f.req_str("key")?;
    let value = f.req_f64("value")?;
    let timestamp = f.req_i64("timestamp")?;
    let mut m = Metric::new(key, value, timestamp, f.opt_i64("step")?.unwrap_or(0));
    m.model_id = f.opt_str("model_id")?.filter(|s| !s.is_empty());
    m.dataset_name = f.opt_str("dataset_name")?.filter(|s| !s.is_empty());
    m.dataset_digest = f.opt_str("dataset_digest")?.filter(|s| !s.is_empty());
    Ok(m)
}

fn key_value(f: &Fields) -> ferroflow_core::Result<Tag> {
    Ok(Tag::new(
        f.req_str("key")?,
        f.opt_str("value")?.unwrap_or_default(),
    ))
}

pub async fn log_metric(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let id = f.req_str_any(RUN_ID)?;
    let m = metric(&f)?;
    s.store
        .log_batch(
            &id,
            Batch {
                metrics: vec![m],
                ..Default::default()
            },
        )
        .await?;
    Ok(empty())
}

pub async fn log_param(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let id = f.req_str_any(RUN_ID)?;
    let p: Param = key_value(&f)?;
    s.store
        .log_batch(
            &id,
            Batch {
                params: vec![p],
                ..Default::default()
            },
        )
        .await?;
    Ok(empty())
}

pub async fn set_tag(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let id = f.req_str_any(RUN_ID)?;
    let t = key_value(&f)?;
    s.store
        .log_batch(
            &id,
            Batch {
                tags: vec![t],
                ..Default::default()
            },
        )
        .await?;
    Ok(empty())
}

pub async fn delete_tag(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let id = f.req_str_any(RUN_ID)?;
    s.store.delete_tag(&id, &f.req_str("key")?).await?;
    Ok(empty())
}

pub async fn log_batch(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    if f.body_len > MAX_BATCH_LOG_REQUEST_SIZE {
        return Err(Error::invalid_param(format!(
            "Batched logging API requests must be at most {MAX_BATCH_LOG_REQUEST_SIZE} bytes, got a request of size {}.",
            f.body_len
        ))
        .into());
    }
    let id = f.req_str("run_id")?;
    let batch = Batch {
        metrics: f
            .objects("metrics")?
            .iter()
            .map(metric)
            .collect::<Result<_, _>>()?,
        params: f
            .objects("params")?
            .iter()
            .map(key_value)
            .collect::<Result<_, _>>()?,
        tags: f
            .objects("tags")?
            .iter()
            .map(key_value)
            .collect::<Result<_, _>>()?,
    };
    s.store.log_batch(&id, batch).await?;
    Ok(empty())
}

pub async fn log_inputs(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let id = f.req_str("run_id")?;
    let mut datasets = Vec::new();
    for d in f.objects("datasets")? {
        let ds = d
            .object("dataset")?
            .ok_or_else(|| Error::missing("dataset"))?;
        datasets.push(DatasetInput {
            tags: tags(&d, "tags")?,
            dataset: Dataset {
                name: ds.req_str("name")?,
                digest: ds.req_str("digest")?,
                source_type: ds.req_str("source_type")?,
                source: ds.req_str("source")?,
                schema: ds.opt_str("schema")?,
                profile: ds.opt_str("profile")?,
            },
        });
    }
    let models = f
        .objects("models")?
        .iter()
        .map(|m| {
            Ok(ModelInput {
                model_id: m.req_str("model_id")?,
            })
        })
        .collect::<ferroflow_core::Result<Vec<_>>>()?;
    s.store.log_inputs(&id, datasets, models).await?;
    Ok(empty())
}

pub async fn log_outputs(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let id = f.req_str("run_id")?;
    let models = f
        .objects("models")?
        .iter()
        .map(|m| {
            Ok(ModelOutput {
                model_id: m.req_str("model_id")?,
                step: m.opt_i64("step")?.unwrap_or(0),
            })
        })
        .collect::<ferroflow_core::Result<Vec<_>>>()?;
    s.store.log_outputs(&id, models).await?;
    Ok(empty())
}

/// `runs/log-model` (MLflow 1.x/2.x): appends the model's JSON to the run's
/// `mlflow.log-model.history` tag.
pub async fn log_model(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    const HISTORY: &str = "mlflow.log-model.history";
    let id = f.req_str("run_id")?;
    let model_json = f.req_str("model_json")?;
    let model: serde_json::Value = serde_json::from_str(&model_json)
        .map_err(|e| Error::invalid_param(format!("model_json is not valid JSON: {e}")))?;
    let run = s.store.get_run(&id).await?;
    let mut history: Vec<serde_json::Value> = run
        .tag(HISTORY)
        .and_then(|h| serde_json::from_str(h).ok())
        .unwrap_or_default();
    history.push(model);
    let value = serde_json::to_string(&history).unwrap_or_default();
    s.store
        .log_batch(
            &id,
            Batch {
                tags: vec![Tag::new(HISTORY, value)],
                ..Default::default()
            },
        )
        .await?;
    Ok(empty())
}

#[derive(Serialize)]
struct SearchResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    runs: Vec<Run>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

pub async fn search(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
    f: Fields,
) -> ApiResult<Response> {
    let asked = f.str_list("experiment_ids")?;
    let experiment_ids = readable_experiments(caller.as_deref(), asked.clone());
    let search = RunSearch {
        experiment_ids,
        filter: f.opt_str("filter")?.unwrap_or_default(),
        view: f
            .opt_enum("run_view_type", VIEW_TYPES)?
            .unwrap_or(ViewType::ActiveOnly),
        max_results: f
            .opt_i64("max_results")?
            .unwrap_or(DEFAULT_SEARCH_RUNS_MAX_RESULTS),
        order_by: f.str_list("order_by")?,
        page_token: f.opt_str("page_token")?.filter(|t| !t.is_empty()),
    };
    // A caller who may read none of the experiments asked about sees no runs.
    if search.experiment_ids.is_empty() && !asked.is_empty() {
        return Ok(empty());
    }
    let page = s.store.search_runs(search).await?;
    Ok(json(&SearchResponse {
        runs: page.items,
        next_page_token: page.next_page_token,
    }))
}
