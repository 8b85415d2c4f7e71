//! Experiments: create, read, search, rename, delete/restore, tags, purge.

use std::collections::HashMap;

use ferroflow_core::entities::{Experiment, LifecycleStage, Page, Tag};
use ferroflow_core::search::experiments::{
    ExperimentAttr, ExperimentFilter, ExperimentKey, parse_experiment_filter,
    parse_experiment_order_by,
};
use ferroflow_core::search::{Op, OrderBy, Value};
use ferroflow_core::validation::{
    self, parse_experiment_id, validate_experiment_name, validate_experiment_tag,
};
use ferroflow_core::{Error, Result, now_millis, page_token};

use super::db::{Conn, Row};
use super::query::{Arg, Sql, compile_expr, string_cond};
use super::{Dialect, SqlStore};

const COLUMNS: &str = "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace";

fn from_row(row: &Row) -> Result<Experiment> {
    Ok(Experiment {
        experiment_id: row.i64("experiment_id")?.to_string(),
        name: row.str("name")?,
        artifact_location: row.str("artifact_location")?,
        lifecycle_stage: row
            .opt_str("lifecycle_stage")?
            .unwrap_or_else(|| "active".into())
            .parse()?,
        last_update_time: row.opt_i64("last_update_time")?,
        creation_time: row.opt_i64("creation_time")?,
        tags: Vec::new(),
        workspace: row.opt_str("workspace")?,
    })
}

pub(super) fn not_found(id: &str) -> Error {
    ferroflow_core::rules::experiment_not_found(id)
}

/// Reads an experiment without its tags.
pub(super) fn get_row(c: &dyn Conn, id: i64) -> Result<Experiment> {
    c.query_opt(
        &Sql::new(format!(
            "SELECT {COLUMNS} FROM experiments WHERE experiment_id = ?"
        ))
        .with(id),
    )?
    .as_ref()
    .map(from_row)
    .transpose()?
    .ok_or_else(|| not_found(&id.to_string()))
}

/// Reads an experiment and checks it is active.
pub(super) fn get_active(c: &dyn Conn, id: i64) -> Result<Experiment> {
    let exp = get_row(c, id)?;
    if exp.lifecycle_stage != LifecycleStage::Active {
        return Err(ferroflow_core::rules::experiment_not_active(
            &id.to_string(),
            exp.lifecycle_stage,
        ));
    }
    Ok(exp)
}

fn attach_tags(c: &dyn Conn, exps: &mut [Experiment]) -> Result<()> {
    if exps.is_empty() {
        return Ok(());
    }
    let mut sql =
        Sql::new("SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN ");
    sql.push_list(
        exps.iter()
            .map(|e| Arg::Int(e.experiment_id.parse().unwrap_or(-1))),
    );
    sql.push(&c.dialect().written_order("experiment_tags"));
    let mut by_id: HashMap<String, Vec<Tag>> = HashMap::new();
    for r in c.query(&sql)? {
        by_id
            .entry(r.i64("experiment_id")?.to_string())
            .or_default()
            .push(Tag::new(r.str("key")?, r.str("value")?));
    }
    for e in exps.iter_mut() {
        e.tags = by_id.remove(&e.experiment_id).unwrap_or_default();
    }
    Ok(())
}

fn upsert_tag(c: &dyn Conn, id: i64, t: &Tag) -> Result<()> {
    c.execute(
        &Sql::new("INSERT INTO experiment_tags (key, value, experiment_id) VALUES (?, ?, ?)")
            .then(&c.dialect().upsert("key, experiment_id", &["value"]))
            .with(&t.key)
            .with(&t.value)
            .with(id),
    )?;
    Ok(())
}

pub async fn create(
    store: &SqlStore,
    name: &str,
    artifact_location: Option<&str>,
    tags: Vec<Tag>,
) -> Result<String> {
    let location = ferroflow_core::rules::new_experiment(name, artifact_location, &tags)?;
    let name = name.to_string();
    let root = store.default_artifact_root.clone();
    store
        .writer
        .write(move |c| {
            if let Some(row) = c.query_opt(&Sql::new("SELECT lifecycle_stage FROM experiments WHERE name = ?").with(&name))? {
                return Err(ferroflow_core::rules::experiment_name_taken(
                    &name,
                    row.str("lifecycle_stage")? == "deleted",
                ));
            }
            let now = now_millis();
            let id = c.insert_returning_id(
                Sql::new(
                    "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace) \
                     VALUES (?, ?, 'active', ?, ?, 'default')",
                )
                .with(&name)
                .with(location.clone().unwrap_or_default())
                .with(now)
                .with(now),
                "experiment_id",
            )?;
            if location.is_none() {
                let loc = ferroflow_core::uri::join(&root, &id.to_string());
                c.execute(&Sql::new("UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?").with(loc).with(id))?;
            }
            for t in &tags {
                upsert_tag(c, id, t)?;
            }
            Ok(id.to_string())
        })
        .await
}

pub async fn get(store: &SqlStore, id: &str) -> Result<Experiment> {
    let num = parse_experiment_id(id)?;
    store
        .read
        .read(move |c| {
            let mut exp = vec![get_row(c, num)?];
            attach_tags(c, &mut exp)?;
            Ok(exp.remove(0))
        })
        .await
}

pub async fn get_by_name(store: &SqlStore, name: &str) -> Result<Option<Experiment>> {
    let name = name.to_string();
    store
        .read
        .read(move |c| {
            let Some(row) = c.query_opt(
                &Sql::new(format!("SELECT {COLUMNS} FROM experiments WHERE name = ?")).with(&name),
            )?
            else {
                return Ok(None);
            };
            let mut exp = vec![from_row(&row)?];
            attach_tags(c, &mut exp)?;
            Ok(exp.pop())
        })
        .await
}

fn compile_filter(d: Dialect, f: &ExperimentFilter, sql: &mut Sql) -> Result<()> {
    compile_expr(f, sql, &mut |c, sql| {
        match &c.key {
            ExperimentKey::Attr(ExperimentAttr::ExperimentId) => {
                let ids: Vec<Arg> = match &c.value {
                    Value::Str(s) | Value::Num(s) => vec![Arg::Int(s.trim().parse().unwrap_or(-1))],
                    Value::List(l) => l
                        .iter()
                        .map(|s| Arg::Int(s.trim().parse().unwrap_or(-1)))
                        .collect(),
                    Value::None => vec![],
                };
                let not = matches!(c.op, Op::Ne | Op::NotIn);
                sql.push(if not {
                    "e.experiment_id NOT IN "
                } else {
                    "e.experiment_id IN "
                });
                sql.push_list(ids);
            }
            ExperimentKey::Attr(a) if a.is_numeric() => {
                let n = if let Value::Num(n) = &c.value {
                    n.parse::<i64>().unwrap_or(0)
                } else {
                    0
                };
                sql.push(&format!("e.{} {} ?", a.column(), c.op.as_str()))
                    .arg(n);
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
        }
        Ok(())
    })
}

pub async fn search(store: &SqlStore, s: crate::ExperimentSearch) -> Result<Page<Experiment>> {
    validation::validate_search_experiments_max_results(s.max_results)?;
    let filter = parse_experiment_filter(&s.filter)?;
    let order = parse_experiment_order_by(&s.order_by)?;
    let offset = page_token::decode_offset(s.page_token.as_deref())?;
    let columns = COLUMNS
        .split(", ")
        .map(|c| format!("e.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut sql = Sql::new(format!(
        "SELECT {columns} FROM experiments e WHERE e.lifecycle_stage IN "
    ));
    sql.push_list(s.view.stages().iter().map(|st| st.as_str()));
    if let Some(f) = &filter {
        sql.push(" AND ");
        compile_filter(store.dialect, f, &mut sql)?;
    }
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
    let mut clauses: Vec<String> = order
        .iter()
        .filter_map(|o| match &o.key {
            ExperimentKey::Attr(a) => Some(format!(
                "e.{} {}",
                a.column(),
                if o.ascending { "ASC" } else { "DESC" }
            )),
            ExperimentKey::Tag(_) => None,
        })
        .collect();
    if !order
        .iter()
        .any(|o| o.key == ExperimentKey::Attr(ExperimentAttr::ExperimentId))
    {
        clauses.push("e.experiment_id ASC".into());
    }
    sql.push_page(&clauses, s.max_results, offset);
    store
        .read_page(sql, s.max_results, offset, from_row, with_tags)
        .await
}

fn with_tags(c: &dyn Conn, mut exps: Vec<Experiment>) -> Result<Vec<Experiment>> {
    attach_tags(c, &mut exps)?;
    Ok(exps)
}

pub async fn rename(store: &SqlStore, id: &str, new_name: &str) -> Result<()> {
    validate_experiment_name(new_name)?;
    let num = parse_experiment_id(id)?;
    let new_name = new_name.to_string();
    store
        .writer
        .write(move |c| {
            let exp = get_row(c, num)?;
            if exp.lifecycle_stage != LifecycleStage::Active {
                return Err(Error::invalid_param(
                    "Cannot rename a non-active experiment.",
                ));
            }
            if exp.name == new_name {
                return Ok(());
            }
            if c.query_opt(
                &Sql::new("SELECT experiment_id FROM experiments WHERE name = ?").with(&new_name),
            )?
            .is_some()
            {
                return Err(ferroflow_core::rules::experiment_name_taken(
                    &new_name, false,
                ));
            }
            c.execute(
                &Sql::new(
                    "UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?",
                )
                .with(&new_name)
                .with(now_millis())
                .with(num),
            )?;
            Ok(())
        })
        .await
}

pub async fn set_lifecycle(store: &SqlStore, id: &str, to: LifecycleStage) -> Result<()> {
    let num = parse_experiment_id(id)?;
    store
        .writer
        .write(move |c| {
            let exp = get_row(c, num)?;
            let from = match to {
                LifecycleStage::Deleted => LifecycleStage::Active,
                LifecycleStage::Active => LifecycleStage::Deleted,
            };
            if exp.lifecycle_stage != from {
                return Err(ferroflow_core::rules::experiment_stage_error(&num.to_string(), to));
            }
            if num == 0 && to == LifecycleStage::Deleted {
                return Err(ferroflow_core::rules::default_experiment_undeletable());
            }
            let now = now_millis();
            c.execute(
                &Sql::new("UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?")
                    .with(to.as_str())
                    .with(now)
                    .with(num),
            )?;
            let deleted_time = if to == LifecycleStage::Deleted { Arg::Int(now) } else { Arg::Null };
            c.execute(
                &Sql::new("UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE experiment_id = ?")
                    .with(to.as_str())
                    .with(deleted_time)
                    .with(num),
            )?;
            Ok(())
        })
        .await
}

pub async fn set_tag(store: &SqlStore, id: &str, tag: Tag) -> Result<()> {
    validate_experiment_tag(&tag)?;
    let num = parse_experiment_id(id)?;
    store
        .writer
        .write(move |c| {
            get_active(c, num)?;
            upsert_tag(c, num, &tag)?;
            c.execute(
                &Sql::new("UPDATE experiments SET last_update_time = ? WHERE experiment_id = ?")
                    .with(now_millis())
                    .with(num),
            )?;
            Ok(())
        })
        .await
}

pub async fn delete_tag(store: &SqlStore, id: &str, key: &str) -> Result<()> {
    let num = parse_experiment_id(id)?;
    let key = key.to_string();
    store
        .writer
        .write(move |c| {
            get_active(c, num)?;
            let n = c.execute(
                &Sql::new("DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?")
                    .with(num)
                    .with(&key),
            )?;
            if n == 0 {
                return Err(ferroflow_core::rules::experiment_tag_not_found(
                    &num.to_string(),
                    &key,
                ));
            }
            Ok(())
        })
        .await
}

pub async fn purge(store: &SqlStore, id: &str) -> Result<()> {
    let num = parse_experiment_id(id)?;
    store
        .writer
        .write(move |c| {
            let exp = get_row(c, num)?;
            if exp.lifecycle_stage != LifecycleStage::Deleted {
                return Err(Error::invalid_param(format!("Experiment {num} is not deleted; only deleted experiments can be purged")));
            }
            let runs = c.query_opt(&Sql::new("SELECT COUNT(*) AS n FROM runs WHERE experiment_id = ?").with(num))?;
            if runs.map(|r| r.i64("n")).transpose()?.unwrap_or(0) > 0 {
                return Err(Error::invalid_param(format!("Experiment {num} still has runs; purge them first")));
            }
            let backing = c.query_opt(
                &Sql::new(
                    "SELECT mv.name, mv.version FROM model_versions mv JOIN logged_models lm ON mv.source = 'models:/' || lm.model_id \
                     WHERE lm.experiment_id = ? AND mv.current_stage != 'Deleted_Internal' LIMIT 1",
                )
                .with(num),
            )?;
            if let Some(v) = backing {
                return Err(Error::invalid_param(format!(
                    "Experiment {num} holds the artifacts of registered model version {}/{}; delete that version first",
                    v.str("name")?,
                    v.i64("version")?
                )));
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
                c.execute(&Sql::new(stmt).with(num))?;
            }
            Ok(())
        })
        .await
}
