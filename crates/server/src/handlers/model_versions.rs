//! `model-versions/*` and `/model-versions/get-artifact`.

use axum::extract::{Extension, State};
use axum::response::Response;
use ferroflow_core::entities::{ModelVersion, Tag};
use ferroflow_core::registry::DEFAULT_SEARCH_MODEL_VERSIONS;
use ferroflow_store::CreateModelVersion;
use serde::Serialize;

use super::artifacts::download;
use super::experiments::tags;
use super::registered_models::{OneVersion, search_request};
use super::{empty, json};
use crate::artifact_uri::resolve;
use crate::auth::Caller;
use crate::request::Fields;
use crate::{ApiResult, AppState};

pub async fn create(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let name = f.req_str("name")?;
    let source = f.req_str("source")?;
    s.config.host_policy.check_field(&source, "source")?;
    let req = CreateModelVersion {
        name,
        source,
        run_id: f.opt_str("run_id")?,
        model_id: f.opt_str("model_id")?,
        run_link: f.opt_str("run_link")?,
        description: f.opt_str("description")?,
        tags: tags(&f, "tags")?,
    };
    let model_version = s.registry.create_model_version(req).await?;
    Ok(json(&OneVersion { model_version }))
}

pub async fn get(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let model_version = s
        .registry
        .get_model_version(&f.req_str("name")?, &f.req_str("version")?)
        .await?;
    Ok(json(&OneVersion { model_version }))
}

pub async fn update(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let model_version = s
        .registry
        .update_model_version(
            &f.req_str("name")?,
            &f.req_str("version")?,
            f.opt_str("description")?,
        )
        .await?;
    Ok(json(&OneVersion { model_version }))
}

pub async fn delete(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    s.registry
        .delete_model_version(&f.req_str("name")?, &f.req_str("version")?)
        .await?;
    Ok(empty())
}

pub async fn transition_stage(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let model_version = s
        .registry
        .transition_model_version_stage(
            &f.req_str("name")?,
            &f.req_str("version")?,
            &f.req_str("stage")?,
            f.opt_bool("archive_existing_versions")?.unwrap_or(false),
        )
        .await?;
    Ok(json(&OneVersion { model_version }))
}

#[derive(Serialize)]
struct SearchResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    model_versions: Vec<ModelVersion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

pub async fn search(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
    f: Fields,
) -> ApiResult<Response> {
    let mut page = s
        .registry
        .search_model_versions(search_request(&f, DEFAULT_SEARCH_MODEL_VERSIONS)?)
        .await?;
    // Versions of models the caller may not read are left out (not refilled, as in MLflow).
    if let Some(Extension(c)) = caller.filter(|c| !c.is_admin()) {
        page.items.retain(|v| c.can_read_registered_model(&v.name));
    }
    Ok(json(&SearchResponse {
        model_versions: page.items,
        next_page_token: page.next_page_token,
    }))
}

pub async fn get_download_uri(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let artifact_uri = s
        .registry
        .get_model_version_download_uri(&f.req_str("name")?, &f.req_str("version")?)
        .await?;
    Ok(json(&serde_json::json!({ "artifact_uri": artifact_uri })))
}

pub async fn set_tag(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let tag = Tag::new(f.req_str("key")?, f.opt_str("value")?.unwrap_or_default());
    s.registry
        .set_model_version_tag(&f.req_str("name")?, &f.req_str("version")?, tag)
        .await?;
    Ok(empty())
}

pub async fn delete_tag(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    s.registry
        .delete_model_version_tag(
            &f.req_str("name")?,
            &f.req_str("version")?,
            &f.req_str("key")?,
        )
        .await?;
    Ok(empty())
}

/// `/model-versions/get-artifact?name=&version=&path=`: one file of a version's artifacts.
pub async fn get_artifact(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    f: Fields,
) -> ApiResult<Response> {
    let location = s
        .registry
        .get_model_version_download_uri(&f.req_str("name")?, &f.req_str("version")?)
        .await?;
    // A `runs:/` location names the run's artifacts (or its logged model).
    let location =
        ferroflow_store::model_uri::artifact_uri(s.store.as_ref(), s.registry.as_ref(), &location)
            .await?;
    let loc = resolve(&s, &location)?;
    download(loc.repo.as_ref(), &loc.path(&f.req_str("path")?)?, &headers).await
}
