//! The SQL tracking store on MLflow's schema.
//!
//! Reads go to a pool of connections; writes go through one [`writer::Writer`] that groups
//! concurrent writes into a single transaction. Every statement is written once, with `?`
//! placeholders, and [`Dialect`] adapts the few constructs that differ between databases.

mod db;
mod dialect;
mod experiments;
mod import;
mod logged_models;
mod metrics;
pub mod migrate;
mod mysql;
mod pg_tls;
mod postgres;
mod query;
mod registry;
mod runs;
mod search;
mod upgrade;
mod writer;

pub use dialect::Dialect;
/// The connection layer, for other stores on their own schema in a database of the same
/// kinds (the auth store): one [`Conn`] interface, [`Sql`] with `?` placeholders, a [`Pool`].
pub mod conn {
    pub use super::db::{Conn, Pool, Row, Value};
    pub use super::migrate::{column_names, table_names};
    pub use super::query::{Arg, Sql};
    pub use super::{Dialect, Location, connect, parse_database_uri, pool};
}
pub(crate) use import::Importer;
pub(crate) use metrics::sample_steps;
pub use migrate::{HEAD_REVISION, MigrationOutcome};
pub(crate) use registry::real_path;
pub use upgrade::Progress;

use std::path::Path;

use async_trait::async_trait;
use ferroflow_core::entities::{
    DatasetInput, DatasetSummary, Experiment, LifecycleStage, LoggedModel, LoggedModelStatus,
    Metric, ModelInput, ModelOutput, ModelVersion, Page, Param, RegisteredModel, Run, RunInfo, Tag,
};
use ferroflow_core::validation::LongValues;
use ferroflow_core::{Error, Result};

use crate::{
    Batch, CreateLoggedModel, CreateModelVersion, CreateRun, ExperimentSearch, Garbage,
    LoggedModelSearch, MetricHistory, RegistrySearch, RegistryStore, RunSearch, RunUpdate,
    TrackingStore,
};
use db::{Conn, Pool, SqliteConn};
use writer::Writer;

/// How a [`SqlStore`] is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Where new experiments put their artifacts (`mlflow-artifacts:/`, `./mlruns`, `s3://...`).
    pub default_artifact_root: String,
    /// Over-long param and tag values: truncated (MLflow's default) or rejected.
    pub long_values: LongValues,
    /// Readers in the pool.
    pub read_connections: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            default_artifact_root: "./mlruns".into(),
            long_values: LongValues::Truncate,
            read_connections: 8,
        }
    }
}

pub struct SqlStore {
    pub(crate) dialect: Dialect,
    pub(crate) read: Pool,
    _checkpointer: Option<db::Checkpointer>,
    pub(crate) writer: Writer<runs::MetricWrite>,
    pub(crate) default_artifact_root: String,
    pub(crate) long_values: LongValues,
    pub(crate) migration: MigrationOutcome,
}

/// Where a database URL points, in MLflow's (SQLAlchemy's) URL forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `sqlite:///rel.db` is relative to the working directory, `sqlite:////abs.db` absolute.
    SqliteFile(String),
    /// `postgresql://`, `postgresql+psycopg2://`, `postgres://` ...
    Postgres(Box<postgres::PgTarget>),
    /// `mysql://`, `mysql+pymysql://`, `mariadb+mariadbconnector://` ...
    Mysql(Box<mysql::MyTarget>),
}

pub fn parse_database_uri(uri: &str) -> Result<Location> {
    let (scheme, rest) = uri
        .split_once("://")
        .ok_or_else(|| Error::invalid_param(format!("Not a database URI: '{uri}'")))?;
    let base = scheme
        .split('+')
        .next()
        .unwrap_or(scheme)
        .to_ascii_lowercase();
    match base.as_str() {
        "sqlite" => {
            let path = rest.strip_prefix('/').unwrap_or(rest);
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() || path == ":memory:" {
                return Err(Error::invalid_param(
                    "In-memory SQLite databases are not supported: every connection would see a different database. Use a file path such as sqlite:///mlflow.db",
                ));
            }
            Ok(Location::SqliteFile(path.to_string()))
        }
        "postgresql" | "postgres" => Ok(Location::Postgres(Box::new(postgres::PgTarget::parse(
            uri,
        )?))),
        "mysql" | "mariadb" => Ok(Location::Mysql(Box::new(mysql::MyTarget::parse(uri)?))),
        "mssql" => Err(Error::invalid_param(
            "The mssql backend store is not supported; use PostgreSQL, MySQL, MariaDB or SQLite",
        )),
        other => Err(Error::invalid_param(format!(
            "Unsupported database scheme '{other}' in '{uri}'"
        ))),
    }
}

/// One connection to the database at `uri` (a SQLite file is created if missing).
pub fn connect(uri: &str) -> Result<Box<dyn Conn>> {
    Ok(match parse_database_uri(uri)? {
        Location::SqliteFile(path) => Box::new(SqliteConn::open(&path)?),
        Location::Postgres(target) => {
            Box::new(postgres::PgConn::connect(std::sync::Arc::new(*target))?)
        }
        Location::Mysql(target) => Box::new(mysql::MyConn::connect(std::sync::Arc::new(*target))?),
    })
}

/// A pool of up to `size` connections to the database at `uri`, each opened when first
/// needed; the first is opened now, so an unreachable database fails here.
pub fn pool(uri: &str, size: usize) -> Result<(Dialect, Pool)> {
    let first = connect(uri)?;
    let dialect = first.dialect();
    let uri = uri.to_string();
    let pool = Pool::new(size, Box::new(move || connect(&uri)));
    pool.give(first);
    Ok((dialect, pool))
}

/// `ferroflow db upgrade`: brings the database at `uri` to MLflow 3.17.2's schema, creating
/// it in an empty database or upgrading one at an older MLflow revision, and reports each
/// step to `progress`. Blocking.
pub fn upgrade_database(
    uri: &str,
    default_artifact_root: &str,
    progress: Progress,
) -> Result<MigrationOutcome> {
    let conn = connect(uri)?;
    migrate::migrate(&*conn, default_artifact_root, Some(progress))
}

impl SqlStore {
    /// Opens (creating if needed) the database at `uri` and brings its schema to MLflow's head.
    pub async fn open(uri: &str, opts: StoreOptions) -> Result<SqlStore> {
        match parse_database_uri(uri)? {
            Location::SqliteFile(path) => Self::open_sqlite(path, opts).await,
            Location::Postgres(target) => Self::open_postgres(target, opts).await,
            Location::Mysql(target) => Self::open_mysql(target, opts).await,
        }
    }

    async fn open_sqlite(path: String, opts: StoreOptions) -> Result<SqlStore> {
        let root = opts.default_artifact_root.clone();
        let (writer_conn, migration) = tokio::task::spawn_blocking({
            let path = path.clone();
            move || -> Result<(Box<dyn Conn>, MigrationOutcome)> {
                if let Some(parent) = Path::new(&path)
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        Error::invalid_param(format!(
                            "Cannot create the directory of the database {}: {e}",
                            parent.display()
                        ))
                    })?;
                }
                let conn = SqliteConn::open(&path)?;
                let outcome = migrate::migrate(&conn, &root, None)?;
                Ok((Box::new(conn), outcome))
            }
        })
        .await
        .map_err(|e| Error::internal(format!("opening the database failed: {e}")))??;
        let checkpointer = db::Checkpointer::spawn(Box::new(SqliteConn::open(&path)?))?;
        let read = Pool::new(
            opts.read_connections,
            Box::new(move || SqliteConn::open(&path).map(|c| Box::new(c) as Box<dyn Conn>)),
        );
        Self::assemble(
            Dialect::Sqlite,
            read,
            writer_conn,
            Some(checkpointer),
            migration,
            opts,
        )
    }

    async fn open_postgres(
        target: Box<postgres::PgTarget>,
        opts: StoreOptions,
    ) -> Result<SqlStore> {
        let target = std::sync::Arc::new(*target);
        let connect =
            move || postgres::PgConn::connect(target.clone()).map(|c| Box::new(c) as Box<dyn Conn>);
        Self::open_server(Dialect::Postgres, std::sync::Arc::new(connect), opts).await
    }

    async fn open_mysql(target: Box<mysql::MyTarget>, opts: StoreOptions) -> Result<SqlStore> {
        let target = std::sync::Arc::new(*target);
        let connect =
            move || mysql::MyConn::connect(target.clone()).map(|c| Box::new(c) as Box<dyn Conn>);
        Self::open_server(Dialect::Mysql, std::sync::Arc::new(connect), opts).await
    }

    /// A store on a database server: the schema checked (or created) on the writer's
    /// connection, readers connected as the pool needs them.
    async fn open_server(
        dialect: Dialect,
        connect: std::sync::Arc<db::Opener>,
        opts: StoreOptions,
    ) -> Result<SqlStore> {
        let root = opts.default_artifact_root.clone();
        let (writer_conn, migration) = tokio::task::spawn_blocking({
            let connect = connect.clone();
            move || -> Result<(Box<dyn Conn>, MigrationOutcome)> {
                let conn = connect()?;
                let outcome = migrate::migrate(&*conn, &root, None)?;
                Ok((conn, outcome))
            }
        })
        .await
        .map_err(|e| Error::internal(format!("opening the database failed: {e}")))??;
        let read = Pool::new(opts.read_connections, Box::new(move || connect()));
        Self::assemble(dialect, read, writer_conn, None, migration, opts)
    }

    fn assemble(
        dialect: Dialect,
        read: Pool,
        writer_conn: Box<dyn Conn>,
        checkpointer: Option<db::Checkpointer>,
        migration: MigrationOutcome,
        opts: StoreOptions,
    ) -> Result<SqlStore> {
        Ok(SqlStore {
            dialect,
            read,
            writer: Writer::spawn(
                writer_conn,
                checkpointer.as_ref().map(|c| c.log_frames.clone()),
                Box::new(runs::merge_metric_writes),
            )?,
            _checkpointer: checkpointer,
            default_artifact_root: opts.default_artifact_root,
            long_values: opts.long_values,
            migration,
        })
    }

    /// Whether opening created the schema or found it current.
    pub fn migration(&self) -> &MigrationOutcome {
        &self.migration
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Reads one page of a search: the rows of `sql` (built with [`Sql::push_page`]),
    /// decoded by `decode` and completed by `complete` (their tags, params, ...) in the
    /// same read.
    pub(crate) async fn read_page<R, T>(
        &self,
        sql: query::Sql,
        max: i64,
        offset: i64,
        decode: fn(&db::Row) -> Result<R>,
        complete: fn(&dyn Conn, Vec<R>) -> Result<Vec<T>>,
    ) -> Result<Page<T>>
    where
        R: Send + 'static,
        T: Send + 'static,
    {
        self.read
            .read(move |c| {
                let rows = c
                    .query(&sql)?
                    .iter()
                    .map(decode)
                    .collect::<Result<Vec<_>>>()?;
                let (rows, next_page_token) = query::page_of(rows, max, offset);
                Ok(Page {
                    items: complete(c, rows)?,
                    next_page_token,
                })
            })
            .await
    }
}

#[async_trait]
impl TrackingStore for SqlStore {
    async fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: Vec<Tag>,
    ) -> Result<String> {
        experiments::create(self, name, artifact_location, tags).await
    }
    async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        experiments::get(self, experiment_id).await
    }
    async fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        experiments::get_by_name(self, name).await
    }
    async fn search_experiments(&self, s: ExperimentSearch) -> Result<Page<Experiment>> {
        experiments::search(self, s).await
    }
    async fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        experiments::rename(self, experiment_id, new_name).await
    }
    async fn set_experiment_lifecycle(
        &self,
        experiment_id: &str,
        stage: LifecycleStage,
    ) -> Result<()> {
        experiments::set_lifecycle(self, experiment_id, stage).await
    }
    async fn set_experiment_tag(&self, experiment_id: &str, tag: Tag) -> Result<()> {
        experiments::set_tag(self, experiment_id, tag).await
    }
    async fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()> {
        experiments::delete_tag(self, experiment_id, key).await
    }

    async fn create_run(&self, req: CreateRun) -> Result<Run> {
        runs::create(self, req).await
    }
    async fn get_run(&self, run_id: &str) -> Result<Run> {
        runs::get(self, run_id).await
    }
    async fn update_run(&self, run_id: &str, update: RunUpdate) -> Result<RunInfo> {
        runs::update(self, run_id, update).await
    }
    async fn set_run_lifecycle(&self, run_id: &str, stage: LifecycleStage) -> Result<()> {
        runs::set_lifecycle(self, run_id, stage).await
    }
    async fn log_batch(&self, run_id: &str, batch: Batch) -> Result<()> {
        runs::log_batch(self, run_id, batch).await
    }
    async fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        runs::delete_tag(self, run_id, key).await
    }
    async fn log_inputs(
        &self,
        run_id: &str,
        datasets: Vec<DatasetInput>,
        models: Vec<ModelInput>,
    ) -> Result<()> {
        runs::log_inputs(self, run_id, datasets, models).await
    }
    async fn log_outputs(&self, run_id: &str, models: Vec<ModelOutput>) -> Result<()> {
        runs::log_outputs(self, run_id, models).await
    }
    async fn search_runs(&self, s: RunSearch) -> Result<Page<Run>> {
        search::search_runs(self, s).await
    }
    async fn metric_history(
        &self,
        run_id: &str,
        key: &str,
        max_results: Option<i64>,
        page_token: Option<String>,
    ) -> Result<MetricHistory> {
        metrics::history(self, run_id, key, max_results, page_token, None).await
    }
    async fn metric_history_from(
        &self,
        run_id: &str,
        key: &str,
        start_step: i64,
    ) -> Result<MetricHistory> {
        metrics::history(self, run_id, key, None, None, Some(start_step)).await
    }
    async fn metric_history_bulk(
        &self,
        run_ids: &[String],
        key: &str,
        max_results: i64,
    ) -> Result<Vec<Metric>> {
        metrics::bulk(self, run_ids, key, max_results).await
    }
    async fn search_dataset_summaries(
        &self,
        experiment_ids: &[String],
    ) -> Result<Vec<DatasetSummary>> {
        runs::dataset_summaries(self, experiment_ids).await
    }
    async fn metric_history_bulk_interval(
        &self,
        run_ids: &[String],
        key: &str,
        start_step: Option<i64>,
        end_step: Option<i64>,
        max_results: i64,
    ) -> Result<Vec<Metric>> {
        metrics::bulk_interval(self, run_ids, key, start_step, end_step, max_results).await
    }

    async fn create_logged_model(&self, req: CreateLoggedModel) -> Result<LoggedModel> {
        logged_models::create(self, req).await
    }
    async fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        logged_models::get(self, model_id).await
    }
    async fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel> {
        logged_models::finalize(self, model_id, status).await
    }
    async fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        logged_models::delete(self, model_id).await
    }
    async fn set_logged_model_tags(&self, model_id: &str, tags: Vec<Tag>) -> Result<()> {
        logged_models::set_tags(self, model_id, tags).await
    }
    async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        logged_models::delete_tag(self, model_id, key).await
    }
    async fn log_logged_model_params(&self, model_id: &str, params: Vec<Param>) -> Result<()> {
        logged_models::log_params(self, model_id, params).await
    }
    async fn search_logged_models(&self, s: LoggedModelSearch) -> Result<Page<LoggedModel>> {
        logged_models::search(self, s).await
    }

    async fn garbage(&self, older_than_ms: Option<i64>) -> Result<Garbage> {
        runs::garbage(self, older_than_ms).await
    }
    async fn purge_run(&self, run_id: &str) -> Result<()> {
        runs::purge(self, run_id).await
    }
    async fn purge_experiment(&self, experiment_id: &str) -> Result<()> {
        experiments::purge(self, experiment_id).await
    }
}

#[async_trait]
impl RegistryStore for SqlStore {
    async fn create_registered_model(
        &self,
        name: &str,
        tags: Vec<Tag>,
        description: Option<String>,
    ) -> Result<RegisteredModel> {
        registry::create_registered_model(self, name, tags, description).await
    }
    async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        registry::get_registered_model(self, name).await
    }
    async fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel> {
        registry::rename_registered_model(self, name, new_name).await
    }
    async fn update_registered_model(
        &self,
        name: &str,
        description: Option<String>,
    ) -> Result<RegisteredModel> {
        registry::update_registered_model(self, name, description).await
    }
    async fn delete_registered_model(&self, name: &str) -> Result<()> {
        registry::delete_registered_model(self, name).await
    }
    async fn search_registered_models(&self, s: RegistrySearch) -> Result<Page<RegisteredModel>> {
        registry::search_registered_models(self, s).await
    }
    async fn get_latest_versions(
        &self,
        name: &str,
        stages: Vec<String>,
    ) -> Result<Vec<ModelVersion>> {
        registry::get_latest_versions(self, name, stages).await
    }
    async fn set_registered_model_tag(&self, name: &str, tag: Tag) -> Result<()> {
        registry::set_registered_model_tag(self, name, tag).await
    }
    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        registry::delete_registered_model_tag(self, name, key).await
    }
    async fn create_model_version(&self, req: CreateModelVersion) -> Result<ModelVersion> {
        registry::create_model_version(self, req).await
    }
    async fn get_model_version(&self, name: &str, version: &str) -> Result<ModelVersion> {
        registry::get_model_version(self, name, version).await
    }
    async fn update_model_version(
        &self,
        name: &str,
        version: &str,
        description: Option<String>,
    ) -> Result<ModelVersion> {
        registry::update_model_version(self, name, version, description).await
    }
    async fn transition_model_version_stage(
        &self,
        name: &str,
        version: &str,
        stage: &str,
        archive_existing_versions: bool,
    ) -> Result<ModelVersion> {
        registry::transition_stage(self, name, version, stage, archive_existing_versions).await
    }
    async fn delete_model_version(&self, name: &str, version: &str) -> Result<()> {
        registry::delete_model_version(self, name, version).await
    }
    async fn search_model_versions(&self, s: RegistrySearch) -> Result<Page<ModelVersion>> {
        registry::search_model_versions(self, s).await
    }
    async fn get_model_version_download_uri(&self, name: &str, version: &str) -> Result<String> {
        registry::get_download_uri(self, name, version).await
    }
    async fn set_model_version_tag(&self, name: &str, version: &str, tag: Tag) -> Result<()> {
        registry::set_model_version_tag(self, name, version, tag).await
    }
    async fn delete_model_version_tag(&self, name: &str, version: &str, key: &str) -> Result<()> {
        registry::delete_model_version_tag(self, name, version, key).await
    }
    async fn set_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: &str,
    ) -> Result<()> {
        registry::set_alias(self, name, alias, version).await
    }
    async fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        registry::delete_alias(self, name, alias).await
    }
    async fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        registry::get_by_alias(self, name, alias).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlalchemy_urls() {
        assert_eq!(
            parse_database_uri("sqlite:///mlflow.db").unwrap(),
            Location::SqliteFile("mlflow.db".into())
        );
        assert_eq!(
            parse_database_uri("sqlite:////tmp/x.db").unwrap(),
            Location::SqliteFile("/tmp/x.db".into())
        );
        assert!(parse_database_uri("sqlite://").is_err());
        assert!(parse_database_uri("sqlite:///:memory:").is_err());
        assert!(parse_database_uri("oracle://x").is_err());
    }
}
