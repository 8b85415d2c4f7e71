//! Schema creation and migration, keyed on MLflow's `alembic_version`.
//!
//! The database's revision decides what happens, once, inside one write transaction (so
//! concurrent starts serialize on the lock and the second sees the first's result):
//! - an empty database gets MLflow's head schema, the head revision and the `Default`
//!   experiment;
//! - a database at the head revision is used as is;
//! - an older MLflow revision is upgraded when asked (`ferroflow db upgrade`, see
//!   [`super::upgrade`]) and refused with a message that says so otherwise;
//! - any other revision, or tables without `alembic_version`, is refused with a message
//!   that says what to do.
//!
//! MySQL commits before and after every `CREATE`, so there a transaction cannot keep a
//! second process from creating the schema too; a named lock (`GET_LOCK`) held for the
//! whole check does.

use ferroflow_core::{Error, Result, now_millis};

use super::Dialect;
use super::db::Conn;
use super::query::Sql;
use super::upgrade::{self, Progress, REVISIONS, STATE_TABLE};

/// MLflow 3.17.2's alembic head.
pub const HEAD_REVISION: &str = "dc11669786a5";

const SQLITE_SCHEMA: &str = include_str!("schema/sqlite.sql");
const POSTGRES_SCHEMA: &str = include_str!("schema/postgres.sql");
const MYSQL_SCHEMA: &str = include_str!("schema/mysql.sql");

/// The named lock MySQL processes take while they look at and create the schema.
const MYSQL_SCHEMA_LOCK: &str = "ferroflow_schema";

/// The advisory lock PostgreSQL processes take while they look at and create the schema
/// (an arbitrary constant: "ferroflow" in ASCII, truncated).
const PG_SCHEMA_LOCK: i64 = 0x6665_7272_6f66_6c6f;

/// What [`migrate`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationOutcome {
    Created,
    UpToDate,
    /// Brought from MLflow's revision `from` to the head.
    Upgraded {
        from: String,
    },
}

/// Secondary indexes Ferroflow adds for its queries, as (name, table, columns). MLflow's
/// code never sees them (it names indexes itself and its migrations recreate the tables
/// they rebuild), so a database with them stays one Python MLflow opens as is.
const FERROFLOW_INDEXES: &[(&str, &str, &str)] = &[
    (
        "ferroflow_latest_metrics_key_value",
        "latest_metrics",
        "key, value",
    ),
    (
        "ferroflow_runs_experiment",
        "runs",
        "experiment_id, lifecycle_stage",
    ),
    (
        "ferroflow_metrics_history",
        "metrics",
        "run_uuid, key, step, timestamp, value, is_nan",
    ),
];

/// Creates Ferroflow's secondary indexes, if missing.
pub(crate) fn create_ferroflow_indexes(conn: &dyn Conn) -> Result<()> {
    // MySQL has no `CREATE INDEX IF NOT EXISTS` (MariaDB has): there the ones present are
    // looked up first.
    let (existing, if_missing): (Vec<String>, &str) = match conn.dialect() {
        Dialect::Mysql => (
            conn.query(&Sql::new(
                "SELECT DISTINCT index_name AS name FROM information_schema.statistics \
                 WHERE table_schema = DATABASE() AND index_name LIKE 'ferroflow%'",
            ))?
            .iter()
            .map(|r| r.str("name"))
            .collect::<Result<_>>()?,
            "",
        ),
        Dialect::Sqlite | Dialect::Postgres => (Vec::new(), "IF NOT EXISTS "),
    };
    let script: String = FERROFLOW_INDEXES
        .iter()
        .filter(|(name, _, _)| !existing.iter().any(|e| e == name))
        .map(|(name, table, cols)| format!("CREATE INDEX {if_missing}{name} ON {table} ({cols});"))
        .collect();
    if script.is_empty() {
        return Ok(());
    }
    conn.execute_script(&script)
}

/// Brings the database's schema to MLflow's head, or refuses. `upgrade` (with where to
/// report progress) allows upgrading from an older MLflow revision; without it such a
/// database is refused.
pub fn migrate(
    conn: &dyn Conn,
    default_artifact_root: &str,
    upgrade: Option<Progress>,
) -> Result<MigrationOutcome> {
    if conn.dialect() != Dialect::Mysql {
        return migrate_in_transaction(conn, default_artifact_root, upgrade);
    }
    let locked = conn
        .query_opt(&Sql::new("SELECT GET_LOCK(?, 60) AS locked").with(MYSQL_SCHEMA_LOCK))?
        .map(|r| r.i64("locked"))
        .transpose()?;
    if locked != Some(1) {
        return Err(Error::new(
            ferroflow_core::ErrorCode::TEMPORARILY_UNAVAILABLE,
            "Another process has been creating or checking this database's schema for a minute; try again",
        ));
    }
    let result = migrate_in_transaction(conn, default_artifact_root, upgrade);
    let released =
        conn.query(&Sql::new("SELECT RELEASE_LOCK(?) AS released").with(MYSQL_SCHEMA_LOCK));
    let outcome = result?;
    released?;
    Ok(outcome)
}

fn migrate_in_transaction(
    conn: &dyn Conn,
    default_artifact_root: &str,
    upgrade: Option<Progress>,
) -> Result<MigrationOutcome> {
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
    let result = migrate_locked(conn, default_artifact_root, upgrade).and_then(|outcome| {
        create_ferroflow_indexes(conn)?;
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

/// The tables of the connection's database (its current schema on PostgreSQL).
pub fn table_names(conn: &dyn Conn) -> Result<Vec<String>> {
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

/// A table's columns that take values, in order (a generated column, such as `spans`'
/// `duration_ns`, computes its own).
pub fn column_names(conn: &dyn Conn, table: &str) -> Result<Vec<String>> {
    let sql = match conn.dialect() {
        Dialect::Sqlite => "SELECT name FROM pragma_table_xinfo(?) WHERE hidden = 0 ORDER BY cid",
        Dialect::Postgres => {
            "SELECT column_name AS name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = ? AND is_generated <> 'ALWAYS' \
             ORDER BY ordinal_position"
        }
        Dialect::Mysql => {
            "SELECT column_name AS name FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ? \
             AND extra NOT LIKE '%STORED GENERATED%' AND extra NOT LIKE '%VIRTUAL GENERATED%' \
             ORDER BY ordinal_position"
        }
    };
    conn.query(&Sql::new(sql).with(table))?
        .iter()
        .map(|r| r.str("name"))
        .collect()
}

/// What MLflow's server finds in a database it created: the `Default` experiment (which
/// `mlflow db upgrade` leaves to the server) and the `default` workspace.
fn create_defaults(conn: &dyn Conn, root: &str) -> Result<()> {
    create_default_workspace(conn)?;
    create_default_experiment(conn, root)
}

/// The workspace MLflow's migrations make for everything that predates workspaces.
pub(crate) fn create_default_workspace(conn: &dyn Conn) -> Result<()> {
    conn.execute(&Sql::new(
        "INSERT INTO workspaces (name, description) VALUES ('default', 'Default workspace for legacy resources')",
    ))?;
    Ok(())
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

/// MLflow 3.17.2's tables, empty, at its head revision.
fn create_head(conn: &dyn Conn) -> Result<()> {
    match conn.dialect() {
        Dialect::Sqlite => conn.execute_script(SQLITE_SCHEMA)?,
        Dialect::Postgres => conn.execute_script(POSTGRES_SCHEMA)?,
        Dialect::Mysql => {
            let version = conn
                .query_opt(&Sql::new("SELECT VERSION() AS v"))?
                .map(|r| r.str("v"))
                .transpose()?
                .unwrap_or_default();
            conn.execute_script(&mysql_schema(&version))?
        }
    }
    conn.execute(
        &Sql::new("INSERT INTO alembic_version (version_num) VALUES (?)").with(HEAD_REVISION),
    )?;
    Ok(())
}

fn migrate_locked(
    conn: &dyn Conn,
    root: &str,
    upgrade: Option<Progress>,
) -> Result<MigrationOutcome> {
    let tables = table_names(conn)?;
    if tables.is_empty() {
        create_head(conn)?;
        create_defaults(conn, root)?;
        return Ok(MigrationOutcome::Created);
    }
    if tables.iter().any(|t| t == STATE_TABLE) {
        let Some(progress) = upgrade else {
            return Err(Error::invalid_state(
                "An interrupted `ferroflow db upgrade` left this database between two MLflow schemas (its rows are kept aside). \
                 Run `ferroflow db upgrade <uri>` again to finish it.",
            ));
        };
        let from = upgrade::finish(conn, &create_head, progress)?;
        return Ok(MigrationOutcome::Upgraded { from });
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
    match upgrade {
        Some(progress) if REVISIONS.contains(&revision.as_str()) => {
            upgrade::start(conn, &tables, &revision, &create_head, progress)?;
            Ok(MigrationOutcome::Upgraded { from: revision })
        }
        _ if REVISIONS.contains(&revision.as_str()) => Err(Error::invalid_state(format!(
            "This database is at MLflow schema revision '{revision}', older than MLflow 3.17.2's ('{HEAD_REVISION}'). \
             Take a backup, then upgrade it once with `ferroflow db upgrade <uri>` (or `mlflow db upgrade <uri>` from MLflow 3.17.2), \
             and start again."
        ))),
        _ => Err(Error::invalid_state(format!(
            "This database is at schema revision '{revision}', which is not one of MLflow's up to 3.17.2 ('{HEAD_REVISION}'): \
             a newer MLflow or something else made it. Ferroflow leaves it as it is; point Ferroflow at another database."
        ))),
    }
}

/// The MySQL schema for the server `version` (`SELECT VERSION()`): MLflow's JSON columns are
/// `longtext` with a `json_valid` check on MariaDB, as SQLAlchemy makes them there, and
/// `json` on MySQL.
fn mysql_schema(version: &str) -> std::borrow::Cow<'static, str> {
    if version.contains("MariaDB") {
        return MYSQL_SCHEMA.into();
    }
    const MARIADB_JSON: &str = "longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin ";
    let mut out = String::with_capacity(MYSQL_SCHEMA.len());
    for line in MYSQL_SCHEMA.lines() {
        match (line.find(MARIADB_JSON), line.find(" CHECK (json_valid(")) {
            (Some(start), Some(check)) => {
                let rest = &line[start + MARIADB_JSON.len()..check];
                let tail = if line.ends_with(',') { "," } else { "" };
                out.push_str(&format!("{}json {rest}{tail}", &line[..start]));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_columns_are_json_on_mysql_and_checked_longtext_on_mariadb() {
        let maria = mysql_schema("10.11.19-MariaDB-0+deb12u1");
        assert!(maria.contains("`inputs` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL CHECK (json_valid(`inputs`)),"));
        let mysql = mysql_schema("8.4.3");
        assert!(mysql.contains("  `inputs` json NOT NULL,\n"), "{mysql}");
        assert!(mysql.contains("  `tags` json DEFAULT NULL,\n"));
        assert!(
            !mysql
                .lines()
                .any(|l| !l.starts_with("--") && l.contains("json_valid"))
        );
    }
}
