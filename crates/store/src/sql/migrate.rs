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
use sqlx::{AnyConnection, Executor, Row};

use super::Dialect;
use super::query::{Sql, db_err, execute};

/// MLflow 3.17.2's alembic head.
pub const HEAD_REVISION: &str = "dc11669786a5";

const SQLITE_SCHEMA: &str = include_str!("schema/sqlite.sql");

/// What [`migrate`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationOutcome {
    Created,
    UpToDate,
}

pub async fn migrate(
    conn: &mut AnyConnection,
    dialect: Dialect,
    default_artifact_root: &str,
) -> Result<MigrationOutcome> {
    conn.execute(dialect.begin_write()).await.map_err(db_err)?;
    let result = migrate_locked(conn, dialect, default_artifact_root).await;
    match &result {
        Ok(_) => {
            conn.execute("COMMIT").await.map_err(db_err)?;
        }
        Err(_) => {
            let _ = conn.execute("ROLLBACK").await;
        }
    }
    result
}

async fn table_names(conn: &mut AnyConnection, dialect: Dialect) -> Result<Vec<String>> {
    let sql = match dialect {
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
    let rows = sqlx::query(sql)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|r| r.try_get::<String, _>("name").map_err(db_err))
        .collect()
}

async fn migrate_locked(
    conn: &mut AnyConnection,
    dialect: Dialect,
    root: &str,
) -> Result<MigrationOutcome> {
    let tables = table_names(conn, dialect).await?;
    if tables.is_empty() {
        let schema = match dialect {
            Dialect::Sqlite => SQLITE_SCHEMA,
            other => {
                return Err(Error::invalid_state(format!(
                    "creating a new {other:?} database is not supported yet"
                )));
            }
        };
        sqlx::raw_sql(schema)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        let now = now_millis();
        execute(
            &mut *conn,
            dialect,
            Sql::new("INSERT INTO alembic_version (version_num) VALUES (?)").with(HEAD_REVISION),
        )
        .await?;
        let mut q = Sql::new(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace) VALUES (0, 'Default', ?, 'active', ?, ?, 'default')",
        );
        q.arg(ferroflow_core::uri::join(root, "0"))
            .arg(now)
            .arg(now);
        execute(&mut *conn, dialect, q).await?;
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
    let row = sqlx::query("SELECT version_num FROM alembic_version")
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    let revision = match row {
        Some(r) => r.try_get::<String, _>("version_num").map_err(db_err)?,
        None => String::new(),
    };
    if revision == HEAD_REVISION {
        return Ok(MigrationOutcome::UpToDate);
    }
    Err(Error::invalid_state(format!(
        "This MLflow database is at schema revision '{revision}', and Ferroflow speaks MLflow 3.17.2's schema ('{HEAD_REVISION}'). \
         Upgrade it once with `mlflow db upgrade <uri>` from MLflow 3.17.2 (Ferroflow does not migrate older schemas yet), \
         or point Ferroflow at a new database."
    )))
}
