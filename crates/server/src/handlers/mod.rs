//! Request handlers, one module per API area. Each decodes, validates, makes one call
//! and encodes; shared JSON helpers live here.

pub mod artifacts;
pub mod downsample;
pub mod experiments;
pub mod logged_models;
pub mod meta;
pub mod metrics;
pub mod model_versions;
pub mod registered_models;
pub mod roles;
pub mod runs;
pub mod users;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An MLflow JSON response.
pub fn json<T: Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut resp = body.into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => crate::ApiError(ferroflow_core::Error::internal(format!(
            "cannot encode the response: {e}"
        )))
        .into_response(),
    }
}

/// The empty response of write endpoints: `{}`.
pub fn empty() -> Response {
    json(&serde_json::json!({}))
}
