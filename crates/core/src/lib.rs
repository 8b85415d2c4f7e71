//! Ferroflow's domain model, shared by every other crate.
//!
//! Nothing here performs I/O: entities and their MLflow JSON shapes, the one table of
//! MLflow error codes, validation limits, ids, page tokens, URIs, and the search grammar
//! (filter and order-by strings parsed to an AST that every store executes).

pub mod downsample;
pub mod entities;
pub mod error;
pub mod host_policy;
pub mod ids;
pub mod model_uri;
pub mod page_token;
pub mod pyjson;
pub mod registry;
pub mod rules;
pub mod search;
pub mod uri;
pub mod validation;
pub mod version_source;
pub mod yaml;

pub use error::{Error, ErrorCode, Result};

/// Milliseconds since the Unix epoch, the unit of every MLflow timestamp.
pub fn now_millis() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The MLflow version whose REST API and schema Ferroflow speaks.
pub const MLFLOW_COMPAT_VERSION: &str = "3.17.2";
