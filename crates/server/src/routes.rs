//! The route table: every endpoint once, mounted under `/api` and mirrored under
//! `/ajax-api`, which also has the few routes MLflow serves to its web UI only.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post, put};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{Predicate, SizeAbove};

use crate::error::{endpoint_not_found, method_not_allowed};
use crate::handlers::{
    artifacts, downsample, experiments, logged_models, meta, metrics, model_versions,
    registered_models, roles, runs, users,
};
use crate::{AppState, graphql, security, ui};

/// The `/2.0/mlflow` API: tracking, logged models and the model registry.
fn mlflow_api() -> Router<AppState> {
    tracking_api().merge(registry_api())
}

/// Registered models and their versions.
fn registry_api() -> Router<AppState> {
    use model_versions as mv;
    use registered_models as rm;
    Router::new()
        .route("/registered-models/create", post(rm::create))
        .route("/registered-models/get", get(rm::get))
        .route("/registered-models/rename", post(rm::rename))
        .route("/registered-models/update", patch(rm::update))
        .route("/registered-models/delete", delete(rm::delete))
        .route("/registered-models/search", get(rm::search))
        .route(
            "/registered-models/get-latest-versions",
            get(rm::get_latest_versions).post(rm::get_latest_versions),
        )
        .route("/registered-models/set-tag", post(rm::set_tag))
        .route("/registered-models/delete-tag", delete(rm::delete_tag))
        .route(
            "/registered-models/alias",
            get(rm::get_by_alias)
                .post(rm::set_alias)
                .delete(rm::delete_alias),
        )
        .route("/model-versions/create", post(mv::create))
        .route("/model-versions/get", get(mv::get))
        .route("/model-versions/update", patch(mv::update))
        .route("/model-versions/delete", delete(mv::delete))
        .route("/model-versions/search", get(mv::search))
        .route(
            "/model-versions/transition-stage",
            post(mv::transition_stage),
        )
        .route(
            "/model-versions/get-download-uri",
            get(mv::get_download_uri),
        )
        .route("/model-versions/set-tag", post(mv::set_tag))
        .route("/model-versions/delete-tag", delete(mv::delete_tag))
}

/// Experiments, runs, metrics, run artifacts and logged models.
fn tracking_api() -> Router<AppState> {
    Router::new()
        .route("/experiments/create", post(experiments::create))
        .route("/experiments/get", get(experiments::get))
        .route("/experiments/get-by-name", get(experiments::get_by_name))
        .route(
            "/experiments/search",
            get(experiments::search).post(experiments::search),
        )
        .route("/experiments/list", get(experiments::list))
        .route("/experiments/update", post(experiments::update))
        .route("/experiments/delete", post(experiments::delete))
        .route("/experiments/restore", post(experiments::restore))
        .route(
            "/experiments/set-experiment-tag",
            post(experiments::set_tag),
        )
        .route(
            "/experiments/delete-experiment-tag",
            post(experiments::delete_tag),
        )
        .route("/runs/create", post(runs::create))
        .route("/runs/get", get(runs::get))
        .route("/runs/update", post(runs::update))
        .route("/runs/delete", post(runs::delete))
        .route("/runs/restore", post(runs::restore))
        .route("/runs/log-metric", post(runs::log_metric))
        .route("/runs/log-parameter", post(runs::log_param))
        .route("/runs/set-tag", post(runs::set_tag))
        .route("/runs/delete-tag", post(runs::delete_tag))
        .route("/runs/log-batch", post(runs::log_batch))
        .route("/runs/log-inputs", post(runs::log_inputs))
        .route("/runs/outputs", post(runs::log_outputs))
        .route("/runs/log-model", post(runs::log_model))
        .route("/runs/search", post(runs::search).get(runs::search))
        .route("/metrics/get-history", get(metrics::get_history))
        .route(
            "/metrics/get-history-bulk-interval",
            get(metrics::get_history_bulk_interval),
        )
        .route(
            "/ferroflow/metrics/get-history-downsampled",
            get(downsample::get_history_downsampled),
        )
        .route("/artifacts/list", get(artifacts::list_run_artifacts))
        .route(
            "/artifacts/presigned-download-url",
            post(artifacts::presigned_unsupported),
        )
        .route(
            "/artifacts/presigned-upload-url",
            post(artifacts::presigned_unsupported),
        )
        .route("/logged-models", post(logged_models::create))
        .route("/logged-models/search", post(logged_models::search))
        .route(
            "/logged-models/{model_id}",
            get(logged_models::get)
                .patch(logged_models::finalize)
                .delete(logged_models::delete),
        )
        .route(
            "/logged-models/{model_id}/params",
            post(logged_models::log_params),
        )
        .route(
            "/logged-models/{model_id}/tags",
            patch(logged_models::set_tags),
        )
        .route(
            "/logged-models/{model_id}/tags/{key}",
            delete(logged_models::delete_tag),
        )
        .route(
            "/logged-models/{model_id}/artifacts/directories",
            get(logged_models::list_artifacts),
        )
}

/// Routes MLflow serves under `/ajax-api/2.0/mlflow` only: the ones its web UI calls.
fn ajax_only_api() -> Router<AppState> {
    Router::new()
        .route("/metrics/get-history-bulk", get(metrics::get_history_bulk))
        .route(
            "/experiments/search-datasets",
            post(experiments::search_datasets),
        )
        .route("/upload-artifact", post(artifacts::upload_run_artifact))
        .route(
            "/logged-models/{model_id}/artifacts/files",
            get(logged_models::artifact_file),
        )
        // The UI uploads a file in one request body.
        .layer(DefaultBodyLimit::disable())
}

/// The `/2.0/mlflow-artifacts` API: the artifact proxy.
fn artifacts_api() -> Router<AppState> {
    Router::new()
        .route("/artifacts", get(artifacts::proxy_list))
        .route(
            "/artifacts/{*path}",
            get(artifacts::proxy_download)
                .put(artifacts::proxy_upload)
                .delete(artifacts::proxy_delete),
        )
        .route("/mpu/create/{*path}", post(artifacts::mpu_create))
        .route("/mpu/upload/{*path}", put(artifacts::mpu_upload_part))
        .route("/mpu/complete/{*path}", post(artifacts::mpu_complete))
        .route("/mpu/abort/{*path}", post(artifacts::mpu_abort))
        .route("/presigned/{*path}", get(artifacts::presigned_unsupported))
        // Artifact bodies stream to disk; they have no size limit.
        .layer(DefaultBodyLimit::disable())
}

/// The basic-auth app's routes: users and their permissions.
fn users_api() -> Router<AppState> {
    Router::new()
        .route("/2.0/mlflow/users/create", post(users::create))
        .route("/2.0/mlflow/users/get", get(users::get))
        .route("/2.0/mlflow/users/current", get(users::current))
        .route("/2.0/mlflow/users/list", get(users::list))
        .route(
            "/2.0/mlflow/users/update-password",
            patch(users::update_password),
        )
        .route("/2.0/mlflow/users/update-admin", patch(users::update_admin))
        .route("/2.0/mlflow/users/delete", delete(users::delete))
        .route(
            "/3.0/mlflow/users/current/permissions",
            get(users::current_permissions),
        )
        .route(
            "/3.0/mlflow/users/permissions/list",
            get(users::list_permissions),
        )
        .route("/3.0/mlflow/users/permissions/grant", post(users::grant))
        .route("/3.0/mlflow/users/permissions/revoke", post(users::revoke))
        .route(
            "/3.0/mlflow/users/permissions/get",
            get(users::get_permission),
        )
        .route("/3.0/mlflow/users/roles/list", get(roles::user_roles))
        .route("/3.0/mlflow/roles/create", post(roles::create))
        .route("/3.0/mlflow/roles/get", get(roles::get))
        .route("/3.0/mlflow/roles/list", get(roles::list))
        .route("/3.0/mlflow/roles/update", patch(roles::update))
        .route("/3.0/mlflow/roles/delete", delete(roles::delete))
        .route(
            "/3.0/mlflow/roles/permissions/add",
            post(roles::add_permission),
        )
        .route(
            "/3.0/mlflow/roles/permissions/remove",
            delete(roles::remove_permission),
        )
        .route(
            "/3.0/mlflow/roles/permissions/list",
            get(roles::list_permissions),
        )
        .route(
            "/3.0/mlflow/roles/permissions/update",
            patch(roles::update_permission),
        )
        .route("/3.0/mlflow/roles/assign", post(roles::assign))
        .route("/3.0/mlflow/roles/unassign", delete(roles::unassign))
        .route("/3.0/mlflow/roles/users/list", get(roles::role_users))
}

fn api(mlflow: Router<AppState>, with_auth: bool) -> Router<AppState> {
    let api = Router::new()
        .nest("/2.0/mlflow", mlflow)
        .nest("/2.0/mlflow-artifacts", artifacts_api())
        .route("/3.0/mlflow/server-info", get(meta::server_info));
    if with_auth {
        api.merge(users_api())
    } else {
        api
    }
}

/// Every route behind the basic-auth app's layer (which passes everything when the app
/// is off).
fn guarded(app: Router<AppState>, state: &AppState) -> Router<AppState> {
    app.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        crate::auth::guard,
    ))
}

/// `/api` and `/ajax-api` alone, for calls made inside the server (GraphQL's resolvers).
pub(crate) fn internal(state: AppState) -> Router {
    let with_auth = state.auth.is_some();
    let app = Router::new()
        .nest("/api", api(mlflow_api(), with_auth))
        .nest(
            "/ajax-api",
            api(mlflow_api().merge(ajax_only_api()), with_auth),
        )
        .fallback(endpoint_not_found);
    guarded(app, &state).with_state(state)
}

pub fn router(state: AppState) -> Router {
    let with_auth = state.auth.is_some();
    let app = Router::new()
        .nest("/api", api(mlflow_api(), with_auth))
        .nest(
            "/ajax-api",
            api(mlflow_api().merge(ajax_only_api()), with_auth),
        )
        .route("/graphql", get(graphql::graphql).post(graphql::graphql))
        .route("/health", get(meta::health))
        .route("/version", get(meta::version))
        .route("/get-artifact", get(artifacts::get_run_artifact))
        .route(
            "/model-versions/get-artifact",
            get(model_versions::get_artifact),
        )
        .route("/", get(ui::index))
        .route("/assets/{*path}", get(ui::hashed_asset))
        .route("/static-files/{*path}", get(ui::static_file))
        .fallback(endpoint_not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let prefix = state.config.static_prefix.trim_end_matches('/').to_string();
    let app = if prefix.is_empty() {
        app
    } else {
        // `/prefix/` as well as `/prefix`: the UI's page under the prefix.
        Router::new()
            .nest(&prefix, app)
            .route(&format!("{prefix}/"), get(ui::index))
            .fallback(endpoint_not_found)
    };
    let app = guarded(app, &state).with_state(state.clone());
    security::layer(app, &state.config)
        .layer(gzip())
        .layer(CatchPanicLayer::custom(meta::panic_response))
}

/// gzip for API JSON and the UI's text assets, when the client accepts it. Artifact
/// downloads (they carry `Content-Disposition`) keep their exact bytes and length.
fn gzip() -> CompressionLayer<impl Predicate> {
    let text = |_: axum::http::StatusCode,
                _: axum::http::Version,
                h: &axum::http::HeaderMap,
                _: &axum::http::Extensions| {
        let ct = h
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        !h.contains_key(axum::http::header::CONTENT_DISPOSITION)
            && ["application/json", "text/", "javascript", "image/svg+xml"]
                .iter()
                .any(|t| ct.contains(t))
    };
    CompressionLayer::new()
        .no_br()
        .no_deflate()
        .no_zstd()
        .compress_when(SizeAbove::new(1024).and(text))
}
