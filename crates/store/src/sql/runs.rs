//! Runs: create, read (hydrated in batches), update, delete/restore, logging, purge.

use std::collections::{HashMap, HashSet};

use ferroflow_core::entities::{
    Dataset, DatasetInput, DatasetSummary, LifecycleStage, Metric, ModelInput, ModelOutput, Run,
    RunData, RunInfo, RunInputs, RunOutputs, Tag,
};
use ferroflow_core::validation::{parse_experiment_id, validate_run_id, validate_tag};
use ferroflow_core::{Error, Result, ids, now_millis};

use super::db::{Conn, Row};
use super::experiments;
use super::query::{Arg, Sql};
use super::{Dialect, SqlStore};
use crate::{Batch, CreateRun, Garbage, RunUpdate};

pub(super) const RUN_COLUMNS: &str = "r.run_uuid, r.name, r.user_id, r.status, r.start_time, r.end_time, r.lifecycle_stage, r.artifact_uri, r.experiment_id";

pub use ferroflow_core::rules::RUN_NAME_TAG;

pub(super) fn info_from_row(row: &Row) -> Result<RunInfo> {
    let id = row.str("run_uuid")?;
    Ok(RunInfo {
        run_uuid: id.clone(),
        experiment_id: row.i64("experiment_id")?.to_string(),
        run_name: row.opt_str("name")?,
        user_id: row.str("user_id")?,
        status: row
            .opt_str("status")?
            .unwrap_or_else(|| "RUNNING".into())
            .parse()?,
        start_time: row.i64("start_time")?,
        end_time: row.opt_i64("end_time")?,
        artifact_uri: row.str("artifact_uri")?,
        lifecycle_stage: row
            .opt_str("lifecycle_stage")?
            .unwrap_or_else(|| "active".into())
            .parse()?,
        run_id: id,
    })
}

pub(super) fn metric_from_row(r: &Row) -> Result<Metric> {
    let value = if r.bool("is_nan")? {
        f64::NAN
    } else {
        r.f64("value")?
    };
    Ok(Metric::new(
        r.str("key")?,
        value,
        r.i64("timestamp")?,
        r.i64("step")?,
    ))
}

fn not_found(run_id: &str) -> Error {
    ferroflow_core::rules::run_not_found(run_id)
}

fn info(c: &dyn Conn, run_id: &str) -> Result<RunInfo> {
    c.query_opt(
        &Sql::new(format!(
            "SELECT {RUN_COLUMNS} FROM runs r WHERE r.run_uuid = ?"
        ))
        .with(run_id),
    )?
    .as_ref()
    .map(info_from_row)
    .transpose()?
    .ok_or_else(|| not_found(run_id))
}

fn active(c: &dyn Conn, run_id: &str) -> Result<RunInfo> {
    let info = info(c, run_id)?;
    if info.lifecycle_stage != LifecycleStage::Active {
        return Err(ferroflow_core::rules::run_not_active(
            run_id,
            info.lifecycle_stage,
        ));
    }
    Ok(info)
}

/// What the queries of [`hydrate`] found for one run.
#[derive(Default)]
struct RunParts {
    params: Vec<Tag>,
    tags: Vec<Tag>,
    metrics: Vec<Metric>,
    datasets: Vec<DatasetInput>,
    model_inputs: Vec<ModelInput>,
    model_outputs: Vec<ModelOutput>,
}

impl RunParts {
    fn merge(&mut self, other: RunParts) {
        self.params.extend(other.params);
        self.tags.extend(other.tags);
        self.metrics.extend(other.metrics);
        self.datasets.extend(other.datasets);
        self.model_inputs.extend(other.model_inputs);
        self.model_outputs.extend(other.model_outputs);
    }
}

type Parts = HashMap<String, RunParts>;

/// One of [`hydrate`]'s queries: what it finds for the runs `ids`.
type PartQuery = fn(&dyn Conn, &[String]) -> Result<Parts>;

/// The queries that complete a page of runs, one per kind (never one join of everything);
/// each stands alone, so they may run one after the other or at once.
const PART_QUERIES: [PartQuery; 5] = [params_of, tags_of, metrics_of, datasets_of, model_io_of];

/// `SELECT ... WHERE <col> IN (ids)` in the order the rows were written.
fn in_list(c: &dyn Conn, prefix: &str, ids: &[String], table: &str) -> Sql {
    let mut s = Sql::new(prefix);
    s.push_in(c.dialect(), ids);
    s.push(&c.dialect().written_order(table));
    s
}

/// Runs `select ... IN (ids)` (rows in written order) and hands each row to `add` with
/// the parts of the run its `run_uuid` column names.
fn per_run(
    c: &dyn Conn,
    ids: &[String],
    select: &str,
    table: &str,
    add: fn(&mut RunParts, &Row) -> Result<()>,
) -> Result<Parts> {
    let mut parts = Parts::new();
    c.query_each(&in_list(c, select, ids, table), &mut |r| {
        add(parts.entry(r.str("run_uuid")?).or_default(), &r)?;
        Ok(true)
    })?;
    Ok(parts)
}

fn params_of(c: &dyn Conn, ids: &[String]) -> Result<Parts> {
    per_run(
        c,
        ids,
        "SELECT run_uuid, key, value FROM params WHERE run_uuid",
        "params",
        |p, r| {
            p.params.push(Tag::new(r.str("key")?, r.str("value")?));
            Ok(())
        },
    )
}

fn tags_of(c: &dyn Conn, ids: &[String]) -> Result<Parts> {
    per_run(
        c,
        ids,
        "SELECT run_uuid, key, value FROM tags WHERE run_uuid",
        "tags",
        |p, r| {
            p.tags.push(Tag::new(r.str("key")?, r.str("value")?));
            Ok(())
        },
    )
}

fn metrics_of(c: &dyn Conn, ids: &[String]) -> Result<Parts> {
    per_run(
        c,
        ids,
        "SELECT run_uuid, key, value, timestamp, step, is_nan FROM latest_metrics WHERE run_uuid",
        "latest_metrics",
        |p, r| {
            p.metrics.push(metric_from_row(r)?);
            Ok(())
        },
    )
}

/// The datasets logged as the runs' inputs, with their tags.
fn datasets_of(c: &dyn Conn, ids: &[String]) -> Result<Parts> {
    let mut parts = Parts::new();
    let mut by_input: HashMap<String, (String, usize)> = HashMap::new();
    let sql = in_list(
        c,
        "SELECT i.input_uuid, i.destination_id AS run_uuid, ds.name, ds.digest, ds.dataset_source_type, ds.dataset_source, ds.dataset_schema, ds.dataset_profile \
         FROM inputs i JOIN datasets ds ON ds.dataset_uuid = i.source_id \
         WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id",
        ids,
        "i",
    );
    c.query_each(&sql, &mut |r| {
        let run = r.str("run_uuid")?;
        let part = parts.entry(run.clone()).or_default();
        by_input.insert(r.str("input_uuid")?, (run, part.datasets.len()));
        part.datasets.push(DatasetInput {
            tags: Vec::new(),
            dataset: Dataset {
                name: r.str("name")?,
                digest: r.str("digest")?,
                source_type: r.str("dataset_source_type")?,
                source: r.str("dataset_source")?,
                schema: r.opt_str("dataset_schema")?,
                profile: r.opt_str("dataset_profile")?,
            },
        });
        Ok(true)
    })?;
    if !by_input.is_empty() {
        let mut s = Sql::new("SELECT input_uuid, name, value FROM input_tags WHERE input_uuid");
        s.push_in(c.dialect(), by_input.keys());
        s.push(&c.dialect().written_order("input_tags"));
        c.query_each(&s, &mut |r| {
            if let Some((run, idx)) = by_input.get(&r.str("input_uuid")?)
                && let Some(input) = parts.get_mut(run).and_then(|p| p.datasets.get_mut(*idx))
            {
                input.tags.push(Tag::new(r.str("name")?, r.str("value")?));
            }
            Ok(true)
        })?;
    }
    Ok(parts)
}

/// The logged models the runs took as inputs and produced as outputs.
fn model_io_of(c: &dyn Conn, ids: &[String]) -> Result<Parts> {
    per_run(
        c,
        ids,
        "SELECT source_type, source_id AS run_uuid, destination_id, step FROM inputs \
         WHERE source_type IN ('RUN_INPUT', 'RUN_OUTPUT') AND source_id",
        "inputs",
        |p, r| {
            let model_id = r.str("destination_id")?;
            if r.str("source_type")? == "RUN_INPUT" {
                p.model_inputs.push(ModelInput { model_id });
            } else {
                p.model_outputs.push(ModelOutput {
                    model_id,
                    step: r.i64("step")?,
                });
            }
            Ok(())
        },
    )
}

fn assemble(infos: Vec<RunInfo>, mut parts: Parts) -> Vec<Run> {
    infos
        .into_iter()
        .map(|info| {
            let p = parts.remove(&info.run_id).unwrap_or_default();
            Run {
                info,
                data: RunData {
                    metrics: p.metrics,
                    params: p.params,
                    tags: p.tags,
                },
                inputs: RunInputs {
                    dataset_inputs: p.datasets,
                    model_inputs: p.model_inputs,
                },
                outputs: RunOutputs {
                    model_outputs: p.model_outputs,
                },
            }
        })
        .collect()
}

fn merge_all(all: impl IntoIterator<Item = Parts>) -> Parts {
    let mut merged = Parts::new();
    for parts in all {
        for (run, part) in parts {
            merged.entry(run).or_default().merge(part);
        }
    }
    merged
}

/// Loads params, tags, latest metrics, inputs and outputs for runs, one query per kind,
/// one after the other on `c`.
pub(super) fn hydrate(c: &dyn Conn, infos: Vec<RunInfo>) -> Result<Vec<Run>> {
    if infos.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = infos.iter().map(|i| i.run_id.clone()).collect();
    let parts = PART_QUERIES
        .iter()
        .map(|q| q(c, &ids))
        .collect::<Result<Vec<_>>>()?;
    Ok(assemble(infos, merge_all(parts)))
}

/// Below this many runs, [`hydrate_pooled`] runs its queries on one connection: a few
/// small queries cost less than handing them out.
const POOLED_HYDRATION_MIN_RUNS: usize = 64;

/// [`hydrate`] with each query on its own pooled connection, all at once: a page of a
/// search waits for its slowest query rather than for their sum (the database and the
/// decoding of each query's rows use every core).
pub(super) async fn hydrate_pooled(
    pool: &super::db::Pool,
    infos: Vec<RunInfo>,
) -> Result<Vec<Run>> {
    if infos.len() < POOLED_HYDRATION_MIN_RUNS {
        return pool.read(move |c| hydrate(c, infos)).await;
    }
    let ids: std::sync::Arc<[String]> = infos.iter().map(|i| i.run_id.clone()).collect();
    let queries = PART_QUERIES.iter().map(|&q| {
        let ids = ids.clone();
        pool.read(move |c| q(c, &ids))
    });
    let parts = futures_util::future::try_join_all(queries).await?;
    Ok(assemble(infos, merge_all(parts)))
}

pub async fn get(store: &SqlStore, run_id: &str) -> Result<Run> {
    validate_run_id(run_id).map_err(|_| not_found(run_id))?;
    let run_id = run_id.to_string();
    store
        .read
        .read(move |c| Ok(hydrate(c, vec![info(c, &run_id)?])?.remove(0)))
        .await
}

pub async fn create(store: &SqlStore, req: CreateRun) -> Result<Run> {
    let exp_id = parse_experiment_id(&req.experiment_id)?;
    let mut tags = req.tags;
    for (i, t) in tags.iter_mut().enumerate() {
        validate_tag(t, &format!("tags[{i}]"), store.long_values)?;
    }
    let name = ferroflow_core::rules::new_run_name(req.run_name, &mut tags)?;
    let user_id = req.user_id.unwrap_or_default();
    let start_time = req.start_time.unwrap_or_else(now_millis);
    let run_id = ids::new_run_id();
    store
        .writer
        .write(move |c| {
            let exp = experiments::get_active(c, exp_id)?;
            let artifact_uri = ferroflow_core::uri::join(&exp.artifact_location, &format!("{run_id}/artifacts"));
            c.execute(
                &Sql::new(
                    "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time) \
                     VALUES (?, ?, 'UNKNOWN', '', '', ?, 'RUNNING', ?, NULL, '', 'active', ?, ?, NULL)",
                )
                .with(&run_id)
                .with(&name)
                .with(&user_id)
                .with(start_time)
                .with(&artifact_uri)
                .with(exp_id),
            )?;
            upsert_tags(c, &run_id, &tags)?;
            Ok(hydrate(c, vec![info(c, &run_id)?])?.remove(0))
        })
        .await
}

fn upsert_tags(c: &dyn Conn, run_id: &str, tags: &[Tag]) -> Result<()> {
    if tags.is_empty() {
        return Ok(());
    }
    // One row per key, the last value winning: an upsert may not touch a row twice.
    let mut seen = std::collections::HashSet::new();
    let mut unique: Vec<&Tag> = tags.iter().rev().filter(|t| seen.insert(&t.key)).collect();
    unique.reverse();
    let mut sql = Sql::new("INSERT INTO tags (key, value, run_uuid) VALUES ");
    for (i, t) in unique.iter().enumerate() {
        sql.push(if i == 0 { "(?, ?, ?)" } else { ", (?, ?, ?)" })
            .arg(&t.key)
            .arg(&t.value)
            .arg(run_id);
    }
    sql.push(&c.dialect().upsert("key, run_uuid", &["value"]));
    c.execute(&sql)?;
    if let Some(t) = tags.iter().rev().find(|t| t.key == RUN_NAME_TAG) {
        c.execute(
            &Sql::new("UPDATE runs SET name = ? WHERE run_uuid = ?")
                .with(&t.value)
                .with(run_id),
        )?;
    }
    Ok(())
}

pub async fn update(store: &SqlStore, run_id: &str, update: RunUpdate) -> Result<RunInfo> {
    validate_run_id(run_id).map_err(|_| not_found(run_id))?;
    ferroflow_core::rules::check_new_run_name(update.run_name.as_deref())?;
    let run_id = run_id.to_string();
    store
        .writer
        .write(move |c| {
            active(c, &run_id)?;
            if let Some(status) = update.status {
                c.execute(
                    &Sql::new("UPDATE runs SET status = ? WHERE run_uuid = ?")
                        .with(status.as_str())
                        .with(&run_id),
                )?;
            }
            if let Some(end) = update.end_time {
                c.execute(
                    &Sql::new("UPDATE runs SET end_time = ? WHERE run_uuid = ?")
                        .with(end)
                        .with(&run_id),
                )?;
            }
            if let Some(name) = update.run_name.as_deref().filter(|n| !n.is_empty()) {
                upsert_tags(c, &run_id, &[Tag::new(RUN_NAME_TAG, name)])?;
            }
            info(c, &run_id)
        })
        .await
}

pub async fn set_lifecycle(store: &SqlStore, run_id: &str, stage: LifecycleStage) -> Result<()> {
    validate_run_id(run_id).map_err(|_| not_found(run_id))?;
    let run_id = run_id.to_string();
    store
        .writer
        .write(move |c| {
            info(c, &run_id)?;
            let deleted_time = if stage == LifecycleStage::Deleted {
                Arg::Int(now_millis())
            } else {
                Arg::Null
            };
            c.execute(
                &Sql::new(
                    "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_uuid = ?",
                )
                .with(stage.as_str())
                .with(deleted_time)
                .with(&run_id),
            )?;
            Ok(())
        })
        .await
}

/// Stores NaN as 0 with `is_nan`, and infinities as the largest finite doubles, as MLflow does.
pub(super) fn sanitize(value: f64) -> (f64, bool) {
    if value.is_nan() {
        (0.0, true)
    } else if value.is_infinite() {
        (if value > 0.0 { f64::MAX } else { f64::MIN }, false)
    } else {
        (value, false)
    }
}

pub async fn log_batch(store: &SqlStore, run_id: &str, mut batch: Batch) -> Result<()> {
    validate_run_id(run_id).map_err(|_| not_found(run_id))?;
    ferroflow_core::rules::validate_log_batch(
        &batch.metrics,
        &mut batch.params,
        &mut batch.tags,
        store.long_values,
    )?;
    let run_id = run_id.to_string();
    // Metric points alone (a training loop's steady traffic) are merged with the other
    // points queued at the same moment: a few multi-row statements per group.
    if batch.params.is_empty()
        && batch.tags.is_empty()
        && batch
            .metrics
            .iter()
            .all(|m| m.model_id.as_deref().is_none_or(str::is_empty))
    {
        return store
            .writer
            .merge(MetricWrite {
                run_id,
                metrics: batch.metrics,
            })
            .await;
    }
    // The statements are built here, so the writer thread only runs them.
    let metric_sql = metric_statements(
        store.dialect,
        &run_id,
        &batch.metrics.iter().collect::<Vec<_>>(),
    );
    let param_sql = param_statements(store.dialect, &run_id, &batch.params);
    store
        .writer
        .write(move |c| {
            let info = active(c, &run_id)?;
            check_params(c, &run_id, &batch.params)?;
            for sql in param_sql.iter().chain(&metric_sql) {
                c.execute(sql)?;
            }
            log_model_metrics(c, &info, &batch.metrics)?;
            upsert_tags(c, &run_id, &batch.tags)
        })
        .await
}

/// Refuses a param that was already logged with another value (re-logging the same value
/// is allowed, as in MLflow).
fn check_params(c: &dyn Conn, run_id: &str, params: &[Tag]) -> Result<()> {
    if params.is_empty() {
        return Ok(());
    }
    let mut existing = Sql::new("SELECT key, value FROM params WHERE run_uuid = ? AND key IN ");
    existing
        .arg(run_id)
        .push_list(params.iter().map(|p| p.key.clone()));
    for r in c.query(&existing)? {
        let (key, value) = (r.str("key")?, r.str("value")?);
        if let Some(p) = params.iter().find(|p| p.key == key && p.value != value) {
            return Err(ferroflow_core::rules::param_changed(
                run_id, &p.key, &value, &p.value,
            ));
        }
    }
    Ok(())
}

fn param_statements(d: Dialect, run_id: &str, params: &[Tag]) -> Vec<Sql> {
    if params.is_empty() {
        return Vec::new();
    }
    let mut sql = Sql::new("INSERT INTO params (key, value, run_uuid) VALUES ");
    for (i, p) in params.iter().enumerate() {
        sql.push(if i == 0 { "(?, ?, ?)" } else { ", (?, ?, ?)" })
            .arg(&p.key)
            .arg(&p.value)
            .arg(run_id);
    }
    // Same key and value again: nothing to do (a different value was refused before).
    sql.push(&d.skip_duplicates("value"));
    vec![sql]
}

/// Metric points of one `log-batch`, merged by the writer with others (see `writer.rs`).
pub struct MetricWrite {
    run_id: String,
    metrics: Vec<Metric>,
}

/// Writes the metric points of several requests: per run, one activity check, then the
/// history rows and each key's latest value in multi-row statements.
pub(super) fn merge_metric_writes(c: &dyn Conn, items: &[&MetricWrite]) -> Result<Vec<Result<()>>> {
    let mut results: Vec<Result<()>> = (0..items.len()).map(|_| Ok(())).collect();
    let mut runs: Vec<&str> = Vec::new();
    for item in items {
        if !runs.contains(&item.run_id.as_str()) {
            runs.push(&item.run_id);
        }
    }
    // Runs in one order on every replica, as their rows below (see `metric_statements`).
    runs.sort_unstable();
    for run_id in runs {
        let mine: Vec<usize> = (0..items.len())
            .filter(|&i| items[i].run_id == run_id)
            .collect();
        if let Err(e) = active(c, run_id) {
            // Nothing was written for this run: its requests fail alone.
            for &i in &mine {
                results[i] = Err(e.clone());
            }
            continue;
        }
        let metrics: Vec<&Metric> = mine.iter().flat_map(|&i| items[i].metrics.iter()).collect();
        for sql in metric_statements(c.dialect(), run_id, &metrics) {
            c.execute(&sql)?;
        }
    }
    Ok(results)
}

/// The history rows, and the latest value per key: highest (step, timestamp, value).
fn metric_statements(d: Dialect, run_id: &str, metrics: &[&Metric]) -> Vec<Sql> {
    if metrics.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    // Chunks keep every statement under the bound-variable limit of any backend.
    for chunk in metrics.chunks(500) {
        let mut sql =
            Sql::new("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES ");
        for (i, m) in chunk.iter().enumerate() {
            let (v, nan) = sanitize(m.value);
            sql.push(if i == 0 {
                "(?, ?, ?, ?, ?, ?)"
            } else {
                ", (?, ?, ?, ?, ?, ?)"
            })
            .arg(&m.key)
            .arg(v)
            .arg(m.timestamp)
            .arg(run_id)
            .arg(m.step)
            .arg(i64::from(nan));
        }
        sql.push(&d.skip_duplicates("value"));
        out.push(sql);
    }
    let mut latest: HashMap<&str, &Metric> = HashMap::new();
    for &m in metrics {
        let newer = |old: &Metric| {
            let (a, b) = (sanitize(m.value).0, sanitize(old.value).0);
            (m.step, m.timestamp)
                .cmp(&(old.step, old.timestamp))
                .then(a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal))
                == std::cmp::Ordering::Greater
        };
        match latest.get(m.key.as_str()) {
            Some(old) if !newer(old) => {}
            _ => {
                latest.insert(&m.key, m);
            }
        }
    }
    let mut sql = Sql::new(
        "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES ",
    );
    // In key order: concurrent writers (replicas) lock a run's rows in one order, so they
    // queue instead of deadlocking.
    let mut latest: Vec<&Metric> = latest.into_values().collect();
    latest.sort_by(|a, b| a.key.cmp(&b.key));
    for (i, m) in latest.iter().enumerate() {
        let (v, nan) = sanitize(m.value);
        sql.push(if i == 0 {
            "(?, ?, ?, ?, ?, ?)"
        } else {
            ", (?, ?, ?, ?, ?, ?)"
        })
        .arg(&m.key)
        .arg(v)
        .arg(m.timestamp)
        .arg(m.step)
        .arg(i64::from(nan))
        .arg(run_id);
    }
    sql.push(&d.upsert_if_greater(
        "latest_metrics",
        "key, run_uuid",
        &["step", "timestamp", "value"],
        &["is_nan"],
    ));
    out.push(sql);
    out
}

/// Metrics attached to a logged model are also recorded against it.
fn log_model_metrics(c: &dyn Conn, run: &RunInfo, metrics: &[Metric]) -> Result<()> {
    let exp_id: i64 = run.experiment_id.parse().unwrap_or(0);
    for m in metrics
        .iter()
        .filter(|m| m.model_id.as_deref().is_some_and(|s| !s.is_empty()))
    {
        c.execute(
            &Sql::new(
                "INSERT INTO logged_model_metrics (model_id, metric_name, metric_timestamp_ms, metric_step, metric_value, experiment_id, run_id, dataset_uuid, dataset_name, dataset_digest) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
            )
            .then(&c.dialect().skip_duplicates("metric_value"))
            .with(m.model_id.clone())
            .with(&m.key)
            .with(m.timestamp)
            .with(m.step)
            .with(if m.value.is_nan() { Arg::Null } else { Arg::Float(sanitize(m.value).0) })
            .with(exp_id)
            .with(&run.run_id)
            .with(m.dataset_name.clone())
            .with(m.dataset_digest.clone()),
        )?;
    }
    Ok(())
}

pub async fn delete_tag(store: &SqlStore, run_id: &str, key: &str) -> Result<()> {
    validate_run_id(run_id).map_err(|_| not_found(run_id))?;
    let (run_id, key) = (run_id.to_string(), key.to_string());
    store
        .writer
        .write(move |c| {
            active(c, &run_id)?;
            let n = c.execute(
                &Sql::new("DELETE FROM tags WHERE run_uuid = ? AND key = ?")
                    .with(&run_id)
                    .with(&key),
            )?;
            if n == 0 {
                return Err(ferroflow_core::rules::run_tag_not_found(&run_id, &key));
            }
            Ok(())
        })
        .await
}

pub async fn log_inputs(
    store: &SqlStore,
    run_id: &str,
    datasets: Vec<DatasetInput>,
    models: Vec<ModelInput>,
) -> Result<()> {
    validate_run_id(run_id).map_err(|_| not_found(run_id))?;
    ferroflow_core::rules::validate_log_inputs(&datasets)?;
    let run_id = run_id.to_string();
    store
        .writer
        .write(move |c| {
            let info = active(c, &run_id)?;
            let exp_id: i64 = info.experiment_id.parse().unwrap_or(0);
            let mut seen = HashSet::new();
            for input in datasets.iter().filter(|i| seen.insert((i.dataset.name.clone(), i.dataset.digest.clone()))) {
                let ds = &input.dataset;
                let existing = c.query_opt(
                    &Sql::new("SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?")
                        .with(exp_id)
                        .with(&ds.name)
                        .with(&ds.digest),
                )?;
                let dataset_uuid = match existing {
                    Some(r) => r.str("dataset_uuid")?,
                    None => {
                        let id = ids::new_uuid();
                        c.execute(
                            &Sql::new(
                                "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, dataset_source, dataset_schema, dataset_profile) \
                                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            )
                            .with(&id)
                            .with(exp_id)
                            .with(&ds.name)
                            .with(&ds.digest)
                            .with(&ds.source_type)
                            .with(&ds.source)
                            .with(ds.schema.clone())
                            .with(ds.profile.clone()),
                        )?;
                        id
                    }
                };
                let linked = c.query_opt(
                    &Sql::new(
                        "SELECT input_uuid FROM inputs WHERE source_type = 'DATASET' AND source_id = ? AND destination_type = 'RUN' AND destination_id = ?",
                    )
                    .with(&dataset_uuid)
                    .with(&run_id),
                )?;
                if linked.is_some() {
                    continue;
                }
                let input_uuid = ids::new_uuid();
                c.execute(
                    &Sql::new(
                        "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step) VALUES (?, 'DATASET', ?, 'RUN', ?, 0)",
                    )
                    .with(&input_uuid)
                    .with(&dataset_uuid)
                    .with(&run_id),
                )?;
                for t in &input.tags {
                    c.execute(
                        &Sql::new("INSERT INTO input_tags (input_uuid, name, value) VALUES (?, ?, ?)")
                            .then(&c.dialect().skip_duplicates("value"))
                            .with(&input_uuid)
                            .with(&t.key)
                            .with(&t.value),
                    )?;
                }
            }
            for m in &models {
                c.execute(
                    &Sql::new(
                        "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step) \
                         VALUES (?, 'RUN_INPUT', ?, 'MODEL_INPUT', ?, 0)",
                    )
                    .then(&c.dialect().skip_duplicates("step"))
                    .with(ids::new_uuid())
                    .with(&run_id)
                    .with(&m.model_id),
                )?;
            }
            Ok(())
        })
        .await
}

pub async fn log_outputs(store: &SqlStore, run_id: &str, models: Vec<ModelOutput>) -> Result<()> {
    validate_run_id(run_id).map_err(|_| not_found(run_id))?;
    let run_id = run_id.to_string();
    store
        .writer
        .write(move |c| {
            active(c, &run_id)?;
            for m in &models {
                c.execute(
                    &Sql::new(
                        "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step) VALUES (?, 'RUN_OUTPUT', ?, 'MODEL_OUTPUT', ?, ?)",
                    )
                    .then(&c.dialect().upsert("source_type, source_id, destination_type, destination_id", &["step"]))
                    .with(ids::new_uuid())
                    .with(&run_id)
                    .with(&m.model_id)
                    .with(m.step),
                )?;
            }
            Ok(())
        })
        .await
}

pub async fn garbage(store: &SqlStore, older_than_ms: Option<i64>) -> Result<Garbage> {
    let mut sql = Sql::new(format!(
        "SELECT {RUN_COLUMNS} FROM runs r WHERE r.lifecycle_stage = 'deleted'"
    ));
    if let Some(age) = older_than_ms {
        sql.push(" AND COALESCE(r.deleted_time, 0) <= ?")
            .arg(now_millis() - age);
    }
    store
        .read
        .read(move |c| {
            let mut runs = c
                .query(&sql)?
                .iter()
                .map(info_from_row)
                .collect::<Result<Vec<_>>>()?;
            // Lineage: a run that registered model versions came from keeps its artifacts
            // for as long as those versions exist.
            let mut backing: std::collections::BTreeMap<String, Vec<String>> = Default::default();
            for r in c.query(&Sql::new(
                "SELECT mv.run_id, mv.name, mv.version FROM model_versions mv JOIN runs r ON r.run_uuid = mv.run_id \
                 WHERE r.lifecycle_stage = 'deleted' AND mv.current_stage != 'Deleted_Internal' ORDER BY mv.name, mv.version",
            ))? {
                backing
                    .entry(r.str("run_id")?)
                    .or_default()
                    .push(format!("{}/{}", r.str("name")?, r.i64("version")?));
            }
            runs.retain(|r| !backing.contains_key(&r.run_id));
            let experiment_ids = c
                .query(&Sql::new(
                    "SELECT experiment_id FROM experiments WHERE lifecycle_stage = 'deleted'",
                ))?
                .iter()
                .map(|r| r.i64("experiment_id").map(|i| i.to_string()))
                .collect::<Result<_>>()?;
            Ok(Garbage {
                runs,
                experiment_ids,
                kept_runs: backing.into_iter().collect(),
            })
        })
        .await
}

pub async fn purge(store: &SqlStore, run_id: &str) -> Result<()> {
    let run_id = run_id.to_string();
    store
        .writer
        .write(move |c| {
            if info(c, &run_id)?.lifecycle_stage != LifecycleStage::Deleted {
                return Err(Error::invalid_param(format!("Run {run_id} is not deleted; only deleted runs can be purged")));
            }
            for stmt in [
                "DELETE FROM metrics WHERE run_uuid = ?",
                "DELETE FROM latest_metrics WHERE run_uuid = ?",
                "DELETE FROM params WHERE run_uuid = ?",
                "DELETE FROM tags WHERE run_uuid = ?",
                "DELETE FROM logged_model_metrics WHERE run_id = ?",
                "DELETE FROM input_tags WHERE input_uuid IN (SELECT input_uuid FROM inputs WHERE destination_type = 'RUN' AND destination_id = ?)",
                "DELETE FROM inputs WHERE destination_type = 'RUN' AND destination_id = ?",
                "DELETE FROM inputs WHERE source_type IN ('RUN_INPUT', 'RUN_OUTPUT') AND source_id = ?",
                "DELETE FROM runs WHERE run_uuid = ?",
            ] {
                c.execute(&Sql::new(stmt).with(&run_id))?;
            }
            Ok(())
        })
        .await
}

/// The most dataset summaries one search answers, as MLflow caps them.
const MAX_DATASET_SUMMARIES: i64 = 1000;

pub async fn dataset_summaries(
    store: &SqlStore,
    experiment_ids: &[String],
) -> Result<Vec<DatasetSummary>> {
    let ids = experiment_ids
        .iter()
        .map(|id| parse_experiment_id(id))
        .collect::<Result<Vec<_>>>()?;
    store
        .read
        .read(move |c| {
            // The context is a left join: an input without one is still listed.
            let mut sql = Sql::new(
                "SELECT DISTINCT d.experiment_id, d.name, d.digest, t.value AS context FROM datasets d \
                 JOIN inputs i ON i.source_id = d.dataset_uuid \
                 LEFT JOIN input_tags t ON t.input_uuid = i.input_uuid AND t.name = 'mlflow.data.context' \
                 WHERE d.experiment_id IN ",
            );
            sql.push_list(ids.iter().copied())
                .push(" LIMIT ?")
                .arg(MAX_DATASET_SUMMARIES);
            c.query(&sql)?
                .iter()
                .map(|r| {
                    Ok(DatasetSummary {
                        experiment_id: r.i64("experiment_id")?.to_string(),
                        name: r.str("name")?,
                        digest: r.str("digest")?,
                        context: r.opt_str("context")?,
                    })
                })
                .collect()
        })
        .await
}
