//! Run search: the filter AST compiled to SQL over `runs`, one page of run rows first,
//! then their data in batched queries (see `runs::hydrate`).
//!
//! The SQL here implements exactly the semantics of `ferroflow_core::search::runs::matches`
//! and `compare`; a property test holds the two together.

use ferroflow_core::entities::{Page, Run};
use ferroflow_core::search::runs::{
    DatasetField, RunAttr, RunFilter, RunKey, parse_run_filter, parse_run_order_by,
};
use ferroflow_core::search::{Cond, Expr, Op, Value};
use ferroflow_core::validation::parse_experiment_id;
use ferroflow_core::{Result, page_token};

use super::query::{Sql, compile_expr, string_cond};
use super::runs::{RUN_COLUMNS, hydrate_pooled, info_from_row};
use super::{Dialect, SqlStore};
use crate::RunSearch;

fn attr_expr(a: RunAttr) -> &'static str {
    match a {
        RunAttr::RunId => "r.run_uuid",
        RunAttr::RunName => "r.name",
        RunAttr::Status => "COALESCE(r.status, 'RUNNING')",
        RunAttr::StartTime => "COALESCE(r.start_time, 0)",
        RunAttr::EndTime => "r.end_time",
        RunAttr::ArtifactUri => "COALESCE(r.artifact_uri, '')",
        RunAttr::UserId => "COALESCE(r.user_id, '')",
    }
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Num(n) => n.parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

pub(super) fn compile(d: Dialect, f: &RunFilter, sql: &mut Sql) -> Result<()> {
    compile_expr(f, sql, &mut |c, sql| {
        match &c.key {
            RunKey::Metric(k) => {
                sql.push("EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_uuid = r.run_uuid AND m.key = ? AND ").arg(k);
                if c.op == Op::Ne {
                    sql.push("(m.is_nan = TRUE OR m.value != ?))")
                        .arg(num(&c.value));
                } else {
                    sql.push(&format!(
                        "m.is_nan = FALSE AND m.value {} ?)",
                        c.op.as_str()
                    ))
                    .arg(num(&c.value));
                }
            }
            RunKey::Param(k) | RunKey::Tag(k) => {
                let table = if matches!(c.key, RunKey::Param(_)) {
                    "params"
                } else {
                    "tags"
                };
                let exists = format!(
                    "EXISTS (SELECT 1 FROM {table} p WHERE p.run_uuid = r.run_uuid AND p.key = ?"
                );
                match c.op {
                    Op::IsNull => {
                        sql.push(&format!("NOT {exists})")).arg(k);
                    }
                    Op::IsNotNull => {
                        sql.push(&format!("{exists})")).arg(k);
                    }
                    _ => {
                        sql.push(&format!("{exists} AND ")).arg(k);
                        string_cond(d, "COALESCE(p.value, '')", c.op, &c.value, sql);
                        sql.push(")");
                    }
                }
            }
            RunKey::Attr(a) if a.is_numeric() => {
                sql.push(&format!("{} {} ?", attr_expr(*a), c.op.as_str()))
                    .arg(num(&c.value));
            }
            RunKey::Attr(a) => string_cond(d, attr_expr(*a), c.op, &c.value, sql),
            RunKey::Dataset(field) => {
                match field {
                    DatasetField::Name | DatasetField::Digest => {
                        sql.push(
                            "EXISTS (SELECT 1 FROM inputs i JOIN datasets ds ON ds.dataset_uuid = i.source_id \
                             WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id = r.run_uuid AND ",
                        );
                        let col = if *field == DatasetField::Name {
                            "ds.name"
                        } else {
                            "ds.digest"
                        };
                        string_cond(d, col, c.op, &c.value, sql);
                    }
                    DatasetField::Context => {
                        sql.push(
                            "EXISTS (SELECT 1 FROM inputs i JOIN input_tags it ON it.input_uuid = i.input_uuid \
                             WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id = r.run_uuid \
                             AND it.name = 'mlflow.data.context' AND ",
                        );
                        string_cond(d, "it.value", c.op, &c.value, sql);
                    }
                }
                sql.push(")");
            }
        };
        Ok(())
    })
}

/// The comparisons every result must satisfy: a lone comparison, or the comparison
/// members of a top-level AND, with their position in it.
fn required_conds(filter: Option<&RunFilter>) -> Vec<(usize, &Cond<RunKey>)> {
    match filter {
        Some(Expr::Cond(c)) => vec![(0, c)],
        Some(Expr::And(parts)) => parts
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                if let Expr::Cond(c) = p {
                    Some((i, c))
                } else {
                    None
                }
            })
            .collect(),
        _ => vec![],
    }
}

pub async fn search_runs(store: &SqlStore, s: RunSearch) -> Result<Page<Run>> {
    ferroflow_core::rules::validate_search_runs_max_results(s.max_results)?;
    let filter = parse_run_filter(&s.filter)?;
    let order = parse_run_order_by(&s.order_by)?;
    let offset = page_token::decode_offset(s.page_token.as_deref())?;
    let exp_ids = s
        .experiment_ids
        .iter()
        .map(|e| parse_experiment_id(e))
        .collect::<Result<Vec<_>>>()?;
    if exp_ids.is_empty() {
        return Ok(Page {
            items: Vec::new(),
            next_page_token: None,
        });
    }
    let d = store.dialect;

    let mut joins = Sql::default();
    let mut order_sql: Vec<String> = Vec::new();
    // A metric that the filter requires (a top-level AND of comparisons other than `!=`)
    // is present and not NaN in every result: its order-by join can be an inner join
    // with those comparisons pushed into it, which lets the database walk the
    // `(key, value)` index in order and stop at the page size.
    let required = required_conds(filter.as_ref());
    let pushable = |k: &str| -> Vec<usize> {
        required
            .iter()
            .filter(|(_, c)| matches!(&c.key, RunKey::Metric(m) if m == k) && c.op != Op::Ne)
            .map(|(i, _)| *i)
            .collect()
    };
    let mut pushed: Vec<usize> = Vec::new();
    for (i, o) in order.iter().enumerate() {
        let dir = if o.ascending { "ASC" } else { "DESC" };
        match &o.key {
            RunKey::Metric(k) if i == 0 && !pushable(k).is_empty() => {
                pushed = pushable(k);
                joins
                    .push(&format!(" JOIN latest_metrics o{i} ON o{i}.run_uuid = r.run_uuid AND o{i}.key = ? AND o{i}.is_nan = FALSE"))
                    .arg(k);
                for (_, c) in required.iter().filter(|(pi, _)| pushed.contains(pi)) {
                    joins
                        .push(&format!(" AND o{i}.value {} ?", c.op.as_str()))
                        .arg(num(&c.value));
                }
                order_sql.push(format!("o{i}.value {dir}"));
            }
            RunKey::Metric(k) => {
                joins.push(&format!(" LEFT JOIN latest_metrics o{i} ON o{i}.run_uuid = r.run_uuid AND o{i}.key = ?")).arg(k);
                order_sql.push(format!("CASE WHEN o{i}.run_uuid IS NULL THEN 2 WHEN o{i}.is_nan = TRUE THEN 1 ELSE 0 END ASC"));
                order_sql.push(format!("o{i}.value {dir}"));
            }
            RunKey::Param(k) | RunKey::Tag(k) => {
                let table = if matches!(o.key, RunKey::Param(_)) {
                    "params"
                } else {
                    "tags"
                };
                joins
                    .push(&format!(
                        " LEFT JOIN {table} o{i} ON o{i}.run_uuid = r.run_uuid AND o{i}.key = ?"
                    ))
                    .arg(k);
                order_sql.push(format!(
                    "CASE WHEN o{i}.run_uuid IS NULL THEN 1 ELSE 0 END ASC"
                ));
                order_sql.push(format!("COALESCE(o{i}.value, '') {dir}"));
            }
            RunKey::Attr(a) => {
                let e = attr_expr(*a);
                order_sql.push(format!("CASE WHEN {e} IS NULL THEN 1 ELSE 0 END ASC"));
                order_sql.push(format!("{e} {dir}"));
            }
            RunKey::Dataset(_) => {}
        }
    }
    if !order
        .iter()
        .any(|o| o.key == RunKey::Attr(RunAttr::StartTime))
    {
        order_sql.push(format!("{} DESC", attr_expr(RunAttr::StartTime)));
    }
    order_sql.push("r.run_uuid ASC".into());

    let mut sql = Sql::new(format!("SELECT {RUN_COLUMNS} FROM runs r"));
    sql.push_args(&joins.text, joins.args);
    sql.push(" WHERE r.experiment_id IN ").push_list(exp_ids);
    sql.push(" AND r.lifecycle_stage IN ")
        .push_list(s.view.stages().iter().map(|st| st.as_str()));
    // What was pushed into the join is not repeated here.
    let remaining = match filter.clone() {
        Some(Expr::Cond(_)) if !pushed.is_empty() => None,
        Some(Expr::And(parts)) if !pushed.is_empty() => {
            let rest: Vec<RunFilter> = parts
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !pushed.contains(i))
                .map(|(_, p)| p)
                .collect();
            (!rest.is_empty()).then_some(Expr::And(rest))
        }
        other => other,
    };
    if let Some(f) = &remaining {
        sql.push(" AND ");
        compile(d, f, &mut sql)?;
    }
    sql.push_page(&order_sql, s.max_results, offset);
    let page = store
        .read_page(sql, s.max_results, offset, info_from_row, |_, infos| {
            Ok(infos)
        })
        .await?;
    Ok(Page {
        items: hydrate_pooled(&store.read, page.items).await?,
        next_page_token: page.next_page_token,
    })
}
