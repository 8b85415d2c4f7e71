//! Tracking storage.
//!
//! [`TrackingStore`] is the one interface the server, the CLI and the projects runner use
//! to read and write experiments, runs, metrics and logged models. [`sql::SqlStore`]
//! implements it on MLflow's own SQL schema (SQLite today; PostgreSQL and MySQL are a
//! [`sql::Dialect`] away); `ferroflow-client` implements it over MLflow's REST API.

pub mod file;
pub mod model_uri;
pub mod sql;
pub mod transfer;

use async_trait::async_trait;
use ferroflow_core::Result;
use ferroflow_core::entities::{
    DatasetInput, DatasetSummary, Experiment, LifecycleStage, LoggedModel, LoggedModelStatus,
    Metric, ModelInput, ModelOutput, ModelVersion, Page, Param, Point, RegisteredModel, Run,
    RunInfo, RunStatus, Tag, ViewType,
};
use futures_util::stream::BoxStream;

/// What a new run starts with.
#[derive(Debug, Clone, Default)]
pub struct CreateRun {
    pub experiment_id: String,
    pub user_id: Option<String>,
    pub run_name: Option<String>,
    pub start_time: Option<i64>,
    pub tags: Vec<Tag>,
}

/// A run search. `filter` and `order_by` are the MLflow search strings.
#[derive(Debug, Clone)]
pub struct RunSearch {
    pub experiment_ids: Vec<String>,
    pub filter: String,
    pub view: ViewType,
    pub max_results: i64,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ExperimentSearch {
    pub filter: String,
    pub view: ViewType,
    pub max_results: i64,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
}

/// A run update: any of status, end time and name.
#[derive(Debug, Clone, Default)]
pub struct RunUpdate {
    pub status: Option<RunStatus>,
    pub end_time: Option<i64>,
    pub run_name: Option<String>,
}

/// A logged batch of metrics, params and tags for one run.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub metrics: Vec<Metric>,
    pub params: Vec<Param>,
    pub tags: Vec<Tag>,
}

/// A page of a metric's history, as a stream of batches of points in (step, timestamp,
/// value) order. `next_page_token` is set when `max_results` cut it short.
pub struct MetricHistory {
    pub points: BoxStream<'static, Result<Vec<Point>>>,
    /// Resolved once the stream is exhausted: a token when more points remain.
    pub next_page_token: tokio::sync::oneshot::Receiver<Option<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct CreateLoggedModel {
    pub experiment_id: String,
    pub name: Option<String>,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub params: Vec<Param>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone)]
pub struct LoggedModelSearch {
    pub experiment_ids: Vec<String>,
    pub filter: String,
    /// `(field, ascending)` pairs, as `logged-models/search` sends them.
    pub order_by: Vec<(String, bool)>,
    /// `(dataset_name, dataset_digest)`: only models with metrics on one of these
    /// datasets, and metric conditions judged on those datasets' values.
    pub datasets: Vec<(String, Option<String>)>,
    pub max_results: i64,
    pub page_token: Option<String>,
}

/// What `gc` may remove: runs and experiments in the `deleted` stage.
#[derive(Debug, Clone, Default)]
pub struct Garbage {
    pub runs: Vec<RunInfo>,
    pub experiment_ids: Vec<String>,
    /// Deleted runs that stay because registered model versions were made from them:
    /// run id, and the versions (`name/version`) whose artifacts they hold.
    pub kept_runs: Vec<(String, Vec<String>)>,
}

/// Everything the tracking API needs from a store.
#[async_trait]
pub trait TrackingStore: Send + Sync + 'static {
    // ---- experiments ----
    async fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: Vec<Tag>,
    ) -> Result<String>;
    async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment>;
    async fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>>;
    async fn search_experiments(&self, search: ExperimentSearch) -> Result<Page<Experiment>>;
    async fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()>;
    async fn set_experiment_lifecycle(
        &self,
        experiment_id: &str,
        stage: LifecycleStage,
    ) -> Result<()>;
    async fn set_experiment_tag(&self, experiment_id: &str, tag: Tag) -> Result<()>;
    async fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()>;

    // ---- runs ----
    async fn create_run(&self, req: CreateRun) -> Result<Run>;
    async fn get_run(&self, run_id: &str) -> Result<Run>;
    async fn update_run(&self, run_id: &str, update: RunUpdate) -> Result<RunInfo>;
    async fn set_run_lifecycle(&self, run_id: &str, stage: LifecycleStage) -> Result<()>;
    async fn log_batch(&self, run_id: &str, batch: Batch) -> Result<()>;
    async fn delete_tag(&self, run_id: &str, key: &str) -> Result<()>;
    async fn log_inputs(
        &self,
        run_id: &str,
        datasets: Vec<DatasetInput>,
        models: Vec<ModelInput>,
    ) -> Result<()>;
    async fn log_outputs(&self, run_id: &str, models: Vec<ModelOutput>) -> Result<()>;
    async fn search_runs(&self, search: RunSearch) -> Result<Page<Run>>;
    async fn metric_history(
        &self,
        run_id: &str,
        key: &str,
        max_results: Option<i64>,
        page_token: Option<String>,
    ) -> Result<MetricHistory>;
    /// The whole history of `key` with `step >= start_step`, in step order: what a zoomed
    /// chart reads. The default reads from the first step and leaves the skipping to the
    /// caller; stores that can seek to the step override it.
    async fn metric_history_from(
        &self,
        run_id: &str,
        key: &str,
        start_step: i64,
    ) -> Result<MetricHistory> {
        let _ = start_step;
        self.metric_history(run_id, key, None, None).await
    }
    /// Every point of `key` for several runs, ordered by run id, then timestamp, step and
    /// value, at most `max_results` in all (MLflow's `get-history-bulk`). Unknown runs
    /// contribute nothing.
    async fn metric_history_bulk(
        &self,
        run_ids: &[String],
        key: &str,
        max_results: i64,
    ) -> Result<Vec<Metric>>;
    /// The datasets logged to runs of these experiments, one row per distinct
    /// (experiment, name, digest, context), at most 1,000.
    async fn search_dataset_summaries(
        &self,
        experiment_ids: &[String],
    ) -> Result<Vec<DatasetSummary>>;
    /// Points of `key` for several runs with `start_step <= step <= end_step`, at most
    /// `max_results` per run, evenly sampled over the steps when there are more.
    async fn metric_history_bulk_interval(
        &self,
        run_ids: &[String],
        key: &str,
        start_step: Option<i64>,
        end_step: Option<i64>,
        max_results: i64,
    ) -> Result<Vec<Metric>>;

    // ---- logged models (MLflow 3) ----
    async fn create_logged_model(&self, req: CreateLoggedModel) -> Result<LoggedModel>;
    async fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel>;
    async fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel>;
    async fn delete_logged_model(&self, model_id: &str) -> Result<()>;
    async fn set_logged_model_tags(&self, model_id: &str, tags: Vec<Tag>) -> Result<()>;
    async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()>;
    async fn log_logged_model_params(&self, model_id: &str, params: Vec<Param>) -> Result<()>;
    async fn search_logged_models(&self, search: LoggedModelSearch) -> Result<Page<LoggedModel>>;

    // ---- maintenance ----
    /// Deleted runs (optionally only those deleted before `older_than_ms`) and deleted experiments.
    async fn garbage(&self, older_than_ms: Option<i64>) -> Result<Garbage>;
    /// Removes a deleted run and everything that belongs to it.
    async fn purge_run(&self, run_id: &str) -> Result<()>;
    /// Removes a deleted experiment; its runs must have been purged first.
    async fn purge_experiment(&self, experiment_id: &str) -> Result<()>;
}

/// A new model version.
#[derive(Debug, Clone, Default)]
pub struct CreateModelVersion {
    pub name: String,
    /// Where the model is: `models:/<model_id>`, `runs:/<run_id>/path`, an artifact URI.
    pub source: String,
    pub run_id: Option<String>,
    pub model_id: Option<String>,
    pub run_link: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<Tag>,
}

/// A registry search (registered models or model versions).
#[derive(Debug, Clone, Default)]
pub struct RegistrySearch {
    pub filter: String,
    pub max_results: i64,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
}

/// Everything the model registry API needs from a store.
#[async_trait]
pub trait RegistryStore: Send + Sync + 'static {
    async fn create_registered_model(
        &self,
        name: &str,
        tags: Vec<Tag>,
        description: Option<String>,
    ) -> Result<RegisteredModel>;
    async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel>;
    async fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel>;
    async fn update_registered_model(
        &self,
        name: &str,
        description: Option<String>,
    ) -> Result<RegisteredModel>;
    async fn delete_registered_model(&self, name: &str) -> Result<()>;
    async fn search_registered_models(
        &self,
        search: RegistrySearch,
    ) -> Result<Page<RegisteredModel>>;
    /// The newest version in each of `stages` (every stage when empty).
    async fn get_latest_versions(
        &self,
        name: &str,
        stages: Vec<String>,
    ) -> Result<Vec<ModelVersion>>;
    async fn set_registered_model_tag(&self, name: &str, tag: Tag) -> Result<()>;
    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()>;

    async fn create_model_version(&self, req: CreateModelVersion) -> Result<ModelVersion>;
    async fn get_model_version(&self, name: &str, version: &str) -> Result<ModelVersion>;
    async fn update_model_version(
        &self,
        name: &str,
        version: &str,
        description: Option<String>,
    ) -> Result<ModelVersion>;
    async fn transition_model_version_stage(
        &self,
        name: &str,
        version: &str,
        stage: &str,
        archive_existing_versions: bool,
    ) -> Result<ModelVersion>;
    async fn delete_model_version(&self, name: &str, version: &str) -> Result<()>;
    async fn search_model_versions(&self, search: RegistrySearch) -> Result<Page<ModelVersion>>;
    /// Where a version's artifacts are.
    async fn get_model_version_download_uri(&self, name: &str, version: &str) -> Result<String>;
    async fn set_model_version_tag(&self, name: &str, version: &str, tag: Tag) -> Result<()>;
    async fn delete_model_version_tag(&self, name: &str, version: &str, key: &str) -> Result<()>;

    async fn set_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: &str,
    ) -> Result<()>;
    async fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()>;
    async fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion>;
}

/// A tracking URI opened as a store: the one factory that turns a local backend URI
/// (`sqlite:///...`, a directory, `file:///...`) into a store.
pub struct Opened {
    pub tracking: std::sync::Arc<dyn TrackingStore>,
    pub registry: std::sync::Arc<dyn RegistryStore>,
    pub kind: OpenedKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenedKind {
    /// A SQL database, created now or found at MLflow's head.
    Sql(sql::MigrationOutcome),
    /// MLflow's file store at this absolute directory.
    File(std::path::PathBuf),
}

/// How [`open`] opens a store.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Where new experiments put their artifacts. `None` means the store's own default:
    /// `./mlruns` beside a database, `<root>/<experiment_id>` inside a file store.
    pub default_artifact_root: Option<String>,
    /// The artifact root of databases when `default_artifact_root` is `None`.
    pub database_artifact_root: String,
    pub long_values: ferroflow_core::validation::LongValues,
}

/// Opens the store behind `uri`: a database URL or MLflow's file store (a path or
/// `file:` URI). Server URLs are not stores; they are answered by `ferroflow-client`.
pub async fn open(uri: &str, opts: OpenOptions) -> Result<Opened> {
    use ferroflow_core::uri::TrackingUri;
    match TrackingUri::parse(uri)? {
        TrackingUri::Database(db) => {
            let store = std::sync::Arc::new(
                sql::SqlStore::open(
                    &db,
                    sql::StoreOptions {
                        default_artifact_root: opts
                            .default_artifact_root
                            .unwrap_or(opts.database_artifact_root),
                        long_values: opts.long_values,
                        ..Default::default()
                    },
                )
                .await?,
            );
            Ok(Opened {
                kind: OpenedKind::Sql(store.migration().clone()),
                tracking: store.clone(),
                registry: store,
            })
        }
        TrackingUri::File(path) => {
            let store = std::sync::Arc::new(
                file::FileStore::open(
                    &path,
                    file::FileStoreOptions {
                        default_artifact_root: opts.default_artifact_root,
                        long_values: opts.long_values,
                    },
                )
                .await?,
            );
            Ok(Opened {
                kind: OpenedKind::File(store.root().to_path_buf()),
                tracking: store.clone(),
                registry: store,
            })
        }
        TrackingUri::Http(url) => Err(ferroflow_core::Error::invalid_param(format!(
            "'{url}' is a tracking server, not a backend store; use a database URI such as sqlite:///mlflow.db or a file store directory"
        ))),
    }
}
