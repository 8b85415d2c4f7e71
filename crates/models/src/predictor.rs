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
    /// MLflow's `error_code`, when it is not the one the status implies.
    pub code: Option<String>,
    /// The model's traceback, answered as MLflow's `stack_trace`.
    pub stack_trace: Option<String>,
}

impl PredictError {
    fn new(status: u16, message: impl Into<String>) -> PredictError {
        PredictError {
            status,
            message: message.into(),
            code: None,
            stack_trace: None,
        }
    }

    pub fn bad_input(message: impl Into<String>) -> PredictError {
        PredictError::new(400, message)
    }

    /// The model itself refused the input (its `predict` raised): a 400, as MLflow's
    /// scoring server answers, with the model's error in the message.
    pub fn rejected(
        message: impl Into<String>,
        code: Option<String>,
        stack_trace: Option<String>,
    ) -> PredictError {
        PredictError {
            status: 400,
            message: message.into(),
            code,
            stack_trace,
        }
    }

    /// The server failed to serve (a worker died, an output it cannot encode): a 500.
    pub fn model(message: impl Into<String>) -> PredictError {
        PredictError::new(500, message)
    }

    pub fn unavailable(message: impl Into<String>) -> PredictError {
        PredictError::new(503, message)
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
