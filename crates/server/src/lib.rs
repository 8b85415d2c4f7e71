//! The tracking server: MLflow's REST API over axum.
//!
//! [`router`] is the one route table. Handlers decode a request with
//! [`request::Fields`], validate with limits from `ferroflow-core`, make one store or
//! artifact call, and encode MLflow's JSON. Only this crate knows HTTP.

mod artifact_uri;
pub mod auth;
mod error;
mod graphql;
mod handlers;
pub mod listen;
mod pages;
pub mod request;
mod routes;
mod security;
mod ui;

pub use error::{ApiError, ApiResult};
pub use routes::router;
pub use security::{default_allowed_hosts, x_frame_options};

use std::sync::Arc;

use ferroflow_artifacts::ArtifactRepo;
use ferroflow_core::host_policy::HostPolicy;
use ferroflow_store::{RegistryStore, TrackingStore};

/// The server's resolved settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    /// Shown on the index page and in logs.
    pub backend_store_uri: String,
    pub default_artifact_root: String,
    /// Where proxied artifacts live; `None` with `--no-serve-artifacts`.
    pub artifacts_destination: Option<String>,
    /// Host header values accepted (DNS-rebinding protection); `*` accepts all.
    pub allowed_hosts: Vec<String>,
    /// Origins allowed for cross-origin requests, beyond localhost.
    pub cors_allowed_origins: Vec<String>,
    /// A path prefix for every route, e.g. `/mlflow`.
    pub static_prefix: String,
    /// Which host-addressed artifact URIs clients may store.
    pub host_policy: HostPolicy,
    /// The longest artifact location a new experiment may be given.
    pub max_artifact_location_length: usize,
    /// The `X-Frame-Options` every response carries (`SAMEORIGIN`, `DENY`); `None` sends
    /// none and lets any origin frame the UI.
    pub x_frame_options: Option<String>,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn TrackingStore>,
    /// The model registry; the same database as `store`.
    pub registry: Arc<dyn RegistryStore>,
    /// The proxied artifact store behind `mlflow-artifacts:/` URIs.
    pub artifacts: Option<Arc<dyn ArtifactRepo>>,
    pub config: Arc<ServerConfig>,
    /// MLflow's basic-auth app, when the server runs it (`--app-name basic-auth`).
    pub auth: Option<Arc<auth::AuthApp>>,
}

impl AppState {
    /// The state over one store that holds both tracking data and the registry.
    pub fn new<S: TrackingStore + RegistryStore>(
        store: S,
        artifacts: Option<Arc<dyn ArtifactRepo>>,
        config: ServerConfig,
    ) -> AppState {
        let store = Arc::new(store);
        AppState {
            store: store.clone(),
            registry: store,
            artifacts,
            config: Arc::new(config),
            auth: None,
        }
    }

    /// The same state with every route behind the basic-auth app.
    pub fn with_auth(mut self, auth: ferroflow_auth::Auth) -> AppState {
        self.auth = Some(Arc::new(auth::AuthApp::new(auth)));
        self
    }
}

/// Serves until `shutdown` resolves, then drains in-flight requests; connections are bounded
/// by `limits` (see [`listen`]).
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    limits: listen::Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listen::serve(listener, router(state), limits, shutdown).await
}
