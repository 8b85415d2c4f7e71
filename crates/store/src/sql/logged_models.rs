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
use ferroflow_core::search::{Expr, Op, Value};
use ferroflow_core::validation::{parse_experiment_id, validate_key};
use ferroflow_core::{Error, Result, ids, now_millis, page_token};
use futures_util::FutureExt;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use super::experiments::{self, string_cond};
use super::query::{
    Arg, Sql, execute, fetch_all, fetch_optional, get_i64, get_opt_f64, get_opt_str, get_str,
};
use super::{Dialect, SqlStore};
use crate::{CreateLoggedModel, LoggedModelSearch};

const COLUMNS: &str = "lm.model_id, lm.experiment_id, lm.name, lm.artifact_location, lm.creation_timestamp_ms, lm.last_updated_timestamp_ms, lm.status, lm.lifecycle_stage, lm.model_type, lm.source_run_id, lm.status_message";

fn not_found(id: &str) -> Error {
    Error::not_found(format!("Logged model with ID '{id}' not found."))
}

fn info_from_row(r: &AnyRow) -> Result<LoggedModelInfo> {
    Ok(LoggedModelInfo {
        model_id: get_str(r, "model_id")?,
        experiment_id: get_i64(r, "experiment_id")?.to_string(),
        name: get_str(r, "name")?,
        creation_timestamp_ms: get_i64(r, "creation_timestamp_ms")?,
        last_updated_timestamp_ms: get_i64(r, "last_updated_timestamp_ms")?,
        artifact_uri: get_str(r, "artifact_location")?,
        status: LoggedModelStatus::from_code(get_i64(r, "status")?),
        model_type: get_str(r, "model_type")?,
        source_run_id: get_opt_str(r, "source_run_id")?.filter(|s| !s.is_empty()),
        status_message: get_opt_str(r, "status_message")?.filter(|s| !s.is_empty()),
        tags: Vec::new(),
        registrations: Vec::new(),
    })
}

async fn hydrate(store: &SqlStore, infos: Vec<LoggedModelInfo>) -> Result<Vec<LoggedModel>> {
    if infos.is_empty() {
        return Ok(Vec::new());
    }
    let d = store.dialect;
    let list = |prefix: &str| {
        let mut s = Sql::new(prefix);
        s.push_list(infos.iter().map(|i| i.model_id.clone()));
        s
    };
    let (tags, params, metrics) = tokio::try_join!(
        fetch_all(
            &store.read,
            d,
            list("SELECT model_id, tag_key, tag_value FROM logged_model_tags WHERE model_id IN ")
        ),
        fetch_all(
            &store.read,
            d,
            list(
                "SELECT model_id, param_key, param_value FROM logged_model_params WHERE model_id IN "
            )
        ),
        fetch_all(
            &store.read,
            d,
            list(
                "SELECT model_id, metric_name, metric_timestamp_ms, metric_step, metric_value, run_id, dataset_name, dataset_digest FROM logged_model_metrics WHERE model_id IN "
            )
        ),
    )?;
    let mut t: HashMap<String, Vec<Tag>> = HashMap::new();
    for r in &tags {
        t.entry(get_str(r, "model_id")?)
            .or_default()
            .push(Tag::new(get_str(r, "tag_key")?, get_str(r, "tag_value")?));
    }
    let mut p: HashMap<String, Vec<Param>> = HashMap::new();
    for r in &params {
        p.entry(get_str(r, "model_id")?)
            .or_default()
            .push(Param::new(
                get_str(r, "param_key")?,
                get_str(r, "param_value")?,
            ));
    }
    let mut m: HashMap<String, Vec<Metric>> = HashMap::new();
    for r in &metrics {
        let model_id = get_str(r, "model_id")?;
        let value = get_opt_f64(r, "metric_value")?.unwrap_or(f64::NAN);
        let mut metric = Metric::new(
            get_str(r, "metric_name")?,
            value,
            get_i64(r, "metric_timestamp_ms")?,
            get_i64(r, "metric_step")?,
        );
        metric.run_id = get_opt_str(r, "run_id")?;
        metric.dataset_name = get_opt_str(r, "dataset_name")?;
        metric.dataset_digest = get_opt_str(r, "dataset_digest")?;
        metric.model_id = Some(model_id.clone());
        m.entry(model_id).or_default().push(metric);
    }
    Ok(infos
        .into_iter()
        .map(|mut info| {
            info.tags = t.remove(&info.model_id).unwrap_or_default();
            let data = LoggedModelData {
                params: p.remove(&info.model_id).unwrap_or_default(),
                metrics: m.remove(&info.model_id).unwrap_or_default(),
            };
            LoggedModel { info, data }
        })
        .collect())
}

async fn active_in_tx(
    conn: &mut AnyConnection,
    d: Dialect,
    model_id: &str,
) -> Result<LoggedModelInfo> {
    let row = fetch_optional(
        &mut *conn,
        d,
        Sql::new(format!("SELECT {COLUMNS} FROM logged_models lm WHERE lm.model_id = ? AND COALESCE(lm.lifecycle_stage, 'active') = 'active'")).with(model_id),
    )
    .await?;
    row.as_ref()
        .map(info_from_row)
        .transpose()?
        .ok_or_else(|| not_found(model_id))
}

async fn upsert_tags(
    conn: &mut AnyConnection,
    d: Dialect,
    model_id: &str,
    exp_id: i64,
    tags: &[Tag],
) -> Result<()> {
    for t in tags {
        execute(
            &mut *conn,
            d,
            Sql::new(
                "INSERT INTO logged_model_tags (model_id, experiment_id, tag_key, tag_value) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (model_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
            )
            .with(model_id)
            .with(exp_id)
            .with(&t.key)
            .with(&t.value),
        )
        .await?;
    }
    Ok(())
}

async fn upsert_params(
    conn: &mut AnyConnection,
    d: Dialect,
    model_id: &str,
    exp_id: i64,
    params: &[Param],
) -> Result<()> {
    for p in params {
        execute(
            &mut *conn,
            d,
            Sql::new(
                "INSERT INTO logged_model_params (model_id, experiment_id, param_key, param_value) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (model_id, param_key) DO UPDATE SET param_value = excluded.param_value",
            )
            .with(model_id)
            .with(exp_id)
            .with(&p.key)
            .with(&p.value),
        )
        .await?;
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
    let d = store.dialect;
    let model_id = ids::new_logged_model_id();
    let name = req
        .name
        .filter(|n| !n.is_empty())
        .unwrap_or_else(ids::random_run_name);
    let id = model_id.clone();
    store
        .writer
        .write(move |conn| {
            async move {
                let exp = experiments::active_in_tx(conn, d, exp_id).await?;
                if let Some(run) = &req.source_run_id {
                    let exists = fetch_optional(&mut *conn, d, Sql::new("SELECT 1 AS x FROM runs WHERE run_uuid = ?").with(run)).await?;
                    if exists.is_none() {
                        return Err(Error::not_found(format!("Run with id={run} not found")));
                    }
                }
                let now = now_millis();
                let location = ferroflow_core::uri::join(&exp.artifact_location, &format!("models/{id}/artifacts"));
                execute(
                    &mut *conn,
                    d,
                    Sql::new(
                        "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, NULL)",
                    )
                    .with(&id)
                    .with(exp_id)
                    .with(&name)
                    .with(location)
                    .with(now)
                    .with(now)
                    .with(LoggedModelStatus::Pending.code())
                    .with(req.model_type.unwrap_or_default())
                    .with(req.source_run_id.clone()),
                )
                .await?;
                upsert_params(conn, d, &id, exp_id, &req.params).await?;
                upsert_tags(conn, d, &id, exp_id, &req.tags).await?;
                Ok(())
            }
            .boxed()
        })
        .await?;
    get(store, &model_id).await
}

pub async fn get(store: &SqlStore, model_id: &str) -> Result<LoggedModel> {
    let row = fetch_optional(
        &store.read,
        store.dialect,
        Sql::new(format!("SELECT {COLUMNS} FROM logged_models lm WHERE lm.model_id = ? AND COALESCE(lm.lifecycle_stage, 'active') = 'active'")).with(model_id),
    )
    .await?;
    let info = row
        .as_ref()
        .map(info_from_row)
        .transpose()?
        .ok_or_else(|| not_found(model_id))?;
    Ok(hydrate(store, vec![info]).await?.remove(0))
}

async fn modify<F>(store: &SqlStore, model_id: &str, f: F) -> Result<()>
where
    F: for<'c> FnOnce(
            &'c mut AnyConnection,
            Dialect,
            String,
            i64,
        ) -> futures_util::future::BoxFuture<'c, Result<()>>
        + Send
        + 'static,
{
    let d = store.dialect;
    let model_id = model_id.to_string();
    store
        .writer
        .write(move |conn| {
            async move {
                let info = active_in_tx(conn, d, &model_id).await?;
                let exp_id: i64 = info.experiment_id.parse().unwrap_or(0);
                f(conn, d, model_id, exp_id).await
            }
            .boxed()
        })
        .await
}

pub async fn finalize(
    store: &SqlStore,
    model_id: &str,
    status: LoggedModelStatus,
) -> Result<LoggedModel> {
    modify(store, model_id, move |conn, d, id, _| {
        async move {
            execute(
                &mut *conn,
                d,
                Sql::new("UPDATE logged_models SET status = ?, last_updated_timestamp_ms = ? WHERE model_id = ?").with(status.code()).with(now_millis()).with(&id),
            )
            .await?;
            Ok(())
        }
        .boxed()
    })
    .await?;
    get(store, model_id).await
}

pub async fn delete(store: &SqlStore, model_id: &str) -> Result<()> {
    modify(store, model_id, |conn, d, id, _| {
        async move {
            execute(
                &mut *conn,
                d,
                Sql::new("UPDATE logged_models SET lifecycle_stage = ?, last_updated_timestamp_ms = ? WHERE model_id = ?")
                    .with(LifecycleStage::Deleted.as_str())
                    .with(now_millis())
                    .with(&id),
            )
            .await?;
            Ok(())
        }
        .boxed()
    })
    .await
}

pub async fn set_tags(store: &SqlStore, model_id: &str, tags: Vec<Tag>) -> Result<()> {
    for t in &tags {
        validate_key(&t.key, "key")?;
    }
    modify(store, model_id, move |conn, d, id, exp| {
        async move { upsert_tags(conn, d, &id, exp, &tags).await }.boxed()
    })
    .await
}

pub async fn delete_tag(store: &SqlStore, model_id: &str, key: &str) -> Result<()> {
    let key = key.to_string();
    modify(store, model_id, move |conn, d, id, _| {
        async move {
            let n = execute(
                &mut *conn,
                d,
                Sql::new("DELETE FROM logged_model_tags WHERE model_id = ? AND tag_key = ?")
                    .with(&id)
                    .with(&key),
            )
            .await?;
            if n == 0 {
                return Err(Error::not_found(format!(
                    "No tag with key '{key}' found for logged model with ID '{id}'."
                )));
            }
            Ok(())
        }
        .boxed()
    })
    .await
}

pub async fn log_params(store: &SqlStore, model_id: &str, params: Vec<Param>) -> Result<()> {
    for p in &params {
        validate_key(&p.key, "key")?;
    }
    modify(store, model_id, move |conn, d, id, exp| {
        async move { upsert_params(conn, d, &id, exp, &params).await }.boxed()
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

fn compile(d: Dialect, f: &LoggedModelFilter, sql: &mut Sql) -> Result<()> {
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
                compile(d, p, sql)?;
            }
            sql.push(")");
        }
        Expr::Cond(c) => match &c.key {
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
                    "EXISTS (SELECT 1 FROM logged_model_metrics m WHERE m.model_id = lm.model_id AND m.metric_name = ? AND m.metric_value {} ?)",
                    c.op.as_str()
                ))
                .arg(k)
                .arg(n.parse::<f64>().unwrap_or(0.0));
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
        },
    }
    Ok(())
}

pub async fn search(store: &SqlStore, s: LoggedModelSearch) -> Result<Page<LoggedModel>> {
    if s.max_results < 1 || s.max_results > 50_000 {
        return Err(Error::invalid_param(format!(
            "Invalid value {} for parameter 'max_results' supplied.",
            s.max_results
        )));
    }
    let exp_ids = s
        .experiment_ids
        .iter()
        .map(|e| parse_experiment_id(e))
        .collect::<Result<Vec<_>>>()?;
    let filter = parse_logged_model_filter(&s.filter)?;
    let offset = page_token::decode_offset(s.page_token.as_deref())?;
    let d = store.dialect;
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
        compile(d, f, &mut sql)?;
    }
    sql.push(" ORDER BY ").push(&order_sql.join(", "));
    sql.push(" LIMIT ? OFFSET ?")
        .arg(s.max_results + 1)
        .arg(offset);
    let rows = fetch_all(&store.read, d, sql).await?;
    let mut infos = rows.iter().map(info_from_row).collect::<Result<Vec<_>>>()?;
    let next_page_token = if infos.len() as i64 > s.max_results {
        infos.truncate(s.max_results as usize);
        Some(page_token::encode_offset(offset + s.max_results))
    } else {
        None
    };
    Ok(Page {
        items: hydrate(store, infos).await?,
        next_page_token,
    })
}
