//! MLflow error bodies over HTTP.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferroflow_core::{Error, ErrorCode};

/// An error answered as MLflow does: the status of its code and the JSON body
/// `{"error_code", "message", "sqlstate", "error_class"}`.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(code = %self.0.code, message = %self.0.message, "request failed");
        }
        let body = serde_json::to_vec(&self.0.to_json()).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }
}

/// The answer to a route that does not exist.
pub async fn endpoint_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError(Error::new(
        ErrorCode::ENDPOINT_NOT_FOUND,
        format!("No API endpoint at {}", uri.path()),
    ))
}

/// The answer to a known route called with the wrong method.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let mut resp = ApiError(Error::new(
        ErrorCode::ENDPOINT_NOT_FOUND,
        format!("{} is not allowed on {}", method, uri.path()),
    ))
    .into_response();
    *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    resp
}
