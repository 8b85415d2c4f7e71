//! Schema creation and migration, keyed on MLflow's `alembic_version`.
//!
//! The database's revision decides what happens, once, inside one write transaction (so
//! concurrent starts serialize on the lock and the second sees the first's result):
//! - an empty database gets MLflow's head schema, the head revision and the `Default`
//!   experiment;
//! - a database at the head revision is used as is;
//! - any other revision, or tables without `alembic_version`, is refused with a message
//!   that says what to do.

use ferroflow_core::{Error, Result, now_millis};

use super::Dialect;
use super::db::Conn;
use super::query::Sql;

/// MLflow 3.17.2's alembic head.
pub const HEAD_REVISION: &str = "dc11669786a5";

const SQLITE_SCHEMA: &str = include_str!("schema/sqlite.sql");
const POSTGRES_SCHEMA: &str = include_str!("schema/postgres.sql");

/// The advisory lock PostgreSQL processes take while they look at and create the schema
/// (an arbitrary constant: "ferroflow" in ASCII, truncated).
const PG_SCHEMA_LOCK: i64 = 0x6665_7272_6f66_6c6f;

/// What [`migrate`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationOutcome {
    Created,
    UpToDate,
}

/// Secondary indexes Ferroflow adds for its queries. MLflow's code never sees them (it
/// names indexes itself and its migrations recreate the tables they rebuild), so a
/// database with them stays one Python MLflow opens as is.
const FERROFLOW_INDEXES: &str = "\
    CREATE INDEX IF NOT EXISTS ferroflow_latest_metrics_key_value ON latest_metrics (key, value);\
    CREATE INDEX IF NOT EXISTS ferroflow_runs_experiment ON runs (experiment_id, lifecycle_stage);\
    CREATE INDEX IF NOT EXISTS ferroflow_metrics_history ON metrics (run_uuid, key, step, timestamp, value, is_nan);";

/// Creates Ferroflow's secondary indexes, if missing.
pub(crate) fn create_ferroflow_indexes(conn: &dyn Conn) -> Result<()> {
    conn.execute_script(FERROFLOW_INDEXES)
}

pub fn migrate(conn: &dyn Conn, default_artifact_root: &str) -> Result<MigrationOutcome> {
    // Another process may be creating the schema right now: wait for its lock.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match conn.execute_script(conn.dialect().begin_write()) {
            Err(e)
                if e.code == ferroflow_core::ErrorCode::TEMPORARILY_UNAVAILABLE
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other?,
        }
    }
    if conn.dialect() == Dialect::Postgres {
        let lock = conn.query(
            &Sql::new("SELECT pg_advisory_xact_lock(?) IS NULL AS locked").with(PG_SCHEMA_LOCK),
        );
        if let Err(e) = lock {
            let _ = conn.execute_script("ROLLBACK");
            return Err(e);
        }
    }
    let result = migrate_locked(conn, default_artifact_root).and_then(|outcome| {
        conn.execute_script(FERROFLOW_INDEXES)?;
        Ok(outcome)
    });
    match &result {
        Ok(_) => conn.execute_script("COMMIT")?,
        Err(_) => {
            let _ = conn.execute_script("ROLLBACK");
        }
    }
    result
}

fn table_names(conn: &dyn Conn) -> Result<Vec<String>> {
    let sql = match conn.dialect() {
        Dialect::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        Dialect::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()"
        }
        Dialect::Mysql => {
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()"
        }
    };
    conn.query(&Sql::new(sql))?
        .iter()
        .map(|r| r.str("name"))
        .collect()
}

fn create_default_experiment(conn: &dyn Conn, root: &str) -> Result<()> {
    let now = now_millis();
    conn.execute(
        &Sql::new(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace) \
             VALUES (0, 'Default', ?, 'active', ?, ?, 'default')",
        )
        .with(ferroflow_core::uri::join(root, "0"))
        .with(now)
        .with(now),
    )?;
    Ok(())
}

fn migrate_locked(conn: &dyn Conn, root: &str) -> Result<MigrationOutcome> {
    let tables = table_names(conn)?;
    if tables.is_empty() {
        let schema = match conn.dialect() {
            Dialect::Sqlite => SQLITE_SCHEMA,
            Dialect::Postgres => POSTGRES_SCHEMA,
            other => {
                return Err(Error::invalid_state(format!(
                    "creating a new {other:?} database is not supported yet"
                )));
            }
        };
        conn.execute_script(schema)?;
        conn.execute(
            &Sql::new("INSERT INTO alembic_version (version_num) VALUES (?)").with(HEAD_REVISION),
        )?;
        create_default_experiment(conn, root)?;
        return Ok(MigrationOutcome::Created);
    }
    if !tables.iter().any(|t| t == "alembic_version") {
        return Err(Error::invalid_state(format!(
            "This database has tables ({}) but no alembic_version table: it is not an MLflow tracking database",
            tables
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let revision = conn
        .query_opt(&Sql::new("SELECT version_num FROM alembic_version"))?
        .map(|r| r.str("version_num"))
        .transpose()?
        .unwrap_or_default();
    if revision == HEAD_REVISION {
        // `mlflow db upgrade` creates the tables but not the `Default` experiment, which
        // MLflow's server adds when it first opens the database; so does Ferroflow.
        let has_default = conn
            .query_opt(&Sql::new(
                "SELECT experiment_id FROM experiments WHERE experiment_id = 0",
            ))?
            .is_some();
        if !has_default {
            create_default_experiment(conn, root)?;
        }
        return Ok(MigrationOutcome::UpToDate);
    }
    Err(Error::invalid_state(format!(
        "This MLflow database is at schema revision '{revision}', and Ferroflow speaks MLflow 3.17.2's schema ('{HEAD_REVISION}'). \
         Upgrade it once with `mlflow db upgrade <uri>` from MLflow 3.17.2 (Ferroflow does not migrate older schemas yet), \
         or point Ferroflow at a new database."
    )))
}
