//! Health, version, server info, and the last-resort panic answer.

use std::any::Any;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ferroflow_core::{Error, MLFLOW_COMPAT_VERSION};

use super::json;
use crate::{ApiError, AppState};

pub async fn health() -> &'static str {
    "OK"
}

/// The MLflow version this server is compatible with; clients compare it to feature gates.
pub async fn version() -> Response {
    let mut resp = MLFLOW_COMPAT_VERSION.into_response();
    resp.headers_mut().insert(
        "x-ferroflow-version",
        HeaderValue::from_static(env!("CARGO_PKG_VERSION")),
    );
    resp
}

pub async fn server_info(State(s): State<AppState>) -> Response {
    json(&serde_json::json!({
        "store_type": "SqlStore",
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
        "presigned_upload_run_id_supported": false,
        "presigned_upload_model_id_supported": false,
        "features_enabled": {},
        "ferroflow_version": env!("CARGO_PKG_VERSION"),
        "artifacts_served": s.artifacts.is_some(),
    }))
}

/// A handler panicked: log it, answer INTERNAL_ERROR without internals.
pub fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "a request handler panicked");
    let mut resp = ApiError(Error::internal(
        "The server hit an internal error; it has been logged",
    ))
    .into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
