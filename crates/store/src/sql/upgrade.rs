//! `ferroflow db upgrade`: a database at an older MLflow revision brought to MLflow 3.17.2's.
//!
//! MLflow gets there by replaying its alembic migrations, 66 since MLflow 1.0, each with its
//! own ALTERs per database. Ferroflow rebuilds instead, the same way on every database:
//! 1. every table is copied aside (`ferroflow_upgrade_<table>`), and the source revision
//!    recorded (`ferroflow_upgrade_state`);
//! 2. the old tables are dropped and the head schema created, as for a new database;
//! 3. the rows are copied back column by column, parents before children: a column a later
//!    revision added takes the head schema's default, one a later revision dropped is left
//!    behind;
//! 4. the migrations that *compute* data are applied as rules, for sources older than them:
//!    - `90e64c465722`: a run's `user_id` becomes its `mlflow.user` tag;
//!    - `89d4b8295536`: `latest_metrics` is computed from `metrics`;
//!    - `1b5f0d9ad7c1`: the `default` workspace exists;
//!    - `75868b020152`: a trace's name, session, token counts and costs move from its tags,
//!      metadata and metrics into `trace_info`'s columns (and those legacy rows go).
//!
//! On SQLite and PostgreSQL all of it is one transaction: it happens entirely or not at all.
//! MySQL commits every DDL statement, so there an interruption leaves the copies and the
//! state table behind, and the next `ferroflow db upgrade` resumes from step 2 (an
//! interrupted step 1 is started over; the original tables are still intact then).
//!
//! The one thing not rebuilt: analytics of MLflow 3 traces stored in the database (spans,
//! assessments) before `75868b020152`. Such a database is refused with a pointer to
//! `mlflow db upgrade`.

use std::collections::{BTreeMap, BTreeSet};

use ferroflow_core::{Error, Result};

use super::Dialect;
use super::db::Conn;
use super::migrate::{HEAD_REVISION, column_names, create_default_workspace, table_names};
use super::query::Sql;

/// MLflow's alembic revisions, oldest first; the last is [`HEAD_REVISION`].
pub(crate) const REVISIONS: &[&str] = &[
    "451aebb31d03",
    "90e64c465722",
    "181f10493468",
    "df50e92ffc5e",
    "7ac759974ad8",
    "89d4b8295536",
    "2b4d017a5e9b",
    "cfd24bdc0731",
    "0a8213491aaa",
    "728d730b5ebd",
    "27a6a02d2cf1",
    "84291f40a231",
    "a8c4a736bde6",
    "39d1c3be5f05",
    "c48cb773bb87",
    "bd07f7e963c5",
    "0c779009ac13",
    "cc1f77228345",
    "97727af70f4d",
    "3500859a5d39",
    "7f2a7d5fae7d",
    "2d6e25af4d3e",
    "acf3f17fdcc7",
    "867495a8f9d4",
    "5b0e9adcef9c",
    "4465047574b1",
    "f5a4f2784254",
    "0584bdc529eb",
    "400f98739977",
    "6953534de441",
    "bda7b8c39065",
    "cbc13b556ace",
    "770bee3ae1dd",
    "a1b2c3d4e5f6",
    "de4033877273",
    "1a0cddfcaa16",
    "534353b11cbc",
    "71994744cf8e",
    "3da73c924c2f",
    "bf29a5ff90ea",
    "1bd49d398cd23",
    "b7c8d9e0f1a2",
    "5d2d30f0abce",
    "c9d4e5f6a7b8",
    "2c33131f4dae",
    "d3e4f5a6b7c8",
    "d0e1f2a3b4c5",
    "c8d9e0f1a2b3",
    "1b5f0d9ad7c1",
    "e1f2a3b4c5d6",
    "76601a5f987d",
    "c3d6457b6d8a",
    "a5b4c3d2e1f0",
    "ae8bbe7743c9",
    "7d34483879f0",
    "da6fb0208061",
    "89d3d66ed43f",
    "b7e4c1a90f23",
    "a8b9c0d1e2f3",
    "c1d2e3f4a5b6",
    "c3d9e7f1a2b4",
    "6f8d9c3b2a1e",
    "1971f2d9a75b",
    "17e22815139b",
    "b7e2c1a4d9f3",
    "75868b020152",
    HEAD_REVISION,
];

/// The table that marks the copies complete and names the source revision.
pub(crate) const STATE_TABLE: &str = "ferroflow_upgrade_state";
const COPY_PREFIX: &str = "ferroflow_upgrade_";

/// Reports a step of the upgrade, for a person watching.
pub type Progress<'a> = &'a mut dyn FnMut(&str);

/// Whether `from` (a revision in [`REVISIONS`]) is older than `migration`.
fn before(from: usize, migration: &str) -> bool {
    REVISIONS
        .iter()
        .position(|r| *r == migration)
        .is_some_and(|m| from < m)
}

fn copy_of(table: &str) -> String {
    format!("{COPY_PREFIX}{table}")
}

fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}

/// Step 1, then the rest: copies every table of a database at revision `from` aside and
/// records `from`, then rebuilds (see [`finish`]).
pub(crate) fn start(
    conn: &dyn Conn,
    tables: &[String],
    from: &str,
    create_head: &dyn Fn(&dyn Conn) -> Result<()>,
    progress: Progress,
) -> Result<()> {
    let from_at = REVISIONS
        .iter()
        .position(|r| *r == from)
        .ok_or_else(|| Error::internal(format!("no MLflow revision '{from}' to upgrade from")))?;
    refuse_stored_mlflow3_traces(conn, tables, from_at)?;
    // Copies without the state table are what an interrupted copy left: start over.
    for stray in tables.iter().filter(|t| t.starts_with(COPY_PREFIX)) {
        conn.execute_script(&format!("DROP TABLE {}", quoted(stray)))?;
    }
    let originals: Vec<&String> = tables
        .iter()
        .filter(|t| !t.starts_with(COPY_PREFIX) && *t != "alembic_version")
        .collect();
    progress(&format!("Copying {} tables aside", originals.len()));
    for table in &originals {
        conn.execute_script(&format!(
            "CREATE TABLE {} AS SELECT * FROM {}",
            quoted(&copy_of(table)),
            quoted(table)
        ))?;
    }
    conn.execute_script(&format!(
        "CREATE TABLE {STATE_TABLE} (revision VARCHAR(32) NOT NULL)"
    ))?;
    conn.execute(&Sql::new(format!("INSERT INTO {STATE_TABLE} (revision) VALUES (?)")).with(from))?;
    finish(conn, create_head, progress).map(drop)
}

/// Steps 2–4, from the copies and the state table [`start`] made (or an interrupted run
/// left): whatever else is in the database is dropped and rebuilt from them.
pub(crate) fn finish(
    conn: &dyn Conn,
    create_head: &dyn Fn(&dyn Conn) -> Result<()>,
    progress: Progress,
) -> Result<String> {
    let from = conn
        .query_opt(&Sql::new(format!("SELECT revision FROM {STATE_TABLE}")))?
        .map(|r| r.str("revision"))
        .transpose()?
        .unwrap_or_default();
    let from_at = REVISIONS
        .iter()
        .position(|r| *r == from)
        .ok_or_else(|| {
            Error::invalid_state(format!(
                "{STATE_TABLE} names revision '{from}', which is not MLflow's; this database was not left by `ferroflow db upgrade`"
            ))
        })?;
    rebuild(conn, from_at, create_head, progress)?;
    Ok(from)
}

fn rebuild(
    conn: &dyn Conn,
    from_at: usize,
    create_head: &dyn Fn(&dyn Conn) -> Result<()>,
    progress: Progress,
) -> Result<()> {
    let tables = table_names(conn)?;
    let copies: BTreeSet<&str> = tables
        .iter()
        .filter_map(|t| t.strip_prefix(COPY_PREFIX))
        .filter(|t| *t != "state")
        .collect();
    let old: Vec<String> = tables
        .iter()
        .filter(|t| !t.starts_with(COPY_PREFIX))
        .cloned()
        .collect();
    // Children before parents (SQLite deletes a dropped table's rows first, and checks
    // them); PostgreSQL and MySQL drop the constraints with the tables.
    let mut drop_order = parents_first(&old, &foreign_keys(conn)?);
    drop_order.reverse();
    let (before_drop, cascade, after_drop) = match conn.dialect() {
        Dialect::Sqlite => ("", "", ""),
        Dialect::Postgres => ("", " CASCADE", ""),
        Dialect::Mysql => (
            "SET FOREIGN_KEY_CHECKS = 0",
            "",
            "SET FOREIGN_KEY_CHECKS = 1",
        ),
    };
    if !before_drop.is_empty() {
        conn.execute_script(before_drop)?;
    }
    for table in &drop_order {
        conn.execute_script(&format!("DROP TABLE {}{cascade}", quoted(table)))?;
    }
    if !after_drop.is_empty() {
        conn.execute_script(after_drop)?;
    }
    if conn.dialect() == Dialect::Postgres {
        // The one object of MLflow's schema that is not a table's: the head creates it again.
        conn.execute_script("DROP FUNCTION IF EXISTS prevent_secrets_aad_mutation() CASCADE")?;
    }
    progress("Creating MLflow 3.17.2's schema");
    create_head(conn)?;
    let head: Vec<String> = table_names(conn)?
        .into_iter()
        .filter(|t| !t.starts_with(COPY_PREFIX) && t != "alembic_version")
        .collect();
    for table in parents_first(&head, &foreign_keys(conn)?) {
        if !copies.contains(table.as_str()) {
            continue;
        }
        let copy = copy_of(&table);
        let kept: BTreeSet<String> = column_names(conn, &copy)?.into_iter().collect();
        let cols: Vec<String> = column_names(conn, &table)?
            .into_iter()
            .filter(|c| kept.contains(c))
            .map(|c| quoted(&c))
            .collect();
        let cols = cols.join(", ");
        let rows = conn
            .execute(&Sql::new(format!(
                "INSERT INTO {} ({cols}) SELECT {cols} FROM {}",
                quoted(&table),
                quoted(&copy)
            )))
            .map_err(|e| {
                Error::new(
                    e.code,
                    format!(
                        "Copying {table}'s rows into MLflow 3.17.2's schema failed: {}",
                        e.message
                    ),
                )
            })?;
        if rows > 0 {
            progress(&format!("{table}: {rows} rows"));
        }
    }
    apply_rules(conn, from_at, &copies, progress)?;
    if conn.dialect() == Dialect::Postgres {
        advance_sequences(conn)?;
    }
    for copy in &copies {
        conn.execute_script(&format!("DROP TABLE {}", quoted(&copy_of(copy))))?;
    }
    conn.execute_script(&format!("DROP TABLE {STATE_TABLE}"))?;
    Ok(())
}

/// The migrations that computed data, for a source older than each.
fn apply_rules(
    conn: &dyn Conn,
    from_at: usize,
    copies: &BTreeSet<&str>,
    progress: Progress,
) -> Result<()> {
    if before(from_at, "90e64c465722") {
        let n = conn.execute(&Sql::new(
            "INSERT INTO tags (\"key\", value, run_uuid) \
             SELECT 'mlflow.user', r.user_id, r.run_uuid FROM runs r \
             WHERE r.user_id IS NOT NULL AND r.user_id <> '' AND NOT EXISTS \
             (SELECT 1 FROM tags t WHERE t.run_uuid = r.run_uuid AND t.\"key\" = 'mlflow.user')",
        ))?;
        progress(&format!("tags: {n} runs' users recorded as mlflow.user"));
    }
    if before(from_at, "89d4b8295536") && !copies.contains("latest_metrics") {
        // Per run and key: the greatest step, then at it the latest timestamp, then at
        // both the greatest value.
        let n = conn.execute(&Sql::new(
            "INSERT INTO latest_metrics (\"key\", value, timestamp, step, is_nan, run_uuid) \
             SELECT m.\"key\", MAX(m.value), m.timestamp, m.step, m.is_nan, m.run_uuid \
             FROM metrics m JOIN \
               (SELECT m2.run_uuid, m2.\"key\", m2.step, MAX(m2.timestamp) AS timestamp \
                FROM metrics m2 JOIN \
                  (SELECT run_uuid, \"key\", MAX(step) AS step FROM metrics GROUP BY run_uuid, \"key\") s \
                  ON m2.run_uuid = s.run_uuid AND m2.\"key\" = s.\"key\" AND m2.step = s.step \
                GROUP BY m2.run_uuid, m2.\"key\", m2.step) t \
             ON m.run_uuid = t.run_uuid AND m.\"key\" = t.\"key\" AND m.step = t.step AND m.timestamp = t.timestamp \
             GROUP BY m.run_uuid, m.\"key\", m.step, m.timestamp, m.is_nan",
        ))?;
        progress(&format!("latest_metrics: {n} rows computed from metrics"));
    }
    if !copies.contains("workspaces") {
        create_default_workspace(conn)?;
    }
    if before(from_at, "75868b020152") {
        promote_trace_analytics(conn, copies.contains("trace_metrics"), progress)?;
    }
    Ok(())
}

/// MLflow 3 traces stored in the database before `75868b020152` need their spans and
/// assessments analysed again, which Ferroflow does not do.
fn refuse_stored_mlflow3_traces(conn: &dyn Conn, tables: &[String], from_at: usize) -> Result<()> {
    if !before(from_at, "75868b020152") {
        return Ok(());
    }
    for table in ["spans", "assessments", "span_metrics"] {
        if !tables.iter().any(|t| t == table) {
            continue;
        }
        let rows = conn
            .query_opt(&Sql::new(format!("SELECT COUNT(*) AS n FROM {table}")))?
            .map(|r| r.i64("n"))
            .transpose()?
            .unwrap_or(0);
        if rows > 0 {
            return Err(Error::invalid_state(format!(
                "This database holds MLflow 3 traces ({rows} rows in {table}) from before MLflow's trace analytics \
                 (revision 75868b020152), which Ferroflow does not recompute. Upgrade it once with \
                 `mlflow db upgrade <uri>` from MLflow 3.17.2; Ferroflow serves the result as it is."
            )));
        }
    }
    Ok(())
}

const TRACE_NAME_TAG: &str = "mlflow.traceName";
const SESSION_KEY: &str = "mlflow.trace.session";
const TOKEN_USAGE_KEY: &str = "mlflow.trace.tokenUsage";
const COST_KEY: &str = "mlflow.trace.cost";
const TOKEN_COLUMNS: [&str; 6] = [
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "cache_creation_input_tokens_above_1hr",
];
const COST_COLUMNS: [&str; 3] = ["input_cost", "output_cost", "total_cost"];
const TRACE_NAME_MAX_CHARS: usize = 4096;
const SESSION_ID_MAX_CHARS: usize = 250;

/// `75868b020152`: each trace's name (tag), session, token usage and cost (metadata, or
/// its token metrics, which win) become `trace_info` columns; the legacy rows are removed.
fn promote_trace_analytics(conn: &dyn Conn, has_metrics: bool, progress: Progress) -> Result<()> {
    const BATCH: i64 = 250;
    let mut last: Option<String> = None;
    let mut updated = 0u64;
    loop {
        let mut page = Sql::new("SELECT request_id FROM trace_info");
        if let Some(last) = &last {
            page.push(" WHERE request_id > ?").arg(last);
        }
        page.push(" ORDER BY request_id LIMIT ?").arg(BATCH);
        let ids: Vec<String> = conn
            .query(&page)?
            .iter()
            .map(|r| r.str("request_id"))
            .collect::<Result<_>>()?;
        let Some(tail) = ids.last().cloned() else {
            break;
        };
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        let mut sql = Sql::new("SELECT request_id, value FROM trace_tags WHERE \"key\" = ?");
        sql.arg(TRACE_NAME_TAG)
            .push(" AND request_id IN ")
            .push_list(&ids);
        for r in conn.query(&sql)? {
            if let Some(v) = r.opt_str("value")? {
                names.insert(r.str("request_id")?, v);
            }
        }
        let mut metadata: BTreeMap<(String, String), String> = BTreeMap::new();
        let mut sql = Sql::new(
            "SELECT request_id, \"key\", value FROM trace_request_metadata WHERE \"key\" IN ",
        );
        sql.push_list([SESSION_KEY, TOKEN_USAGE_KEY, COST_KEY])
            .push(" AND request_id IN ")
            .push_list(&ids);
        for r in conn.query(&sql)? {
            if let Some(v) = r.opt_str("value")? {
                metadata.insert((r.str("request_id")?, r.str("key")?), v);
            }
        }
        let mut metrics: BTreeMap<(String, String), Option<f64>> = BTreeMap::new();
        if has_metrics {
            let mut sql =
                Sql::new("SELECT request_id, \"key\", value FROM trace_metrics WHERE \"key\" IN ");
            sql.push_list(TOKEN_COLUMNS)
                .push(" AND request_id IN ")
                .push_list(&ids);
            for r in conn.query(&sql)? {
                metrics.insert((r.str("request_id")?, r.str("key")?), r.opt_f64("value")?);
            }
        }
        for id in &ids {
            let meta = |k: &str| metadata.get(&(id.clone(), k.to_string()));
            let usage = meta(TOKEN_USAGE_KEY)
                .map(|v| json_object(v))
                .unwrap_or_default();
            let cost = meta(COST_KEY).map(|v| json_object(v)).unwrap_or_default();
            let trace_name = names.get(id).map(|n| bounded(n, TRACE_NAME_MAX_CHARS));
            let session = meta(SESSION_KEY).map(|s| bounded(s, SESSION_ID_MAX_CHARS));
            let tokens =
                TOKEN_COLUMNS.map(|col| match metrics.get(&(id.clone(), col.to_string())) {
                    Some(value) => value.and_then(|v| token_count(&serde_json::Value::from(v))),
                    None => usage.get(col).and_then(token_count),
                });
            let costs = COST_COLUMNS.map(|col| cost.get(col).and_then(finite_float));
            if trace_name.is_none()
                && session.is_none()
                && tokens.iter().all(Option::is_none)
                && costs.iter().all(Option::is_none)
            {
                continue;
            }
            let mut update = Sql::new("UPDATE trace_info SET trace_name = ?");
            update.arg(trace_name).push(", session_id = ?").arg(session);
            for (col, v) in TOKEN_COLUMNS.iter().zip(tokens) {
                update.push(&format!(", {col} = ?")).arg(v);
            }
            for (col, v) in COST_COLUMNS.iter().zip(costs) {
                update.push(&format!(", {col} = ?")).arg(v);
            }
            update.push(" WHERE request_id = ?").arg(id);
            updated += conn.execute(&update)?;
        }
        last = Some(tail);
    }
    let mut legacy = Sql::new("DELETE FROM trace_tags WHERE \"key\" = ?");
    legacy.arg(TRACE_NAME_TAG);
    conn.execute(&legacy)?;
    let mut legacy = Sql::new("DELETE FROM trace_request_metadata WHERE \"key\" IN ");
    legacy.push_list([SESSION_KEY, TOKEN_USAGE_KEY, COST_KEY]);
    conn.execute(&legacy)?;
    if has_metrics {
        let mut legacy = Sql::new("DELETE FROM trace_metrics WHERE \"key\" IN ");
        legacy.push_list(TOKEN_COLUMNS);
        conn.execute(&legacy)?;
    }
    if updated > 0 {
        progress(&format!(
            "trace_info: analytics of {updated} traces promoted from their tags and metadata"
        ));
    }
    Ok(())
}

/// A JSON object, or an empty one for anything else (as MLflow reads these metadata).
fn json_object(text: &str) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

/// The first `max` characters of `s`.
fn bounded(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// A whole number of tokens that fits a BIGINT: a JSON integer, a float with no
/// fraction, or a string of either; anything else (booleans included) is none.
fn token_count(v: &serde_json::Value) -> Option<i64> {
    let whole = |f: f64| {
        (f.is_finite()
            && f.fract() == 0.0
            && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f))
        .then_some(f as i64)
    };
    match v {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(whole)),
        serde_json::Value::String(s) => {
            let s = s.trim().replace('_', "");
            s.parse::<i64>().ok().or_else(|| {
                let lower = s.to_ascii_lowercase();
                (!lower.contains("inf") && !lower.contains("nan"))
                    .then(|| s.parse::<f64>().ok().and_then(whole))
                    .flatten()
            })
        }
        _ => None,
    }
}

/// A finite number (from a number or a numeric string); booleans and the rest are none.
fn finite_float(v: &serde_json::Value) -> Option<f64> {
    let f = match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }?;
    f.is_finite().then_some(f)
}

/// Every foreign key of the database, as (table, the table it refers to).
fn foreign_keys(conn: &dyn Conn) -> Result<Vec<(String, String)>> {
    let sql = match conn.dialect() {
        Dialect::Sqlite => {
            "SELECT m.name AS child, p.\"table\" AS parent FROM sqlite_master m, pragma_foreign_key_list(m.name) p \
             WHERE m.type = 'table'"
        }
        Dialect::Postgres => {
            "SELECT c.relname AS child, p.relname AS parent FROM pg_constraint k \
             JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid \
             WHERE k.contype = 'f' AND k.connamespace = current_schema()::regnamespace"
        }
        Dialect::Mysql => {
            "SELECT table_name AS child, referenced_table_name AS parent \
             FROM information_schema.referential_constraints WHERE constraint_schema = DATABASE()"
        }
    };
    conn.query(&Sql::new(sql))?
        .iter()
        .map(|r| Ok((r.str("child")?, r.str("parent")?)))
        .collect()
}

/// `tables` ordered so that every table comes after the tables it refers to (a table that
/// refers to itself does not wait for itself; a cycle, which MLflow's schema has not, keeps
/// the given order).
fn parents_first(tables: &[String], fks: &[(String, String)]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tables.len());
    let mut left: Vec<&String> = tables.iter().collect();
    while !left.is_empty() {
        let ready: Vec<&String> = left
            .iter()
            .copied()
            .filter(|t| {
                fks.iter()
                    .all(|(child, parent)| child != *t || parent == *t || !left.contains(&parent))
            })
            .collect();
        let ready = if ready.is_empty() {
            vec![left[0]]
        } else {
            ready
        };
        left.retain(|t| !ready.contains(t));
        out.extend(ready.into_iter().cloned());
    }
    out
}

/// PostgreSQL's serial and identity columns continue after the ids copied into them.
fn advance_sequences(conn: &dyn Conn) -> Result<()> {
    let serials = conn.query(&Sql::new(
        "SELECT table_name AS t, column_name AS c FROM information_schema.columns \
         WHERE table_schema = current_schema() AND (column_default LIKE 'nextval(%' OR is_identity = 'YES')",
    ))?;
    for r in serials {
        let (table, column) = (r.str("t")?, r.str("c")?);
        conn.query(&Sql::new(format!(
            "SELECT setval(pg_get_serial_sequence(?, ?), COALESCE(MAX({c}), 0) + 1, false) AS v FROM {t}",
            c = quoted(&column),
            t = quoted(&table)
        ))
        .with(quoted(&table))
        .with(column.as_str()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_run_from_mlflow_1_to_the_head_without_repeats() {
        assert_eq!(REVISIONS.len(), 67);
        assert_eq!(REVISIONS.last(), Some(&HEAD_REVISION));
        let unique: BTreeSet<_> = REVISIONS.iter().collect();
        assert_eq!(unique.len(), REVISIONS.len());
        assert!(before(0, "90e64c465722"));
        assert!(!before(1, "90e64c465722"));
    }

    #[test]
    fn parents_come_first() {
        let t = |s: &str| s.to_string();
        let tables = [t("tags"), t("runs"), t("experiments"), t("metrics")];
        let fks = [
            (t("tags"), t("runs")),
            (t("runs"), t("experiments")),
            (t("metrics"), t("runs")),
            (t("runs"), t("runs")),
        ];
        assert_eq!(
            parents_first(&tables, &fks),
            [t("experiments"), t("runs"), t("tags"), t("metrics")]
        );
    }

    #[test]
    fn token_counts_and_costs_read_as_mlflow_reads_them() {
        use serde_json::json;
        assert_eq!(token_count(&json!(12)), Some(12));
        assert_eq!(token_count(&json!(12.0)), Some(12));
        assert_eq!(token_count(&json!(12.5)), None);
        assert_eq!(token_count(&json!("34")), Some(34));
        assert_eq!(token_count(&json!("1e3")), Some(1000));
        assert_eq!(token_count(&json!("Infinity")), None);
        assert_eq!(token_count(&json!(true)), None);
        assert_eq!(token_count(&json!(null)), None);
        assert_eq!(finite_float(&json!("0.25")), Some(0.25));
        assert_eq!(finite_float(&json!(false)), None);
        assert_eq!(bounded("ação", 2), "aç");
        assert!(json_object("[1]").is_empty());
    }
}
