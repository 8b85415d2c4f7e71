//! MLflow Models: what `ferroflow models serve` and `predict` do.
//!
//! [`mlmodel`] reads a model directory's `MLmodel` file and [`schema`] its signature;
//! [`input`] decodes scoring requests in every format MLflow has accepted (1.x's
//! `format=pandas-split` content types included) and [`enforce`] checks them against the
//! signature before a model sees them; a [`predictor::Predictor`] answers them — the
//! [`onnx`] one natively with tract (ONNX models: no Python on the request path), the
//! [`pyfunc`] one with a pool of Python worker processes that load the model with the
//! installed `mlflow`; [`server`] is the scoring server (`/invocations`, `/ping`, the Open
//! Inference Protocol V2 routes, `/metrics`).

pub mod docker;
pub mod enforce;
pub mod input;
pub mod metrics;
pub mod mlmodel;
pub mod onnx;
pub mod predictor;
pub mod pyfunc;
pub mod schema;
pub mod server;

pub use predictor::{PredictError, Predictor};
