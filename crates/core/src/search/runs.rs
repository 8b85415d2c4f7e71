//! The run search domain: which keys a filter may name, how it orders, and the
//! in-memory evaluation that every store must agree with.

use std::cmp::Ordering;

use super::ast::{Cond, Expr, Op, OrderBy, RawKey, Value};
use super::like::{ilike, like};
use super::{bind_order_by, check_comparator, parse_and_bind, py_set};
use crate::entities::Run;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunAttr {
    RunId,
    RunName,
    Status,
    StartTime,
    EndTime,
    ArtifactUri,
    UserId,
}

impl RunAttr {
    pub fn is_numeric(self) -> bool {
        matches!(self, RunAttr::StartTime | RunAttr::EndTime)
    }
    /// The `runs` column this attribute lives in.
    pub fn column(self) -> &'static str {
        match self {
            RunAttr::RunId => "run_uuid",
            RunAttr::RunName => "name",
            RunAttr::Status => "status",
            RunAttr::StartTime => "start_time",
            RunAttr::EndTime => "end_time",
            RunAttr::ArtifactUri => "artifact_uri",
            RunAttr::UserId => "user_id",
        }
    }
    fn parse(key: &str) -> Option<RunAttr> {
        Some(match key {
            "run_id" | "run_uuid" => RunAttr::RunId,
            "run_name" | "run name" | "Run name" | "Run Name" => RunAttr::RunName,
            "status" => RunAttr::Status,
            "start_time" | "created" | "Created" => RunAttr::StartTime,
            "end_time" => RunAttr::EndTime,
            "artifact_uri" => RunAttr::ArtifactUri,
            "user_id" => RunAttr::UserId,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetField {
    Name,
    Digest,
    Context,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RunKey {
    Metric(String),
    Param(String),
    Tag(String),
    Attr(RunAttr),
    Dataset(DatasetField),
}

pub type RunFilter = Expr<RunKey>;

const VALID_ATTRS: &[&str] = &[
    "run_id",
    "run_name",
    "Run name",
    "Run Name",
    "run name",
    "status",
    "start_time",
    "created",
    "Created",
    "end_time",
    "artifact_uri",
    "user_id",
];
const VALID_ENTITIES: &str = "['metric', 'parameter', 'tag', 'attribute', 'dataset']";

fn bind_key(raw: &RawKey) -> Result<RunKey> {
    let entity = raw.entity.as_deref().map(str::to_ascii_lowercase);
    let key = raw.key.clone();
    Ok(match entity.as_deref() {
        Some("metric" | "metrics") => RunKey::Metric(key),
        Some("param" | "params" | "parameter" | "parameters") => RunKey::Param(key),
        Some("tag" | "tags") => RunKey::Tag(key),
        Some("dataset" | "datasets") => RunKey::Dataset(match key.as_str() {
            "name" => DatasetField::Name,
            "digest" => DatasetField::Digest,
            "context" => DatasetField::Context,
            _ => {
                return Err(Error::invalid_param(format!(
                    "Invalid dataset key '{key}' specified. Valid keys are '{}'",
                    py_set(&["name", "digest", "context"])
                )));
            }
        }),
        None | Some("attribute" | "attributes" | "attr" | "run") => {
            RunKey::Attr(RunAttr::parse(&key).ok_or_else(|| {
                Error::invalid_param(format!(
                    "Invalid attribute key '{key}' specified. Valid keys are '{}'",
                    py_set(VALID_ATTRS)
                ))
            })?)
        }
        Some(_) => {
            return Err(Error::invalid_param(format!(
                "Invalid entity type '{}'. Valid values are {VALID_ENTITIES}",
                raw.entity.as_deref().unwrap_or_default()
            )));
        }
    })
}

/// Binds one comparison, checking what MLflow checks in its order: the key, `IS NULL`'s
/// reach, the value's type, then the comparator.
fn bind_cond(c: Cond<RawKey>) -> Result<Cond<RunKey>> {
    let key = bind_key(&c.key)?;
    let kind = match &key {
        RunKey::Metric(_) => "metric",
        RunKey::Param(_) => "parameter",
        RunKey::Tag(_) => "tag",
        RunKey::Attr(_) => "attribute",
        RunKey::Dataset(_) => "dataset",
    };
    if matches!(c.op, Op::IsNull | Op::IsNotNull)
        && !matches!(key, RunKey::Param(_) | RunKey::Tag(_))
    {
        return Err(Error::invalid_param(format!(
            "IS NULL / IS NOT NULL is only supported for tags and params, not for '{kind}' '{}'",
            c.key.key
        )));
    }
    let v = c.value.describe();
    let is_null = matches!(c.value, Value::None);
    match &key {
        RunKey::Metric(_) => {
            if !matches!(c.value, Value::Num(_)) {
                return Err(Error::invalid_param(format!(
                    "Expected numeric value type for metric. Found {v}"
                )));
            }
            check_comparator(c.op, Op::NUMERIC)?;
        }
        RunKey::Attr(a) if a.is_numeric() => {
            if !matches!(c.value, Value::Num(_)) {
                return Err(Error::invalid_param(format!(
                    "Expected numeric value type for numeric attribute: {}. Found {v}",
                    c.key.key
                )));
            }
            check_comparator(c.op, Op::NUMERIC)?;
            let n = number(&c.value)?;
            if n.fract() != 0.0 {
                return Err(Error::invalid_param(format!(
                    "Expected an integer value for numeric attribute: {}. Found {v}",
                    c.key.key
                )));
            }
        }
        RunKey::Param(_) | RunKey::Tag(_) => {
            if !is_null && !matches!(c.value, Value::Str(_)) {
                return Err(Error::invalid_param(format!(
                    "Expected a quoted string value for {kind} (e.g. 'my-value'). Got value {v}"
                )));
            }
            check_comparator(c.op, Op::KEYED_STRING)?;
        }
        RunKey::Attr(a) => {
            match &c.value {
                Value::Str(_) => {}
                Value::List(_) if *a == RunAttr::RunId => {}
                Value::List(_) => {
                    return Err(Error::invalid_param(
                        "Only ['run_id'] attributes support comparison with a list of quoted string values.",
                    ));
                }
                _ => {
                    return Err(Error::invalid_param(format!(
                        "Expected a quoted string value for attributes. Got value {v}"
                    )));
                }
            }
            check_comparator(c.op, Op::STRING)?;
        }
        RunKey::Dataset(_) => {
            if !matches!(c.value, Value::Str(_) | Value::List(_)) {
                return Err(Error::invalid_param(format!(
                    "Expected a quoted string value for dataset attributes. Got value {v}"
                )));
            }
            check_comparator(c.op, Op::STRING)?;
        }
    }
    Ok(Cond {
        key,
        op: c.op,
        value: c.value,
    })
}

fn number(v: &Value) -> Result<f64> {
    match v {
        Value::Num(n) => n.parse::<f64>().map_err(|_| {
            Error::invalid_param(format!("Expected numeric value type for metric. Found {n}"))
        }),
        other => Err(Error::invalid_param(format!(
            "Expected numeric value type for metric. Found {}",
            other.describe()
        ))),
    }
}

/// Parses and validates a run filter; `None` when the filter is empty.
pub fn parse_run_filter(filter: &str) -> Result<Option<RunFilter>> {
    parse_and_bind(filter, bind_cond)
}

/// Parses and validates run `order_by` clauses, rejecting duplicates.
pub fn parse_run_order_by(clauses: &[String]) -> Result<Vec<OrderBy<RunKey>>> {
    bind_order_by(clauses, |raw| {
        let key = bind_key(raw)?;
        if let RunKey::Dataset(_) = key {
            return Err(Error::invalid_param(
                "Ordering by dataset fields is not supported",
            ));
        }
        Ok(key)
    })
}

// ---- in-memory evaluation: the reference semantics every store implements ----

/// A numeric comparison as the SQL stores run it.
pub fn num_cmp(op: Op, lhs: f64, rhs: f64) -> bool {
    match op {
        Op::Eq => lhs == rhs,
        Op::Ne => lhs != rhs,
        Op::Lt => lhs < rhs,
        Op::Le => lhs <= rhs,
        Op::Gt => lhs > rhs,
        Op::Ge => lhs >= rhs,
        _ => false,
    }
}

/// A string comparison as the SQL stores run it (`LIKE` case-sensitive, `ILIKE` not).
pub fn str_cmp(op: Op, lhs: &str, v: &Value) -> bool {
    match (op, v) {
        (Op::Eq, Value::Str(s)) => lhs == s,
        (Op::Ne, Value::Str(s)) => lhs != s,
        (Op::Like, Value::Str(s)) => like(lhs, s),
        (Op::ILike, Value::Str(s)) => ilike(lhs, s),
        (Op::In, Value::List(l)) => l.iter().any(|s| s == lhs),
        (Op::NotIn, Value::List(l)) => !l.iter().any(|s| s == lhs),
        (Op::Lt, Value::Str(s)) => lhs < s.as_str(),
        (Op::Le, Value::Str(s)) => lhs <= s.as_str(),
        (Op::Gt, Value::Str(s)) => lhs > s.as_str(),
        (Op::Ge, Value::Str(s)) => lhs >= s.as_str(),
        _ => false,
    }
}

fn keyed(op: Op, present: Option<&str>, v: &Value) -> bool {
    match (op, present) {
        (Op::IsNull, p) => p.is_none(),
        (Op::IsNotNull, p) => p.is_some(),
        (_, None) => false,
        (_, Some(s)) => str_cmp(op, s, v),
    }
}

/// Does `run` satisfy comparison `c`? Metrics compare their latest value; a NaN metric
/// only satisfies `!=`; a run without the named metric, param or tag satisfies nothing
/// but `IS NULL`.
pub fn matches_cond(c: &Cond<RunKey>, run: &Run) -> bool {
    match &c.key {
        RunKey::Metric(k) => match (run.metric(k), &c.value) {
            (Some(m), Value::Num(n)) => num_cmp(c.op, m.value, n.parse().unwrap_or(f64::NAN)),
            _ => false,
        },
        RunKey::Param(k) => keyed(c.op, run.param(k), &c.value),
        RunKey::Tag(k) => keyed(c.op, run.tag(k), &c.value),
        RunKey::Attr(a) => {
            let info = &run.info;
            match a {
                RunAttr::StartTime => num_val(c, Some(info.start_time)),
                RunAttr::EndTime => num_val(c, info.end_time),
                RunAttr::RunId => str_cmp(c.op, &info.run_id, &c.value),
                RunAttr::RunName => info
                    .run_name
                    .as_deref()
                    .is_some_and(|n| str_cmp(c.op, n, &c.value)),
                RunAttr::Status => str_cmp(c.op, info.status.as_str(), &c.value),
                RunAttr::ArtifactUri => str_cmp(c.op, &info.artifact_uri, &c.value),
                RunAttr::UserId => str_cmp(c.op, &info.user_id, &c.value),
            }
        }
        RunKey::Dataset(f) => run.inputs.dataset_inputs.iter().any(|d| {
            let field = match f {
                DatasetField::Name => Some(d.dataset.name.as_str()),
                DatasetField::Digest => Some(d.dataset.digest.as_str()),
                DatasetField::Context => d
                    .tags
                    .iter()
                    .find(|t| t.key == "mlflow.data.context")
                    .map(|t| t.value.as_str()),
            };
            field.is_some_and(|v| str_cmp(c.op, v, &c.value))
        }),
    }
}

fn num_val(c: &Cond<RunKey>, v: Option<i64>) -> bool {
    match (v, &c.value) {
        (Some(v), Value::Num(n)) => num_cmp(c.op, v as f64, n.parse().unwrap_or(f64::NAN)),
        _ => false,
    }
}

pub fn matches(filter: &RunFilter, run: &Run) -> bool {
    filter.eval(&mut |c| matches_cond(c, run))
}

/// A sort value: present values first (NaN metrics after numbers), missing last.
#[derive(Debug, PartialEq, PartialOrd)]
enum SortVal<'a> {
    Num(f64),
    Str(&'a str),
}

fn sort_value<'a>(key: &RunKey, run: &'a Run) -> (u8, Option<SortVal<'a>>) {
    match key {
        RunKey::Metric(k) => match run.metric(k) {
            Some(m) if m.value.is_nan() => (1, None),
            Some(m) => (0, Some(SortVal::Num(m.value))),
            None => (2, None),
        },
        RunKey::Param(k) => run
            .param(k)
            .map_or((1, None), |v| (0, Some(SortVal::Str(v)))),
        RunKey::Tag(k) => run.tag(k).map_or((1, None), |v| (0, Some(SortVal::Str(v)))),
        RunKey::Attr(a) => {
            let i = &run.info;
            match a {
                RunAttr::StartTime => (0, Some(SortVal::Num(i.start_time as f64))),
                RunAttr::EndTime => i
                    .end_time
                    .map_or((1, None), |t| (0, Some(SortVal::Num(t as f64)))),
                RunAttr::RunId => (0, Some(SortVal::Str(&i.run_id))),
                RunAttr::RunName => i
                    .run_name
                    .as_deref()
                    .map_or((1, None), |n| (0, Some(SortVal::Str(n)))),
                RunAttr::Status => (0, Some(SortVal::Str(i.status.as_str()))),
                RunAttr::ArtifactUri => (0, Some(SortVal::Str(&i.artifact_uri))),
                RunAttr::UserId => (0, Some(SortVal::Str(&i.user_id))),
            }
        }
        RunKey::Dataset(_) => (1, None),
    }
}

/// The total order of run search: each `order_by` key (missing values last whatever the
/// direction), then `start_time` descending unless ordered already, then run id ascending.
pub fn compare(order: &[OrderBy<RunKey>], a: &Run, b: &Run) -> Ordering {
    for o in order {
        let (ra, va) = sort_value(&o.key, a);
        let (rb, vb) = sort_value(&o.key, b);
        let by_rank = ra.cmp(&rb);
        if by_rank != Ordering::Equal {
            return by_rank;
        }
        let by_val = va.partial_cmp(&vb).unwrap_or(Ordering::Equal);
        let by_val = if o.ascending {
            by_val
        } else {
            by_val.reverse()
        };
        if by_val != Ordering::Equal {
            return by_val;
        }
    }
    if !order
        .iter()
        .any(|o| o.key == RunKey::Attr(RunAttr::StartTime))
    {
        let t = b.info.start_time.cmp(&a.info.start_time);
        if t != Ordering::Equal {
            return t;
        }
    }
    a.info.run_id.cmp(&b.info.run_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_mlflow_keys() {
        let f = parse_run_filter("metrics.rmse < 1 and params.alpha = '0.5' and attributes.run_name LIKE 'x%' and datasets.context = 'training'").unwrap().unwrap();
        let keys: Vec<_> = f.conds().into_iter().map(|c| c.key.clone()).collect();
        assert_eq!(
            keys,
            vec![
                RunKey::Metric("rmse".into()),
                RunKey::Param("alpha".into()),
                RunKey::Attr(RunAttr::RunName),
                RunKey::Dataset(DatasetField::Context)
            ]
        );
        assert!(parse_run_filter("created > 5").is_ok());
        assert!(parse_run_filter("attributes.`Run name` = 'x'").is_ok());
    }

    #[test]
    fn rejects_what_mlflow_rejects() {
        for bad in [
            "metrics.rmse = 'x'",
            "params.a = 1",
            "metrics.a IS NULL",
            "attributes.end_time IS NULL",
            "attributes.lifecycle_stage = 'x'",
            "foo.bar = 'x'",
            "metrics.a LIKE '1'",
            "attributes.start_time > 1.5",
            "datasets.size = 'x'",
        ] {
            assert!(parse_run_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn order_by_rejects_duplicates() {
        assert!(parse_run_order_by(&["metrics.a".into(), "metrics.a DESC".into()]).is_err());
        assert_eq!(
            parse_run_order_by(&["start_time DESC".into()]).unwrap()[0].key,
            RunKey::Attr(RunAttr::StartTime)
        );
    }
}
