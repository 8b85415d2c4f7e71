//! `experiments/*`.

use axum::extract::{Extension, State};
use axum::response::Response;
use ferroflow_core::Error;
use ferroflow_core::entities::{Experiment, LifecycleStage, Tag, ViewType};
use ferroflow_core::validation::{self, DEFAULT_SEARCH_EXPERIMENTS_MAX_RESULTS};
use ferroflow_store::ExperimentSearch;
use serde::Serialize;

use super::{empty, json};
use crate::auth::{Caller, visible_page};
use crate::request::Fields;
use crate::{ApiResult, AppState};

pub const VIEW_TYPES: &[(i64, &str)] = &[(1, "ACTIVE_ONLY"), (2, "DELETED_ONLY"), (3, "ALL")];

pub fn tags(f: &Fields, name: &str) -> ferroflow_core::Result<Vec<Tag>> {
    f.objects(name)?
        .iter()
        .map(|t| {
            Ok(Tag::new(
                t.req_str("key")?,
                t.opt_str("value")?.unwrap_or_default(),
            ))
        })
        .collect()
}

pub async fn create(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let name = f.req_str("name")?;
    let location = f.opt_str("artifact_location")?.filter(|l| !l.is_empty());
    if let Some(l) = &location {
        s.config.host_policy.check_field(l, "artifact_location")?;
        validation::validate_artifact_location(l, s.config.max_artifact_location_length)?;
    }
    let id = s
        .store
        .create_experiment(&name, location.as_deref(), tags(&f, "tags")?)
        .await?;
    Ok(json(&serde_json::json!({ "experiment_id": id })))
}

#[derive(Serialize)]
struct One {
    experiment: Experiment,
}

pub async fn get(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let id = f.req_str("experiment_id")?;
    Ok(json(&One {
        experiment: s.store.get_experiment(&id).await?,
    }))
}

pub async fn get_by_name(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let name = f.req_str("experiment_name")?;
    match s.store.get_experiment_by_name(&name).await? {
        Some(experiment) => Ok(json(&One { experiment })),
        None => {
            Err(Error::not_found(format!("Could not find experiment with name '{name}'")).into())
        }
    }
}

#[derive(Serialize)]
struct SearchResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    experiments: Vec<Experiment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

pub async fn search(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
    f: Fields,
) -> ApiResult<Response> {
    let search = ExperimentSearch {
        filter: f.opt_str("filter")?.unwrap_or_default(),
        view: f
            .opt_enum("view_type", VIEW_TYPES)?
            .unwrap_or(ViewType::ActiveOnly),
        // MLflow defaults a query string's page size, but reads a JSON body without one
        // as 0, which it refuses.
        max_results: f.opt_i64("max_results")?.unwrap_or(if f.is_query() {
            DEFAULT_SEARCH_EXPERIMENTS_MAX_RESULTS
        } else {
            0
        }),
        order_by: f.str_list("order_by")?,
        page_token: f.opt_str("page_token")?.filter(|t| !t.is_empty()),
    };
    let page = visible_page(
        caller.as_deref(),
        search,
        |q| {
            let store = s.store.clone();
            async move { store.search_experiments(q).await }
        },
        |c, e: &Experiment| c.can_read_experiment(&e.experiment_id),
    )
    .await?;
    Ok(json(&SearchResponse {
        experiments: page.items,
        next_page_token: page.next_page_token,
    }))
}

/// `experiments/list`, the MLflow 1.x endpoint, answered from search.
pub async fn list(
    state: State<AppState>,
    caller: Option<Extension<Caller>>,
    f: Fields,
) -> ApiResult<Response> {
    search(state, caller, f).await
}

pub async fn update(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let id = f.req_str("experiment_id")?;
    if let Some(name) = f.opt_str("new_name")? {
        s.store.rename_experiment(&id, &name).await?;
    }
    Ok(empty())
}

pub async fn delete(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let id = f.req_str("experiment_id")?;
    s.store
        .set_experiment_lifecycle(&id, LifecycleStage::Deleted)
        .await?;
    Ok(empty())
}

pub async fn restore(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let id = f.req_str("experiment_id")?;
    s.store
        .set_experiment_lifecycle(&id, LifecycleStage::Active)
        .await?;
    Ok(empty())
}

pub async fn set_tag(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let id = f.req_str("experiment_id")?;
    let tag = Tag::new(f.req_str("key")?, f.opt_str("value")?.unwrap_or_default());
    s.store.set_experiment_tag(&id, tag).await?;
    Ok(empty())
}

pub async fn delete_tag(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let id = f.req_str("experiment_id")?;
    s.store
        .delete_experiment_tag(&id, &f.req_str("key")?)
        .await?;
    Ok(empty())
}

/// MLflow's bound on `search-datasets`.
const MAX_EXPERIMENTS_SEARCH_DATASETS: usize = 20;

/// `/ajax-api/2.0/mlflow/experiments/search-datasets`: the datasets of experiments (the
/// UI's dataset filter).
pub async fn search_datasets(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let ids = f.str_list("experiment_ids")?;
    if ids.is_empty() {
        return Err(Error::invalid_param(
            "SearchDatasets request must specify at least one experiment_id.",
        )
        .into());
    }
    if ids.len() > MAX_EXPERIMENTS_SEARCH_DATASETS {
        return Err(Error::invalid_param(format!(
            "SearchDatasets request cannot specify more than {MAX_EXPERIMENTS_SEARCH_DATASETS} experiment_ids. Received {} experiment_ids.",
            ids.len()
        ))
        .into());
    }
    let summaries = s.store.search_dataset_summaries(&ids).await?;
    Ok(json(&serde_json::json!({ "dataset_summaries": summaries })))
}
