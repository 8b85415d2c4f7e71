//! The store contract: one suite of behaviours, run against every store (the SQL store on
//! a fresh SQLite file, on a new PostgreSQL database and on a new MariaDB database, the
//! file store in a fresh directory), as quickwit's `metastore_test_suite!` runs one suite
//! against each metastore.

mod registry;
mod search_props;
mod server_db;
mod tracking;
mod transfer;

use std::sync::Arc;

use ferroflow_store::file::{FileStore, FileStoreOptions};
use ferroflow_store::sql::{SqlStore, StoreOptions};
use ferroflow_store::{RegistryStore, TrackingStore};

/// A store that keeps both tracking data and the registry.
pub trait Store: TrackingStore + RegistryStore {}
impl<T: TrackingStore + RegistryStore> Store for T {}

pub struct TestStore {
    pub store: Arc<dyn Store>,
    pub dir: tempfile::TempDir,
    pub _database: Option<server_db::Database>,
}

pub async fn sql_store() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}/mlflow.db", dir.path().display());
    let store = SqlStore::open(
        &uri,
        StoreOptions {
            default_artifact_root: "mlflow-artifacts:/".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    TestStore {
        store: Arc::new(store),
        dir,
        _database: None,
    }
}

pub async fn file_store() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(
        &dir.path().join("mlruns").display().to_string(),
        FileStoreOptions {
            default_artifact_root: Some("mlflow-artifacts:/".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    TestStore {
        store: Arc::new(store),
        dir,
        _database: None,
    }
}

/// The SQL store on a new PostgreSQL database, or `None` where no server is configured.
pub async fn pg_store() -> Option<TestStore> {
    server_store(server_db::Engine::Postgres).await
}

/// The SQL store on a new MySQL (MariaDB) database, or `None` where no server is configured.
pub async fn mysql_store() -> Option<TestStore> {
    server_store(server_db::Engine::Mysql).await
}

async fn server_store(engine: server_db::Engine) -> Option<TestStore> {
    let database = server_db::Database::create(engine)?;
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open(
        &database.uri,
        StoreOptions {
            default_artifact_root: "mlflow-artifacts:/".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    Some(TestStore {
        store: Arc::new(store),
        dir,
        _database: Some(database),
    })
}

/// Runs each named test of the suite against every store.
macro_rules! store_contract {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod sql {
            $(#[tokio::test] async fn $test() { crate::$module::$test(crate::sql_store().await).await })*
        }
        mod file {
            $(#[tokio::test] async fn $test() { crate::$module::$test(crate::file_store().await).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $test() {
                if let Some(store) = crate::pg_store().await {
                    crate::$module::$test(store).await
                }
            })*
        }
        mod mysql {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $test() {
                if let Some(store) = crate::mysql_store().await {
                    crate::$module::$test(store).await
                }
            })*
        }
    };
}

store_contract!(
    tracking::a_new_database_has_the_default_experiment,
    tracking::experiments_lifecycle,
    tracking::runs_log_and_read_back,
    tracking::history_paginates,
    tracking::bulk_history_orders_by_run_then_time_and_counts_overall,
    tracking::search_filters_and_orders,
    tracking::concurrent_writes_are_grouped_and_all_land,
    tracking::a_failing_write_fails_alone_in_its_group,
    registry::concurrent_registrations_number_versions_without_gaps_or_repeats,
    registry::stages_aliases_and_the_resolver,
    registry::rename_search_and_delete,
);
