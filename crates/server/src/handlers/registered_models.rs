//! `registered-models/*`: registered models, their tags and aliases.

use axum::extract::{Extension, State};
use axum::response::Response;
use ferroflow_core::entities::{ModelVersion, RegisteredModel, Tag};
use ferroflow_core::registry::DEFAULT_SEARCH_REGISTERED_MODELS;
use ferroflow_store::RegistrySearch;
use serde::Serialize;

use super::experiments::tags;
use super::{empty, json};
use crate::auth::{Caller, visible_page};
use crate::request::Fields;
use crate::{ApiResult, AppState};

#[derive(Serialize)]
struct One {
    registered_model: RegisteredModel,
}

#[derive(Serialize)]
pub(super) struct OneVersion {
    pub model_version: ModelVersion,
}

pub async fn create(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let registered_model = s
        .registry
        .create_registered_model(
            &f.req_str("name")?,
            tags(&f, "tags")?,
            f.opt_str("description")?,
        )
        .await?;
    Ok(json(&One { registered_model }))
}

pub async fn get(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let registered_model = s.registry.get_registered_model(&f.req_str("name")?).await?;
    Ok(json(&One { registered_model }))
}

pub async fn rename(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let new_name = f.opt_str("new_name")?.unwrap_or_default();
    let registered_model = s
        .registry
        .rename_registered_model(&f.req_str("name")?, &new_name)
        .await?;
    Ok(json(&One { registered_model }))
}

pub async fn update(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let registered_model = s
        .registry
        .update_registered_model(&f.req_str("name")?, f.opt_str("description")?)
        .await?;
    Ok(json(&One { registered_model }))
}

pub async fn delete(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    s.registry
        .delete_registered_model(&f.req_str("name")?)
        .await?;
    Ok(empty())
}

#[derive(Serialize)]
struct SearchResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    registered_models: Vec<RegisteredModel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

/// The fields of both registry searches, with the endpoint's default page size.
pub(super) fn search_request(
    f: &Fields,
    default_max: i64,
) -> ferroflow_core::Result<RegistrySearch> {
    Ok(RegistrySearch {
        filter: f.opt_str("filter")?.unwrap_or_default(),
        max_results: f.opt_i64("max_results")?.unwrap_or(default_max),
        order_by: f.str_list("order_by")?,
        page_token: f.opt_str("page_token")?.filter(|t| !t.is_empty()),
    })
}

pub async fn search(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
    f: Fields,
) -> ApiResult<Response> {
    let page = visible_page(
        caller.as_deref(),
        search_request(&f, DEFAULT_SEARCH_REGISTERED_MODELS)?,
        |q| {
            let registry = s.registry.clone();
            async move { registry.search_registered_models(q).await }
        },
        |c, m: &RegisteredModel| c.can_read_registered_model(&m.name),
    )
    .await?;
    Ok(json(&SearchResponse {
        registered_models: page.items,
        next_page_token: page.next_page_token,
    }))
}

#[derive(Serialize)]
struct Versions {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    model_versions: Vec<ModelVersion>,
}

pub async fn get_latest_versions(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let model_versions = s
        .registry
        .get_latest_versions(&f.req_str("name")?, f.str_list("stages")?)
        .await?;
    Ok(json(&Versions { model_versions }))
}

pub async fn set_tag(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let tag = Tag::new(f.req_str("key")?, f.opt_str("value")?.unwrap_or_default());
    s.registry
        .set_registered_model_tag(&f.req_str("name")?, tag)
        .await?;
    Ok(empty())
}

pub async fn delete_tag(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    s.registry
        .delete_registered_model_tag(&f.req_str("name")?, &f.req_str("key")?)
        .await?;
    Ok(empty())
}

pub async fn set_alias(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    s.registry
        .set_registered_model_alias(
            &f.req_str("name")?,
            &f.req_str("alias")?,
            &f.req_str("version")?,
        )
        .await?;
    Ok(empty())
}

pub async fn delete_alias(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    s.registry
        .delete_registered_model_alias(&f.req_str("name")?, &f.req_str("alias")?)
        .await?;
    Ok(empty())
}

pub async fn get_by_alias(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let model_version = s
        .registry
        .get_model_version_by_alias(&f.req_str("name")?, &f.req_str("alias")?)
        .await?;
    Ok(json(&OneVersion { model_version }))
}
