//! The store's integration tests: one binary, one suite of behaviours run against the
//! SQL store on a fresh SQLite file.

mod registry;
mod search_props;
mod tracking;

use ferroflow_store::sql::{SqlStore, StoreOptions};

pub struct TestStore {
    pub store: SqlStore,
    pub dir: tempfile::TempDir,
}

pub async fn new_store() -> TestStore {
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
    TestStore { store, dir }
}
