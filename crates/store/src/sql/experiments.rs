//! Experiments: create, read, search, rename, delete/restore, tags, purge.

use std::collections::HashMap;

use ferroflow_core::entities::{Experiment, LifecycleStage, Page, Tag};
use ferroflow_core::search::experiments::{
    ExperimentAttr, ExperimentFilter, ExperimentKey, parse_experiment_filter,
    parse_experiment_order_by,
};
use ferroflow_core::search::{Expr, Op, OrderBy, Value};
use ferroflow_core::validation::{
    MAX_RESULTS_SEARCH_EXPERIMENTS, parse_experiment_id, validate_experiment_name,
    validate_experiment_tag,
};
use ferroflow_core::{Error, Result, now_millis, page_token};
use futures_util::FutureExt;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use super::query::{
    Arg, Sql, execute, fetch_all, fetch_optional, get_i64, get_opt_i64, get_opt_str, get_str,
};
use super::{Dialect, SqlStore};

const COLUMNS: &str = "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace";

fn from_row(row: &AnyRow) -> Result<Experiment> {
    Ok(Experiment {
        experiment_id: get_i64(row, "experiment_id")?.to_string(),
        name: get_str(row, "name")?,
        artifact_location: get_str(row, "artifact_location")?,
        lifecycle_stage: get_opt_str(row, "lifecycle_stage")?
            .unwrap_or_else(|| "active".into())
            .parse()?,
        last_update_time: get_opt_i64(row, "last_update_time")?,
        creation_time: get_opt_i64(row, "creation_time")?,
        tags: Vec::new(),
        workspace: get_opt_str(row, "workspace")?,
    })
}

pub(super) fn not_found(id: &str) -> Error {
    Error::not_found(format!("No Experiment with id={id} exists"))
}

/// Reads an experiment (without tags) inside a write transaction.
pub(super) async fn get_in_tx(conn: &mut AnyConnection, d: Dialect, id: i64) -> Result<Experiment> {
    let row = fetch_optional(
        &mut *conn,
        d,
        Sql::new(format!(
            "SELECT {COLUMNS} FROM experiments WHERE experiment_id = ?"
        ))
        .with(id),
    )
    .await?;
    row.as_ref()
        .map(from_row)
        .transpose()?
        .ok_or_else(|| not_found(&id.to_string()))
}

async fn attach_tags(store: &SqlStore, exps: &mut [Experiment]) -> Result<()> {
    if exps.is_empty() {
        return Ok(());
    }
    let mut sql =
        Sql::new("SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN ");
    sql.push_list(
        exps.iter()
            .map(|e| Arg::Int(e.experiment_id.parse().unwrap_or(-1))),
    );
    let rows = fetch_all(&store.read, store.dialect, sql).await?;
    let mut by_id: HashMap<String, Vec<Tag>> = HashMap::new();
    for r in &rows {
        by_id
            .entry(get_i64(r, "experiment_id")?.to_string())
            .or_default()
            .push(Tag::new(get_str(r, "key")?, get_str(r, "value")?));
    }
    for e in exps.iter_mut() {
        e.tags = by_id.remove(&e.experiment_id).unwrap_or_default();
    }
    Ok(())
}

pub async fn create(
    store: &SqlStore,
    name: &str,
    artifact_location: Option<&str>,
    tags: Vec<Tag>,
) -> Result<String> {
    validate_experiment_name(name)?;
    for t in &tags {
        validate_experiment_tag(t)?;
    }
    let d = store.dialect;
    let name = name.to_string();
    let location = artifact_location
        .filter(|l| !l.is_empty())
        .map(str::to_string);
    let root = store.default_artifact_root.clone();
    store
        .writer
        .write(move |conn| {
            async move {
                let existing =
                    fetch_optional(&mut *conn, d, Sql::new("SELECT lifecycle_stage FROM experiments WHERE name = ?").with(&name)).await?;
                if let Some(row) = existing {
                    let stage = get_str(&row, "lifecycle_stage")?;
                    return Err(if stage == "deleted" {
                        Error::already_exists(format!(
                            "Experiment '{name}' already exists in deleted state. You can restore the experiment, or permanently delete the experiment with `ferroflow gc` to free the name."
                        ))
                    } else {
                        Error::already_exists(format!("Experiment(name={name}) already exists."))
                    });
                }
                let now = now_millis();
                let row = fetch_optional(
                    &mut *conn,
                    d,
                    Sql::new("INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace) VALUES (?, ?, 'active', ?, ?, 'default') RETURNING experiment_id")
                        .with(&name)
                        .with(location.clone().unwrap_or_default())
                        .with(now)
                        .with(now),
                )
                .await?
                .ok_or_else(|| Error::internal("the experiment insert returned no id"))?;
                let id = get_i64(&row, "experiment_id")?;
                if location.is_none() {
                    let loc = ferroflow_core::uri::join(&root, &id.to_string());
                    execute(&mut *conn, d, Sql::new("UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?").with(loc).with(id)).await?;
                }
                for t in tags {
                    upsert_tag(&mut *conn, d, id, &t).await?;
                }
                Ok(id.to_string())
            }
            .boxed()
        })
        .await
}

async fn upsert_tag(conn: &mut AnyConnection, d: Dialect, id: i64, t: &Tag) -> Result<()> {
    execute(
        &mut *conn,
        d,
        Sql::new("INSERT INTO experiment_tags (key, value, experiment_id) VALUES (?, ?, ?) ON CONFLICT (key, experiment_id) DO UPDATE SET value = excluded.value")
            .with(&t.key)
            .with(&t.value)
            .with(id),
    )
    .await?;
    Ok(())
}

pub async fn get(store: &SqlStore, id: &str) -> Result<Experiment> {
    let num = parse_experiment_id(id)?;
    let row = fetch_optional(
        &store.read,
        store.dialect,
        Sql::new(format!(
            "SELECT {COLUMNS} FROM experiments WHERE experiment_id = ?"
        ))
        .with(num),
    )
    .await?;
    let mut exp = vec![
        row.as_ref()
            .map(from_row)
            .transpose()?
            .ok_or_else(|| not_found(id))?,
    ];
    attach_tags(store, &mut exp).await?;
    Ok(exp.remove(0))
}

pub async fn get_by_name(store: &SqlStore, name: &str) -> Result<Option<Experiment>> {
    let row = fetch_optional(
        &store.read,
        store.dialect,
        Sql::new(format!("SELECT {COLUMNS} FROM experiments WHERE name = ?")).with(name),
    )
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut exp = vec![from_row(&row)?];
    attach_tags(store, &mut exp).await?;
    Ok(exp.pop())
}

fn compile_filter(d: Dialect, f: &ExperimentFilter, sql: &mut Sql) {
    match f {
        Expr::And(parts) | Expr::Or(parts) => {
            let joiner = if matches!(f, Expr::And(_)) {
                " AND "
            } else {
                " OR "
            };
            sql.push("(");
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    sql.push(joiner);
                }
                compile_filter(d, p, sql);
            }
            sql.push(")");
        }
        Expr::Cond(c) => match &c.key {
            ExperimentKey::Attr(ExperimentAttr::ExperimentId) => {
                let ids = |v: &Value| -> Vec<Arg> {
                    match v {
                        Value::Str(s) | Value::Num(s) => {
                            vec![Arg::Int(s.trim().parse().unwrap_or(-1))]
                        }
                        Value::List(l) => l
                            .iter()
                            .map(|s| Arg::Int(s.trim().parse().unwrap_or(-1)))
                            .collect(),
                        Value::None => vec![],
                    }
                };
                let not = matches!(c.op, Op::Ne | Op::NotIn);
                sql.push(if not {
                    "e.experiment_id NOT IN "
                } else {
                    "e.experiment_id IN "
                });
                sql.push_list(ids(&c.value));
            }
            ExperimentKey::Attr(a) if a.is_numeric() => {
                let Value::Num(n) = &c.value else { return };
                sql.push(&format!("e.{} {} ?", a.column(), c.op.as_str()))
                    .arg(n.parse::<i64>().unwrap_or(0));
            }
            ExperimentKey::Attr(a) => {
                string_cond(d, &format!("e.{}", a.column()), c.op, &c.value, sql)
            }
            ExperimentKey::Tag(k) => {
                let exists = "EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.experiment_id AND t.key = ?";
                match c.op {
                    Op::IsNull => {
                        sql.push(&format!("NOT {exists})")).arg(k);
                    }
                    Op::IsNotNull => {
                        sql.push(&format!("{exists})")).arg(k);
                    }
                    _ => {
                        sql.push(&format!("{exists} AND ")).arg(k);
                        string_cond(d, "COALESCE(t.value, '')", c.op, &c.value, sql);
                        sql.push(")");
                    }
                }
            }
        },
    }
}

/// `col op value` for string comparisons, shared by every search.
pub(super) fn string_cond(d: Dialect, col: &str, op: Op, value: &Value, sql: &mut Sql) {
    match (op, value) {
        (Op::Like, Value::Str(p)) => {
            sql.push(&d.like(col));
            for a in d.like_args(p) {
                sql.arg(a);
            }
        }
        (Op::ILike, Value::Str(p)) => {
            sql.push(&d.ilike(col)).arg(p);
        }
        (Op::In | Op::NotIn, Value::List(l)) => {
            sql.push(&format!("{col} {} ", op.as_str()))
                .push_list(l.iter().cloned());
        }
        (_, Value::Str(s)) | (_, Value::Num(s)) => {
            sql.push(&format!("{col} {} ?", op.as_str())).arg(s);
        }
        _ => {
            sql.push("1 = 0");
        }
    }
}

pub async fn search(store: &SqlStore, s: crate::ExperimentSearch) -> Result<Page<Experiment>> {
    if s.max_results < 1 || s.max_results > MAX_RESULTS_SEARCH_EXPERIMENTS {
        return Err(Error::invalid_param(format!(
            "Invalid value {} for parameter 'max_results' supplied. It must be at most {MAX_RESULTS_SEARCH_EXPERIMENTS}, and at least 1.",
            s.max_results
        )));
    }
    let filter = parse_experiment_filter(&s.filter)?;
    let order = parse_experiment_order_by(&s.order_by)?;
    let offset = page_token::decode_offset(s.page_token.as_deref())?;
    let d = store.dialect;
    let mut sql = Sql::new(format!(
        "SELECT {} FROM experiments e WHERE e.lifecycle_stage IN ",
        COLUMNS
            .split(", ")
            .map(|c| format!("e.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    sql.push_list(s.view.stages().iter().map(|st| st.as_str()));
    if let Some(f) = &filter {
        sql.push(" AND ");
        compile_filter(d, f, &mut sql);
    }
    sql.push(" ORDER BY ");
    let default = [
        OrderBy {
            key: ExperimentKey::Attr(ExperimentAttr::CreationTime),
            ascending: false,
        },
        OrderBy {
            key: ExperimentKey::Attr(ExperimentAttr::ExperimentId),
            ascending: true,
        },
    ];
    let order = if order.is_empty() {
        &default[..]
    } else {
        &order[..]
    };
    let mut clauses = Vec::new();
    for o in order {
        if let ExperimentKey::Attr(a) = &o.key {
            clauses.push(format!(
                "e.{} {}",
                a.column(),
                if o.ascending { "ASC" } else { "DESC" }
            ));
        }
    }
    if !order
        .iter()
        .any(|o| o.key == ExperimentKey::Attr(ExperimentAttr::ExperimentId))
    {
        clauses.push("e.experiment_id ASC".into());
    }
    sql.push(&clauses.join(", "));
    sql.push(" LIMIT ? OFFSET ?")
        .arg(s.max_results + 1)
        .arg(offset);
    let rows = fetch_all(&store.read, d, sql).await?;
    let mut items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    let next_page_token = if items.len() as i64 > s.max_results {
        items.truncate(s.max_results as usize);
        Some(page_token::encode_offset(offset + s.max_results))
    } else {
        None
    };
    attach_tags(store, &mut items).await?;
    Ok(Page {
        items,
        next_page_token,
    })
}

pub async fn rename(store: &SqlStore, id: &str, new_name: &str) -> Result<()> {
    validate_experiment_name(new_name)?;
    let num = parse_experiment_id(id)?;
    let d = store.dialect;
    let new_name = new_name.to_string();
    store
        .writer
        .write(move |conn| {
            async move {
                let exp = get_in_tx(conn, d, num).await?;
                if exp.lifecycle_stage != LifecycleStage::Active {
                    return Err(Error::invalid_param("Cannot rename a non-active experiment."));
                }
                if exp.name == new_name {
                    return Ok(());
                }
                let taken = fetch_optional(&mut *conn, d, Sql::new("SELECT experiment_id FROM experiments WHERE name = ?").with(&new_name)).await?;
                if taken.is_some() {
                    return Err(Error::already_exists(format!("Experiment(name={new_name}) already exists.")));
                }
                execute(
                    &mut *conn,
                    d,
                    Sql::new("UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?").with(&new_name).with(now_millis()).with(num),
                )
                .await?;
                Ok(())
            }
            .boxed()
        })
        .await
}

pub async fn set_lifecycle(store: &SqlStore, id: &str, stage: LifecycleStage) -> Result<()> {
    let num = parse_experiment_id(id)?;
    let d = store.dialect;
    store
        .writer
        .write(move |conn| {
            async move {
                let exp = get_in_tx(conn, d, num).await?;
                let (from, to) = match stage {
                    LifecycleStage::Deleted => (LifecycleStage::Active, LifecycleStage::Deleted),
                    LifecycleStage::Active => (LifecycleStage::Deleted, LifecycleStage::Active),
                };
                if exp.lifecycle_stage != from {
                    return Err(Error::invalid_param(match to {
                        LifecycleStage::Deleted => format!("Cannot delete experiment {num}: it is already deleted."),
                        LifecycleStage::Active => format!("Cannot restore experiment {num}: it is not deleted."),
                    }));
                }
                if num == 0 && to == LifecycleStage::Deleted {
                    return Err(Error::invalid_param("Cannot delete the default experiment '0'. This is an internally reserved experiment."));
                }
                let now = now_millis();
                execute(
                    &mut *conn,
                    d,
                    Sql::new("UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?").with(to.as_str()).with(now).with(num),
                )
                .await?;
                let deleted_time = if to == LifecycleStage::Deleted { Arg::Int(now) } else { Arg::Null };
                execute(
                    &mut *conn,
                    d,
                    Sql::new("UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE experiment_id = ?").with(to.as_str()).with(deleted_time).with(num),
                )
                .await?;
                Ok(())
            }
            .boxed()
        })
        .await
}

pub(super) async fn active_in_tx(
    conn: &mut AnyConnection,
    d: Dialect,
    num: i64,
) -> Result<Experiment> {
    let exp = get_in_tx(conn, d, num).await?;
    if exp.lifecycle_stage != LifecycleStage::Active {
        return Err(Error::invalid_param(format!(
            "The experiment {num} must be in the 'active' state. Current state is {}.",
            exp.lifecycle_stage
        )));
    }
    Ok(exp)
}

pub async fn set_tag(store: &SqlStore, id: &str, tag: Tag) -> Result<()> {
    validate_experiment_tag(&tag)?;
    let num = parse_experiment_id(id)?;
    let d = store.dialect;
    store
        .writer
        .write(move |conn| {
            async move {
                active_in_tx(conn, d, num).await?;
                upsert_tag(conn, d, num, &tag).await?;
                execute(
                    &mut *conn,
                    d,
                    Sql::new("UPDATE experiments SET last_update_time = ? WHERE experiment_id = ?")
                        .with(now_millis())
                        .with(num),
                )
                .await?;
                Ok(())
            }
            .boxed()
        })
        .await
}

pub async fn delete_tag(store: &SqlStore, id: &str, key: &str) -> Result<()> {
    let num = parse_experiment_id(id)?;
    let d = store.dialect;
    let key = key.to_string();
    store
        .writer
        .write(move |conn| {
            async move {
                active_in_tx(conn, d, num).await?;
                let n = execute(
                    &mut *conn,
                    d,
                    Sql::new("DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?")
                        .with(num)
                        .with(&key),
                )
                .await?;
                if n == 0 {
                    return Err(Error::not_found(format!(
                        "No tag with name: {key} in experiment with id {num}"
                    )));
                }
                Ok(())
            }
            .boxed()
        })
        .await
}

pub async fn purge(store: &SqlStore, id: &str) -> Result<()> {
    let num = parse_experiment_id(id)?;
    let d = store.dialect;
    store
        .writer
        .write(move |conn| {
            async move {
                let exp = get_in_tx(conn, d, num).await?;
                if exp.lifecycle_stage != LifecycleStage::Deleted {
                    return Err(Error::invalid_param(format!("Experiment {num} is not deleted; only deleted experiments can be purged")));
                }
                let runs = fetch_optional(&mut *conn, d, Sql::new("SELECT COUNT(*) AS n FROM runs WHERE experiment_id = ?").with(num)).await?;
                if runs.map(|r| get_i64(&r, "n")).transpose()?.unwrap_or(0) > 0 {
                    return Err(Error::invalid_param(format!("Experiment {num} still has runs; purge them first")));
                }
                for stmt in [
                    "DELETE FROM logged_model_metrics WHERE experiment_id = ?",
                    "DELETE FROM logged_model_params WHERE experiment_id = ?",
                    "DELETE FROM logged_model_tags WHERE experiment_id = ?",
                    "DELETE FROM logged_models WHERE experiment_id = ?",
                    "DELETE FROM input_tags WHERE input_uuid IN (SELECT i.input_uuid FROM inputs i JOIN datasets ds ON ds.dataset_uuid = i.source_id WHERE ds.experiment_id = ?)",
                    "DELETE FROM inputs WHERE source_type = 'DATASET' AND source_id IN (SELECT dataset_uuid FROM datasets WHERE experiment_id = ?)",
                    "DELETE FROM datasets WHERE experiment_id = ?",
                    "DELETE FROM experiment_tags WHERE experiment_id = ?",
                    "DELETE FROM experiments WHERE experiment_id = ?",
                ] {
                    execute(&mut *conn, d, Sql::new(stmt).with(num)).await?;
                }
                Ok(())
            }
            .boxed()
        })
        .await
}
