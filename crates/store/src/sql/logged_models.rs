//! Logged models (MLflow 3): the model a `log_model` call creates, with its params,
//! tags and metrics, linked to the run that produced it.

use std::collections::HashMap;

use ferroflow_core::entities::{
    LifecycleStage, LoggedModel, LoggedModelData, LoggedModelInfo, LoggedModelStatus, Metric, Page,
    Param, Tag,
};
use ferroflow_core::search::logged_models::{
    LoggedModelAttr, LoggedModelFilter, LoggedModelKey, bind_logged_model_order_field,
    parse_logged_model_filter,
};
use ferroflow_core::search::{Op, Value};
use ferroflow_core::validation::{parse_experiment_id, validate_key};
use ferroflow_core::{Error, Result, ids, now_millis, page_token};

use super::db::{Conn, Row};
use super::experiments;
use super::query::{Arg, Sql, compile_expr, string_cond};
use super::{Dialect, SqlStore};
use crate::{CreateLoggedModel, LoggedModelSearch};

const COLUMNS: &str = "lm.model_id, lm.experiment_id, lm.name, lm.artifact_location, lm.creation_timestamp_ms, lm.last_updated_timestamp_ms, lm.status, lm.lifecycle_stage, lm.model_type, lm.source_run_id, lm.status_message";

fn not_found(id: &str) -> Error {
    ferroflow_core::rules::logged_model_not_found(id)
}

fn info_from_row(r: &Row) -> Result<LoggedModelInfo> {
    Ok(LoggedModelInfo {
        model_id: r.str("model_id")?,
        experiment_id: r.i64("experiment_id")?.to_string(),
        name: r.str("name")?,
        creation_timestamp_ms: r.i64("creation_timestamp_ms")?,
        last_updated_timestamp_ms: r.i64("last_updated_timestamp_ms")?,
        artifact_uri: r.str("artifact_location")?,
        status: LoggedModelStatus::from_code(r.i64("status")?),
        model_type: r.str("model_type")?,
        source_run_id: r.opt_str("source_run_id")?.filter(|s| !s.is_empty()),
        status_message: r.opt_str("status_message")?.filter(|s| !s.is_empty()),
        tags: Vec::new(),
        registrations: Vec::new(),
    })
}

fn hydrate(c: &dyn Conn, infos: Vec<LoggedModelInfo>) -> Result<Vec<LoggedModel>> {
    if infos.is_empty() {
        return Ok(Vec::new());
    }
    let list = |prefix: &str, table: &str| {
        let mut s = Sql::new(prefix);
        s.push_list(infos.iter().map(|i| i.model_id.clone()));
        s.push(&c.dialect().written_order(table));
        s
    };
    let mut tags: HashMap<String, Vec<Tag>> = HashMap::new();
    for r in c.query(&list(
        "SELECT model_id, tag_key, tag_value FROM logged_model_tags WHERE model_id IN ",
        "logged_model_tags",
    ))? {
        tags.entry(r.str("model_id")?)
            .or_default()
            .push(Tag::new(r.str("tag_key")?, r.str("tag_value")?));
    }
    let mut params: HashMap<String, Vec<Param>> = HashMap::new();
    for r in c.query(&list(
        "SELECT model_id, param_key, param_value FROM logged_model_params WHERE model_id IN ",
        "logged_model_params",
    ))? {
        params
            .entry(r.str("model_id")?)
            .or_default()
            .push(Param::new(r.str("param_key")?, r.str("param_value")?));
    }
    let mut metrics: HashMap<String, Vec<Metric>> = HashMap::new();
    for r in c.query(&list(
        "SELECT model_id, metric_name, metric_timestamp_ms, metric_step, metric_value, run_id, dataset_name, dataset_digest \
         FROM logged_model_metrics WHERE model_id IN ",
        "logged_model_metrics",
    ))? {
        let model_id = r.str("model_id")?;
        let value = r.opt_f64("metric_value")?.unwrap_or(f64::NAN);
        let mut m = Metric::new(r.str("metric_name")?, value, r.i64("metric_timestamp_ms")?, r.i64("metric_step")?);
        m.run_id = r.opt_str("run_id")?;
        m.dataset_name = r.opt_str("dataset_name")?;
        m.dataset_digest = r.opt_str("dataset_digest")?;
        m.model_id = Some(model_id.clone());
        metrics.entry(model_id).or_default().push(m);
    }
    Ok(infos
        .into_iter()
        .map(|mut info| {
            info.tags = tags.remove(&info.model_id).unwrap_or_default();
            let data = LoggedModelData {
                params: params.remove(&info.model_id).unwrap_or_default(),
                metrics: metrics.remove(&info.model_id).unwrap_or_default(),
            };
            LoggedModel { info, data }
        })
        .collect())
}

fn active(c: &dyn Conn, model_id: &str) -> Result<LoggedModelInfo> {
    c.query_opt(
        &Sql::new(format!(
            "SELECT {COLUMNS} FROM logged_models lm WHERE lm.model_id = ? AND COALESCE(lm.lifecycle_stage, 'active') = 'active'"
        ))
        .with(model_id),
    )?
    .as_ref()
    .map(info_from_row)
    .transpose()?
    .ok_or_else(|| not_found(model_id))
}

fn get_sync(c: &dyn Conn, model_id: &str) -> Result<LoggedModel> {
    Ok(hydrate(c, vec![active(c, model_id)?])?.remove(0))
}

pub(super) fn upsert_tags(c: &dyn Conn, model_id: &str, exp_id: i64, tags: &[Tag]) -> Result<()> {
    for t in tags {
        c.execute(
            &Sql::new(
                "INSERT INTO logged_model_tags (model_id, experiment_id, tag_key, tag_value) VALUES (?, ?, ?, ?)",
            )
            .then(&c.dialect().upsert("model_id, tag_key", &["tag_value"]))
            .with(model_id)
            .with(exp_id)
            .with(&t.key)
            .with(&t.value),
        )?;
    }
    Ok(())
}

fn upsert_params(c: &dyn Conn, model_id: &str, exp_id: i64, params: &[Param]) -> Result<()> {
    for p in params {
        c.execute(
            &Sql::new(
                "INSERT INTO logged_model_params (model_id, experiment_id, param_key, param_value) VALUES (?, ?, ?, ?)",
            )
            .then(&c.dialect().upsert("model_id, param_key", &["param_value"]))
            .with(model_id)
            .with(exp_id)
            .with(&p.key)
            .with(&p.value),
        )?;
    }
    Ok(())
}

pub async fn create(store: &SqlStore, req: CreateLoggedModel) -> Result<LoggedModel> {
    let exp_id = parse_experiment_id(&req.experiment_id)?;
    for t in &req.tags {
        validate_key(&t.key, "tags.key")?;
    }
    for p in &req.params {
        validate_key(&p.key, "params.key")?;
    }
    let model_id = ids::new_logged_model_id();
    let name = req
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(ids::random_run_name);
    store
        .writer
        .write(move |c| {
            let exp = experiments::get_active(c, exp_id)?;
            // As MLflow, the source run is recorded as given: it need not exist here.
            let now = now_millis();
            let location = ferroflow_core::uri::join(&exp.artifact_location, &format!("models/{model_id}/artifacts"));
            c.execute(
                &Sql::new(
                    "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, NULL)",
                )
                .with(&model_id)
                .with(exp_id)
                .with(&name)
                .with(location)
                .with(now)
                .with(now)
                .with(LoggedModelStatus::Pending.code())
                .with(req.model_type.clone().unwrap_or_default())
                .with(req.source_run_id.clone()),
            )?;
            upsert_params(c, &model_id, exp_id, &req.params)?;
            upsert_tags(c, &model_id, exp_id, &req.tags)?;
            get_sync(c, &model_id)
        })
        .await
}

pub async fn get(store: &SqlStore, model_id: &str) -> Result<LoggedModel> {
    let model_id = model_id.to_string();
    store.read.read(move |c| get_sync(c, &model_id)).await
}

/// Runs `f` on an active logged model inside a write; `f` gets the model's experiment id.
async fn modify<T, F>(store: &SqlStore, model_id: &str, f: F) -> Result<T>
where
    T: Send + 'static,
    F: Fn(&dyn Conn, &str, i64) -> Result<T> + Send + 'static,
{
    let model_id = model_id.to_string();
    store
        .writer
        .write(move |c| {
            let info = active(c, &model_id)?;
            f(c, &model_id, info.experiment_id.parse().unwrap_or(0))
        })
        .await
}

pub async fn finalize(
    store: &SqlStore,
    model_id: &str,
    status: LoggedModelStatus,
) -> Result<LoggedModel> {
    modify(store, model_id, move |c, id, _| {
        c.execute(
            &Sql::new("UPDATE logged_models SET status = ?, last_updated_timestamp_ms = ? WHERE model_id = ?")
                .with(status.code())
                .with(now_millis())
                .with(id),
        )?;
        get_sync(c, id)
    })
    .await
}

pub async fn delete(store: &SqlStore, model_id: &str) -> Result<()> {
    modify(store, model_id, |c, id, _| {
        c.execute(
            &Sql::new("UPDATE logged_models SET lifecycle_stage = ?, last_updated_timestamp_ms = ? WHERE model_id = ?")
                .with(LifecycleStage::Deleted.as_str())
                .with(now_millis())
                .with(id),
        )?;
        Ok(())
    })
    .await
}

pub async fn set_tags(store: &SqlStore, model_id: &str, tags: Vec<Tag>) -> Result<()> {
    for t in &tags {
        validate_key(&t.key, "key")?;
    }
    modify(store, model_id, move |c, id, exp| {
        upsert_tags(c, id, exp, &tags)
    })
    .await
}

pub async fn delete_tag(store: &SqlStore, model_id: &str, key: &str) -> Result<()> {
    let key = key.to_string();
    modify(store, model_id, move |c, id, _| {
        let n = c.execute(
            &Sql::new("DELETE FROM logged_model_tags WHERE model_id = ? AND tag_key = ?")
                .with(id)
                .with(&key),
        )?;
        if n == 0 {
            return Err(Error::not_found(format!(
                "No tag with key '{key}' found for logged model with ID '{id}'."
            )));
        }
        Ok(())
    })
    .await
}

pub async fn log_params(store: &SqlStore, model_id: &str, params: Vec<Param>) -> Result<()> {
    for p in &params {
        validate_key(&p.key, "key")?;
    }
    modify(store, model_id, move |c, id, exp| {
        upsert_params(c, id, exp, &params)
    })
    .await
}

fn attr_expr(a: LoggedModelAttr) -> String {
    if a.is_numeric() || a == LoggedModelAttr::Status {
        format!("lm.{}", a.column())
    } else {
        format!("COALESCE(lm.{}, '')", a.column())
    }
}

/// `(m.dataset_name = ? AND m.dataset_digest = ?|IS NULL) OR ...` over a metric row `m`.
fn dataset_cond(datasets: &[(String, Option<String>)], sql: &mut Sql) {
    sql.push("(");
    for (i, (name, digest)) in datasets.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { " OR (" });
        sql.push("m.dataset_name = ?").arg(name);
        // As MLflow's store reads it, a dataset given without a digest is one logged
        // without a digest.
        match digest {
            Some(digest) => sql.push(" AND m.dataset_digest = ?").arg(digest),
            None => sql.push(" AND m.dataset_digest IS NULL"),
        };
        sql.push(")");
    }
    sql.push(")");
}

fn compile(
    d: Dialect,
    f: &LoggedModelFilter,
    datasets: &[(String, Option<String>)],
    sql: &mut Sql,
) -> Result<()> {
    compile_expr(f, sql, &mut |c, sql| {
        match &c.key {
            LoggedModelKey::Attr(LoggedModelAttr::Status) => {
                // Status is stored as an integer; filters name it.
                let codes = |v: &Value| -> Result<Vec<Arg>> {
                    let names: Vec<&String> = match v {
                        Value::Str(s) => vec![s],
                        Value::List(l) => l.iter().collect(),
                        _ => vec![],
                    };
                    names
                        .into_iter()
                        .map(|n| Ok(Arg::Int(n.parse::<LoggedModelStatus>()?.code())))
                        .collect()
                };
                let not = matches!(c.op, Op::Ne | Op::NotIn);
                if matches!(c.op, Op::Like | Op::ILike) {
                    return Err(Error::invalid_param(
                        "LIKE is not supported for the logged model status",
                    ));
                }
                sql.push(if not {
                    "lm.status NOT IN "
                } else {
                    "lm.status IN "
                })
                .push_list(codes(&c.value)?);
            }
            LoggedModelKey::Attr(a) if a.is_numeric() => {
                let Value::Num(n) = &c.value else {
                    return Ok(());
                };
                sql.push(&format!("{} {} ?", attr_expr(*a), c.op.as_str()))
                    .arg(n.parse::<f64>().unwrap_or(0.0));
            }
            LoggedModelKey::Attr(a) => string_cond(d, &attr_expr(*a), c.op, &c.value, sql),
            LoggedModelKey::Metric(k) => {
                let Value::Num(n) = &c.value else {
                    return Ok(());
                };
                sql.push(&format!(
                    "EXISTS (SELECT 1 FROM logged_model_metrics m WHERE m.model_id = lm.model_id AND m.metric_name = ? AND m.metric_value {} ?",
                    c.op.as_str()
                ))
                .arg(k)
                .arg(n.parse::<f64>().unwrap_or(0.0));
                if !datasets.is_empty() {
                    sql.push(" AND ");
                    dataset_cond(datasets, sql);
                }
                sql.push(")");
            }
            LoggedModelKey::Param(k) => {
                sql.push("EXISTS (SELECT 1 FROM logged_model_params p WHERE p.model_id = lm.model_id AND p.param_key = ? AND ").arg(k);
                string_cond(d, "p.param_value", c.op, &c.value, sql);
                sql.push(")");
            }
            LoggedModelKey::Tag(k) => {
                sql.push("EXISTS (SELECT 1 FROM logged_model_tags t WHERE t.model_id = lm.model_id AND t.tag_key = ? AND ").arg(k);
                string_cond(d, "t.tag_value", c.op, &c.value, sql);
                sql.push(")");
            }
        }
        Ok(())
    })
}

pub async fn search(store: &SqlStore, s: LoggedModelSearch) -> Result<Page<LoggedModel>> {
    ferroflow_core::rules::validate_search_logged_models_max_results(s.max_results)?;
    let exp_ids = s
        .experiment_ids
        .iter()
        .map(|e| parse_experiment_id(e))
        .collect::<Result<Vec<_>>>()?;
    let filter = parse_logged_model_filter(&s.filter)?;
    let offset = page_token::decode_offset(s.page_token.as_deref())?;
    let mut joins = Sql::default();
    let mut order_sql = Vec::new();
    for (i, (field, asc)) in s.order_by.iter().enumerate() {
        let dir = if *asc { "ASC" } else { "DESC" };
        match bind_logged_model_order_field(field)? {
            LoggedModelKey::Attr(a) => order_sql.push(format!("{} {dir}", attr_expr(a))),
            LoggedModelKey::Metric(k) => {
                joins
                    .push(&format!(
                        " LEFT JOIN (SELECT model_id, MAX(metric_value) AS v FROM logged_model_metrics WHERE metric_name = ? GROUP BY model_id) o{i} ON o{i}.model_id = lm.model_id"
                    ))
                    .arg(k);
                order_sql.push(format!(
                    "CASE WHEN o{i}.v IS NULL THEN 1 ELSE 0 END ASC, o{i}.v {dir}"
                ));
            }
            LoggedModelKey::Param(_) | LoggedModelKey::Tag(_) => {
                return Err(Error::invalid_param(format!(
                    "Ordering logged models by '{field}' is not supported"
                )));
            }
        }
    }
    order_sql.push("lm.creation_timestamp_ms DESC".into());
    order_sql.push("lm.model_id ASC".into());
    let mut sql = Sql::new(format!("SELECT {COLUMNS} FROM logged_models lm"));
    sql.push_args(&joins.text, joins.args);
    sql.push(" WHERE COALESCE(lm.lifecycle_stage, 'active') = 'active' AND lm.experiment_id IN ")
        .push_list(exp_ids);
    if let Some(f) = &filter {
        sql.push(" AND ");
        compile(store.dialect, f, &s.datasets, &mut sql)?;
    }
    let metric_filtered = filter.as_ref().is_some_and(|f| {
        f.conds()
            .iter()
            .any(|c| matches!(c.key, LoggedModelKey::Metric(_)))
    });
    if !s.datasets.is_empty() && !metric_filtered {
        // Models with any metric on one of the datasets.
        sql.push(
            " AND EXISTS (SELECT 1 FROM logged_model_metrics m WHERE m.model_id = lm.model_id AND ",
        );
        dataset_cond(&s.datasets, &mut sql);
        sql.push(")");
    }
    sql.push_page(&order_sql, s.max_results, offset);
    store
        .read_page(sql, s.max_results, offset, info_from_row, hydrate)
        .await
}
