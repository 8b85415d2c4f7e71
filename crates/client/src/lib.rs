//! A client for MLflow-compatible tracking servers (Ferroflow's or MLflow's).
//!
//! [`RestStore`] implements [`TrackingStore`] and `RegistryStore` over the REST API, so the CLI and the
//! projects runner work the same against `http(s)://` and `sqlite://` tracking URIs.
//! [`HttpArtifactRepo`] implements [`ArtifactRepo`] over the `mlflow-artifacts` proxy.

mod artifacts;
mod registry;
mod rest;

pub use artifacts::HttpArtifactRepo;
pub use rest::{Credentials, RestStore};

use ferroflow_artifacts::ArtifactRepo;
use ferroflow_store::TrackingStore;

/// Both traits, for callers that hold one value of each.
pub type DynStore = std::sync::Arc<dyn TrackingStore>;
pub type DynRepo = std::sync::Arc<dyn ArtifactRepo>;
