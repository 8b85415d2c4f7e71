//! `logged-models/*` (MLflow 3): what `log_model` creates.

use axum::extract::{Extension, Path, State};
use axum::response::Response;
use ferroflow_core::Error;
use ferroflow_core::entities::{LoggedModel, LoggedModelStatus, Param};
use ferroflow_core::validation::DEFAULT_SEARCH_LOGGED_MODELS_MAX_RESULTS;
use ferroflow_store::{CreateLoggedModel, LoggedModelSearch};
use serde::Serialize;

use super::experiments::tags;
use super::{artifacts, empty, json};
use crate::auth::{Caller, readable_experiments};
use crate::request::Fields;
use crate::{ApiResult, AppState};

const STATUSES: &[(i64, &str)] = &[
    (0, "LOGGED_MODEL_STATUS_UNSPECIFIED"),
    (1, "LOGGED_MODEL_PENDING"),
    (2, "LOGGED_MODEL_READY"),
    (3, "LOGGED_MODEL_UPLOAD_FAILED"),
];

#[derive(Serialize)]
struct One {
    model: LoggedModel,
}

fn params(f: &Fields) -> ferroflow_core::Result<Vec<Param>> {
    tags(f, "params")
}

pub async fn create(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let req = CreateLoggedModel {
        experiment_id: f.req_str("experiment_id")?,
        name: f.opt_str("name")?,
        model_type: f.opt_str("model_type")?,
        source_run_id: f.opt_str("source_run_id")?.filter(|r| !r.is_empty()),
        params: params(&f)?,
        tags: tags(&f, "tags")?,
    };
    Ok(json(&One {
        model: s.store.create_logged_model(req).await?,
    }))
}

pub async fn get(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(json(&One {
        model: s.store.get_logged_model(&id).await?,
    }))
}

pub async fn finalize(
    State(s): State<AppState>,
    Path(id): Path<String>,
    f: Fields,
) -> ApiResult<Response> {
    let status: LoggedModelStatus = f
        .opt_enum("status", STATUSES)?
        .ok_or_else(|| Error::missing("status"))?;
    Ok(json(&One {
        model: s.store.finalize_logged_model(&id, status).await?,
    }))
}

pub async fn delete(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    s.store.delete_logged_model(&id).await?;
    Ok(empty())
}

pub async fn log_params(
    State(s): State<AppState>,
    Path(id): Path<String>,
    f: Fields,
) -> ApiResult<Response> {
    s.store.log_logged_model_params(&id, params(&f)?).await?;
    Ok(empty())
}

pub async fn set_tags(
    State(s): State<AppState>,
    Path(id): Path<String>,
    f: Fields,
) -> ApiResult<Response> {
    s.store
        .set_logged_model_tags(&id, tags(&f, "tags")?)
        .await?;
    Ok(json(&One {
        model: s.store.get_logged_model(&id).await?,
    }))
}

pub async fn delete_tag(
    State(s): State<AppState>,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    s.store.delete_logged_model_tag(&id, &key).await?;
    Ok(empty())
}

#[derive(Serialize)]
struct SearchResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    models: Vec<LoggedModel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

pub async fn search(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
    f: Fields,
) -> ApiResult<Response> {
    let order_by = f
        .objects("order_by")?
        .iter()
        .map(|o| {
            Ok((
                o.req_str("field_name")?,
                o.opt_bool("ascending")?.unwrap_or(true),
            ))
        })
        .collect::<ferroflow_core::Result<Vec<_>>>()?;
    let datasets = f
        .objects("datasets")?
        .iter()
        .map(|d| {
            let name = d
                .opt_str("dataset_name")?
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    ferroflow_core::Error::invalid_param(
                        "`dataset_name` in the `datasets` clause must be specified.",
                    )
                })?;
            Ok((name, d.opt_str("dataset_digest")?.filter(|g| !g.is_empty())))
        })
        .collect::<ferroflow_core::Result<Vec<_>>>()?;
    let asked = f.str_list("experiment_ids")?;
    let search = LoggedModelSearch {
        datasets,
        experiment_ids: readable_experiments(caller.as_deref(), asked.clone()),
        filter: f.opt_str("filter")?.unwrap_or_default(),
        order_by,
        max_results: f
            .opt_i64("max_results")?
            .unwrap_or(DEFAULT_SEARCH_LOGGED_MODELS_MAX_RESULTS),
        page_token: f.opt_str("page_token")?.filter(|t| !t.is_empty()),
    };
    if search.experiment_ids.is_empty() && !asked.is_empty() {
        return Ok(super::empty());
    }
    let page = s.store.search_logged_models(search).await?;
    Ok(json(&SearchResponse {
        models: page.items,
        next_page_token: page.next_page_token,
    }))
}

pub async fn list_artifacts(
    State(s): State<AppState>,
    Path(id): Path<String>,
    f: Fields,
) -> ApiResult<Response> {
    let model = s.store.get_logged_model(&id).await?;
    let rel = f.opt_str("artifact_directory_path")?.unwrap_or_default();
    artifacts::list_model_artifacts(&s, &model.info.artifact_uri, &rel).await
}

pub async fn artifact_file(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    f: Fields,
) -> ApiResult<Response> {
    let model = s.store.get_logged_model(&id).await?;
    artifacts::logged_model_file(&s, &model.info.artifact_uri, &f, &headers).await
}
