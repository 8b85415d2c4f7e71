//! Every environment variable Ferroflow reads, in one place. `MLFLOW_*` names mean what
//! they mean for MLflow; `FERROFLOW_*` names are Ferroflow's own.

/// Where tracking data lives for client commands: `http(s)://host:port` or `sqlite:///mlflow.db`.
pub const MLFLOW_TRACKING_URI: &str = "MLFLOW_TRACKING_URI";
/// Bearer token sent to the tracking server.
pub const MLFLOW_TRACKING_TOKEN: &str = "MLFLOW_TRACKING_TOKEN";
/// Basic-auth user name and password for the tracking server.
pub const MLFLOW_TRACKING_USERNAME: &str = "MLFLOW_TRACKING_USERNAME";
pub const MLFLOW_TRACKING_PASSWORD: &str = "MLFLOW_TRACKING_PASSWORD";
/// `true` to skip TLS certificate verification.
pub const MLFLOW_TRACKING_INSECURE_TLS: &str = "MLFLOW_TRACKING_INSECURE_TLS";
/// `false` to reject over-long param and tag values instead of truncating them.
pub const MLFLOW_TRUNCATE_LONG_VALUES: &str = "MLFLOW_TRUNCATE_LONG_VALUES";

/// Server settings, as `mlflow server` reads them.
pub const MLFLOW_BACKEND_STORE_URI: &str = "MLFLOW_BACKEND_STORE_URI";
pub const MLFLOW_DEFAULT_ARTIFACT_ROOT: &str = "MLFLOW_DEFAULT_ARTIFACT_ROOT";
pub const MLFLOW_ARTIFACTS_DESTINATION: &str = "MLFLOW_ARTIFACTS_DESTINATION";
pub const MLFLOW_SERVE_ARTIFACTS: &str = "MLFLOW_SERVE_ARTIFACTS";
pub const MLFLOW_HOST: &str = "MLFLOW_HOST";
pub const MLFLOW_PORT: &str = "MLFLOW_PORT";
pub const MLFLOW_WORKERS: &str = "MLFLOW_WORKERS";
pub const MLFLOW_STATIC_PREFIX: &str = "MLFLOW_STATIC_PREFIX";
pub const MLFLOW_SERVER_ALLOWED_HOSTS: &str = "MLFLOW_SERVER_ALLOWED_HOSTS";
pub const MLFLOW_SERVER_CORS_ALLOWED_ORIGINS: &str = "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS";
pub const MLFLOW_SERVER_X_FRAME_OPTIONS: &str = "MLFLOW_SERVER_X_FRAME_OPTIONS";
/// Schemes (comma-separated) whose URIs name a host, such as `http` or `ftp`, that clients
/// may still store as artifact locations and model version sources on a server.
pub const MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES: &str =
    ferroflow_core::host_policy::ALLOWED_SCHEMES_VAR;
/// The longest artifact location a new experiment may be given (default 2048).
pub const MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH: &str = "MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH";

/// The experiment `ferroflow run` runs in, by name or id.
pub const MLFLOW_EXPERIMENT_NAME: &str = "MLFLOW_EXPERIMENT_NAME";
pub const MLFLOW_EXPERIMENT_ID: &str = "MLFLOW_EXPERIMENT_ID";

/// Where ferroflow caches git mirrors and project environments (default ~/.cache/ferroflow).
pub const FERROFLOW_CACHE_DIR: &str = "FERROFLOW_CACHE_DIR";

/// Connection bounds of `server` and `models serve` (see `ConnArgs`).
pub const FERROFLOW_HEADER_TIMEOUT: &str = "FERROFLOW_HEADER_TIMEOUT";
pub const FERROFLOW_BODY_TIMEOUT: &str = "FERROFLOW_BODY_TIMEOUT";
pub const FERROFLOW_MAX_CONNECTIONS: &str = "FERROFLOW_MAX_CONNECTIONS";

/// Log filter for Ferroflow's own logs (`info`, `debug`, `ferroflow_store=debug`, ...).
pub const FERROFLOW_LOG: &str = "FERROFLOW_LOG";

/// The tracking URI when none is set: MLflow's default local database.
pub const DEFAULT_TRACKING_URI: &str = "sqlite:///mlflow.db";

pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub fn flag(name: &str) -> Option<bool> {
    var(name).map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// Where git mirrors, built environments and downloaded models are kept:
/// `$FERROFLOW_CACHE_DIR`, else `$XDG_CACHE_HOME/ferroflow`, else `~/.cache/ferroflow`.
pub fn cache_dir() -> std::path::PathBuf {
    use std::path::PathBuf;
    if let Some(d) = var(FERROFLOW_CACHE_DIR) {
        return PathBuf::from(d);
    }
    var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("ferroflow")
}
