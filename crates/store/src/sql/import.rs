//! Writing a migration's records (`crate::transfer`) into a new database, with MLflow's
//! column mapping, in one transaction.
//!
//! The database is new and no store has it open, so this is the one write path that
//! does not go through the writer: a bulk load without journal, syncing or foreign-key
//! checks (`SqliteConn::create_for_bulk_load`); nothing is acknowledged until the file is
//! complete, synced and renamed into place.

use std::collections::BTreeMap;
use std::path::Path;

use ferroflow_core::entities::Metric;
use ferroflow_core::{Error, Result};

use super::db::{Conn, SqliteConn};
use super::query::{Arg, Sql};
use super::runs::sanitize;
use crate::transfer::{
    Counts, DatasetRecord, ExperimentRecord, LoggedModelRecord, RegisteredModelRecord, RunRecord,
    TABLES,
};

/// Rows per multi-row `INSERT`.
const ROWS_PER_INSERT: usize = 200;

/// A new database being filled.
pub(crate) struct Importer {
    conn: SqliteConn,
    names: std::collections::HashSet<String>,
}

/// Inserts `rows` into `table` (`cols` a `(a, b, ...)` list) in multi-row statements;
/// returns the rows written (duplicates of a primary key are written once).
fn insert_rows(
    conn: &dyn Conn,
    table: &str,
    cols: &str,
    width: usize,
    rows: impl IntoIterator<Item = Vec<Arg>>,
) -> Result<u64> {
    let one = format!("({})", vec!["?"; width].join(", "));
    let (insert, ignoring) = conn.dialect().insert_ignoring();
    let mut written = 0;
    let mut sql = Sql::default();
    let mut n = 0;
    let flush = |sql: &mut Sql, n: &mut usize| -> Result<u64> {
        if *n == 0 {
            return Ok(0);
        }
        sql.push(ignoring);
        let w = conn.execute(sql)?;
        *sql = Sql::default();
        *n = 0;
        Ok(w)
    };
    for row in rows {
        if n == 0 {
            sql.push(insert)
                .push(table)
                .push(" ")
                .push(cols)
                .push(" VALUES ");
        } else {
            sql.push(", ");
        }
        sql.push_args(&one, row);
        n += 1;
        if n == ROWS_PER_INSERT {
            written += flush(&mut sql, &mut n)?;
        }
    }
    written += flush(&mut sql, &mut n)?;
    Ok(written)
}

fn pairs<'a>(
    items: &'a [(String, String)],
    owner: impl Fn() -> Vec<Arg> + 'a,
) -> impl Iterator<Item = Vec<Arg>> + 'a {
    items.iter().map(move |(k, v)| {
        let mut row = vec![Arg::from(k), Arg::from(v)];
        row.extend(owner());
        row
    })
}

impl Importer {
    /// Creates MLflow's schema in a new database at `path` and opens its transaction.
    pub fn create(path: &Path) -> Result<Importer> {
        let conn = SqliteConn::create_for_bulk_load(&path.to_string_lossy())?;
        super::migrate::migrate(&conn, "./mlruns", None)?;
        conn.execute_script("BEGIN; DELETE FROM experiments;")?;
        Ok(Importer {
            conn,
            names: Default::default(),
        })
    }

    pub fn experiment(&mut self, e: &ExperimentRecord, counts: &mut Counts) -> Result<()> {
        // Names are unique in a database; a file store may repeat one (a deleted experiment
        // and a newer one of the same name): the later keeps its runs under a new name.
        let mut name = e.name.clone();
        if !self.names.insert(name.clone()) {
            name = format!("{} ({})", e.name, e.id);
            self.names.insert(name.clone());
        }
        let c = &self.conn;
        c.execute(
            &Sql::new(
                "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .with(e.id)
            .with(name)
            .with(e.artifact_location.clone())
            .with(e.lifecycle_stage)
            .with(e.creation_time)
            .with(e.last_update_time),
        )?;
        counts.add("experiments", 1);
        let n = insert_rows(
            c,
            "experiment_tags",
            "(key, value, experiment_id)",
            3,
            pairs(&e.tags, || vec![Arg::Int(e.id)]),
        )?;
        counts.add("experiment_tags", n);
        Ok(())
    }

    pub fn dataset(&mut self, d: &DatasetRecord, counts: &mut Counts) -> Result<()> {
        let n = self.conn.execute(
            &Sql::new(
                "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, dataset_source, dataset_schema, dataset_profile) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .with(&d.uuid)
            .with(d.experiment_id)
            .with(&d.name)
            .with(&d.digest)
            .with(&d.source_type)
            .with(&d.source)
            .with(d.schema.clone())
            .with(d.profile.clone()),
        )?;
        counts.add("datasets", n);
        Ok(())
    }

    /// Writes a run; `false` when a run of that id was written already.
    pub fn run(&mut self, r: &RunRecord, counts: &mut Counts) -> Result<bool> {
        let c = &self.conn;
        let n = c.execute(
            &Sql::new(
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, \
                 source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .with(&r.run_uuid)
            .with(r.name.clone())
            .with(r.source_type)
            .with(&r.source_name)
            .with(&r.entry_point_name)
            .with(r.user_id.clone())
            .with(r.status)
            .with(r.start_time)
            .with(r.end_time)
            .with(&r.source_version)
            .with(r.lifecycle_stage)
            .with(r.artifact_uri.clone())
            .with(r.experiment_id)
            .with(r.deleted_time),
        )
        .map_err(|e| Error::new(e.code, format!("run {}: {}", r.run_uuid, e.message)))?;
        if n == 0 {
            return Ok(false);
        }
        counts.add("runs", 1);
        let run = || vec![Arg::from(&r.run_uuid)];
        let n = insert_rows(
            c,
            "params",
            "(key, value, run_uuid)",
            3,
            pairs(&r.params, run),
        )?;
        counts.add("params", n);
        let n = insert_rows(c, "tags", "(key, value, run_uuid)", 3, pairs(&r.tags, run))?;
        counts.add("tags", n);

        let mut latest = Vec::new();
        for (key, points) in &r.metrics {
            let n = insert_rows(
                c,
                "metrics",
                "(key, value, timestamp, run_uuid, step, is_nan)",
                6,
                points.iter().map(|p| {
                    let (v, nan) = sanitize(p.value);
                    vec![
                        Arg::from(key),
                        Arg::Float(v),
                        Arg::Int(p.timestamp),
                        Arg::from(&r.run_uuid),
                        Arg::Int(p.step),
                        Arg::Int(i64::from(nan)),
                    ]
                }),
            )?;
            counts.add("metrics", n);
            if let Some(best) = points
                .iter()
                .map(|p| Metric::new(key.clone(), p.value, p.timestamp, p.step))
                .max_by(ferroflow_core::rules::metric_order)
            {
                latest.push(best);
            }
        }
        let n = insert_rows(
            c,
            "latest_metrics",
            "(key, value, timestamp, step, is_nan, run_uuid)",
            6,
            latest.iter().map(|m| {
                let (v, nan) = sanitize(m.value);
                vec![
                    Arg::from(&m.key),
                    Arg::Float(v),
                    Arg::Int(m.timestamp),
                    Arg::Int(m.step),
                    Arg::Int(i64::from(nan)),
                    Arg::from(&r.run_uuid),
                ]
            }),
        )?;
        counts.add("latest_metrics", n);

        for l in &r.links {
            let input_uuid = ferroflow_core::ids::new_uuid();
            let n = c.execute(
                &Sql::new(
                    "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step) \
                     VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                )
                .with(&input_uuid)
                .with(l.source_type)
                .with(&l.source_id)
                .with(l.destination_type)
                .with(&l.destination_id)
                .with(l.step),
            )?;
            if n == 0 {
                continue;
            }
            counts.add(
                if l.source_type == "RUN_OUTPUT" {
                    "outputs"
                } else {
                    "inputs"
                },
                1,
            );
            let n = insert_rows(
                c,
                "input_tags",
                "(name, value, input_uuid)",
                3,
                pairs(&l.tags, || vec![Arg::from(&input_uuid)]),
            )?;
            counts.add("input_tags", n);
        }
        Ok(true)
    }

    pub fn logged_model(&mut self, m: &LoggedModelRecord, counts: &mut Counts) -> Result<()> {
        let c = &self.conn;
        c.execute(
            &Sql::new(
                "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp_ms, last_updated_timestamp_ms, \
                 status, lifecycle_stage, model_type, source_run_id, status_message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .with(&m.model_id)
            .with(m.experiment_id)
            .with(&m.name)
            .with(&m.artifact_location)
            .with(m.creation_timestamp_ms)
            .with(m.last_updated_timestamp_ms)
            .with(m.status)
            .with(m.lifecycle_stage)
            .with(m.model_type.clone())
            .with(m.source_run_id.clone())
            .with(m.status_message.clone()),
        )
        .map_err(|e| Error::new(e.code, format!("logged model {}: {}", m.model_id, e.message)))?;
        counts.add("logged_models", 1);
        let owner = || vec![Arg::from(&m.model_id), Arg::Int(m.experiment_id)];
        let n = insert_rows(
            c,
            "logged_model_params",
            "(param_key, param_value, model_id, experiment_id)",
            4,
            pairs(&m.params, owner),
        )?;
        counts.add("logged_model_params", n);
        let n = insert_rows(
            c,
            "logged_model_tags",
            "(tag_key, tag_value, model_id, experiment_id)",
            4,
            pairs(&m.tags, owner),
        )?;
        counts.add("logged_model_tags", n);
        let n = insert_rows(
            c,
            "logged_model_metrics",
            "(model_id, metric_name, metric_timestamp_ms, metric_step, metric_value, experiment_id, run_id, dataset_uuid, dataset_name, dataset_digest)",
            10,
            m.metrics.iter().map(|x| {
                vec![
                    Arg::from(&m.model_id),
                    Arg::from(&x.name),
                    Arg::Int(x.timestamp),
                    Arg::Int(x.step),
                    Arg::Float(x.value),
                    Arg::Int(m.experiment_id),
                    Arg::from(&x.run_id),
                    Arg::Null,
                    Arg::from(x.dataset_name.clone()),
                    Arg::from(x.dataset_digest.clone()),
                ]
            }),
        )?;
        counts.add("logged_model_metrics", n);
        Ok(())
    }

    pub fn registered_model(
        &mut self,
        m: &RegisteredModelRecord,
        counts: &mut Counts,
    ) -> Result<()> {
        let c = &self.conn;
        c.execute(
            &Sql::new(
                "INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES (?, ?, ?, ?)",
            )
            .with(&m.name)
            .with(m.creation_time)
            .with(m.last_updated_time)
            .with(m.description.clone()),
        )
        .map_err(|e| Error::new(e.code, format!("registered model {}: {}", m.name, e.message)))?;
        counts.add("registered_models", 1);
        let name = || vec![Arg::from(&m.name)];
        let n = insert_rows(
            c,
            "registered_model_tags",
            "(key, value, name)",
            3,
            pairs(&m.tags, name),
        )?;
        counts.add("registered_model_tags", n);
        for v in &m.versions {
            let n = c.execute(
                &Sql::new(
                    "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage, \
                     source, run_id, status, status_message, run_link, storage_location) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                     ON CONFLICT DO NOTHING",
                )
                .with(&m.name)
                .with(v.version)
                .with(v.creation_time)
                .with(v.last_updated_time)
                .with(v.description.clone())
                .with(v.user_id.clone())
                .with(&v.current_stage)
                .with(v.source.clone())
                .with(v.run_id.clone())
                .with(&v.status)
                .with(v.status_message.clone())
                .with(v.run_link.clone())
                .with(v.storage_location.clone()),
            )?;
            counts.add("model_versions", n);
            let n = insert_rows(
                c,
                "model_version_tags",
                "(key, value, name, version)",
                4,
                pairs(&v.tags, || vec![Arg::from(&m.name), Arg::Int(v.version)]),
            )?;
            counts.add("model_version_tags", n);
        }
        let n = insert_rows(
            c,
            "registered_model_aliases",
            "(alias, version, name)",
            3,
            m.aliases.iter().map(|(alias, version)| {
                vec![Arg::from(alias), Arg::Int(*version), Arg::from(&m.name)]
            }),
        )?;
        counts.add("registered_model_aliases", n);
        Ok(())
    }

    /// Commits, rebuilds the indexes dropped for the load, and leaves one self-contained
    /// file on disk; returns the rows in each table.
    pub fn finish(self) -> Result<BTreeMap<&'static str, u64>> {
        let c = &self.conn;
        c.execute_script(
            "COMMIT; CREATE INDEX IF NOT EXISTS index_metrics_run_uuid ON metrics (run_uuid);",
        )?;
        super::migrate::create_ferroflow_indexes(c)?;
        let mut rows = BTreeMap::new();
        for table in TABLES {
            let sql = match *table {
                "inputs" => {
                    "SELECT COUNT(*) AS n FROM inputs WHERE source_type <> 'RUN_OUTPUT'".to_string()
                }
                "outputs" => {
                    "SELECT COUNT(*) AS n FROM inputs WHERE source_type = 'RUN_OUTPUT'".to_string()
                }
                t => format!("SELECT COUNT(*) AS n FROM {t}"),
            };
            if let Some(row) = c.query_opt(&Sql::new(sql))? {
                rows.insert(*table, row.i64("n")?.max(0) as u64);
            }
        }
        c.execute_script("PRAGMA journal_mode = DELETE;")?;
        Ok(rows)
    }
}
