//! The one interface every kind of model is served through.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::input::Input;

/// Why a prediction failed; `status` is the HTTP status to answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct PredictError {
    pub status: u16,
    pub message: String,
}

impl PredictError {
    pub fn bad_input(message: impl Into<String>) -> PredictError {
        PredictError {
            status: 400,
            message: message.into(),
        }
    }

    pub fn model(message: impl Into<String>) -> PredictError {
        PredictError {
            status: 500,
            message: message.into(),
        }
    }

    pub fn unavailable(message: impl Into<String>) -> PredictError {
        PredictError {
            status: 503,
            message: message.into(),
        }
    }
}

pub type PredictFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, PredictError>> + Send + 'a>>;

/// A loaded model that answers predictions.
pub trait Predictor: Send + Sync + 'static {
    /// Predicts on `input` (already checked against the signature). The answer is the
    /// predictions as JSON: a list, or an object of named outputs.
    fn predict(&self, input: Input, params: Option<Value>) -> PredictFuture<'_>;

    /// Whether it can answer now (`/ping`, `/v2/health/ready`).
    fn ready(&self) -> bool;

    /// What serves the model, for logs: "pyfunc, 4 Python workers", "onnx (native)".
    fn describe(&self) -> String;
}
