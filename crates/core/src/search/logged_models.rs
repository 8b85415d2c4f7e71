//! The logged-model search domain (`logged-models/search`).

use super::ast::{Cond, Expr, Op, RawKey, Value};
use super::{check_op, parse_and_bind};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoggedModelAttr {
    Name,
    ModelId,
    ModelType,
    Status,
    SourceRunId,
    CreationTimestamp,
    LastUpdatedTimestamp,
}

impl LoggedModelAttr {
    pub fn column(self) -> &'static str {
        match self {
            LoggedModelAttr::Name => "name",
            LoggedModelAttr::ModelId => "model_id",
            LoggedModelAttr::ModelType => "model_type",
            LoggedModelAttr::Status => "status",
            LoggedModelAttr::SourceRunId => "source_run_id",
            LoggedModelAttr::CreationTimestamp => "creation_timestamp_ms",
            LoggedModelAttr::LastUpdatedTimestamp => "last_updated_timestamp_ms",
        }
    }
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            LoggedModelAttr::CreationTimestamp | LoggedModelAttr::LastUpdatedTimestamp
        )
    }
    pub fn parse(key: &str) -> Option<Self> {
        Some(match key {
            "name" => LoggedModelAttr::Name,
            "model_id" => LoggedModelAttr::ModelId,
            "model_type" => LoggedModelAttr::ModelType,
            "status" => LoggedModelAttr::Status,
            "source_run_id" => LoggedModelAttr::SourceRunId,
            "creation_timestamp" | "creation_time" | "creation_timestamp_ms" => {
                LoggedModelAttr::CreationTimestamp
            }
            "last_updated_timestamp" | "last_updated_time" | "last_updated_timestamp_ms" => {
                LoggedModelAttr::LastUpdatedTimestamp
            }
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LoggedModelKey {
    Attr(LoggedModelAttr),
    Metric(String),
    Param(String),
    Tag(String),
}

pub type LoggedModelFilter = Expr<LoggedModelKey>;

fn bind_key(raw: &RawKey) -> Result<LoggedModelKey> {
    let entity = raw.entity.as_deref().map(str::to_ascii_lowercase);
    Ok(match entity.as_deref() {
        Some("metric" | "metrics") => LoggedModelKey::Metric(raw.key.clone()),
        Some("param" | "params" | "parameter" | "parameters") => LoggedModelKey::Param(raw.key.clone()),
        Some("tag" | "tags") => LoggedModelKey::Tag(raw.key.clone()),
        None | Some("attribute" | "attributes" | "attr") => {
            LoggedModelKey::Attr(LoggedModelAttr::parse(&raw.key).ok_or_else(|| {
                Error::invalid_param(format!(
                    "Invalid attribute key '{}' specified. Valid keys are name, model_id, model_type, status, source_run_id, creation_timestamp, last_updated_timestamp",
                    raw.key
                ))
            })?)
        }
        Some(other) => {
            return Err(Error::invalid_param(format!(
                "Invalid entity type '{other}'. Valid values are metrics, params, tags, attributes"
            )));
        }
    })
}

fn bind_cond(c: Cond<RawKey>) -> Result<Cond<LoggedModelKey>> {
    let key = bind_key(&c.key)?;
    let what = format!("'{}'", c.key.key);
    let numeric = matches!(&key, LoggedModelKey::Metric(_))
        || matches!(&key, LoggedModelKey::Attr(a) if a.is_numeric());
    if numeric {
        check_op(&what, c.op, Op::NUMERIC)?;
        if !matches!(&c.value, Value::Num(n) if n.parse::<f64>().is_ok()) {
            return Err(Error::invalid_param(format!(
                "Expected numeric value type for {what}. Found {}",
                c.value.describe()
            )));
        }
    } else {
        check_op(
            &what,
            c.op,
            &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::In, Op::NotIn],
        )?;
        if !matches!(
            (&c.op, &c.value),
            (Op::In | Op::NotIn, Value::List(_)) | (_, Value::Str(_))
        ) {
            return Err(Error::invalid_param(format!(
                "Expected a quoted string value for {what}. Got value {}",
                c.value.describe()
            )));
        }
    }
    Ok(Cond {
        key,
        op: c.op,
        value: c.value,
    })
}

pub fn parse_logged_model_filter(filter: &str) -> Result<Option<LoggedModelFilter>> {
    parse_and_bind(filter, bind_cond)
}

/// Binds a structured order-by field name (`name`, `creation_timestamp`, `metrics.x`, ...).
pub fn bind_logged_model_order_field(field: &str) -> Result<LoggedModelKey> {
    let raw = match field.split_once('.') {
        Some((e, k)) => RawKey {
            entity: Some(e.into()),
            key: k.into(),
        },
        None => RawKey {
            entity: None,
            key: field.into(),
        },
    };
    bind_key(&raw)
}

// ---- in-memory evaluation: what the SQL store's queries compute ----

/// Whether a metric point was logged on one of `datasets` (any point when empty).
pub fn on_datasets(m: &crate::entities::Metric, datasets: &[(String, Option<String>)]) -> bool {
    datasets.is_empty()
        || datasets.iter().any(|(name, digest)| {
            m.dataset_name.as_deref() == Some(name.as_str())
                && m.dataset_digest.as_deref() == digest.as_deref()
        })
}

/// Does `m` satisfy `f`? Metric conditions hold when one of its points (on `datasets`,
/// when given) satisfies them.
pub fn matches(
    f: &LoggedModelFilter,
    m: &crate::entities::LoggedModel,
    datasets: &[(String, Option<String>)],
) -> bool {
    use super::runs::str_cmp;
    let i = &m.info;
    f.eval(&mut |c| {
        let num = |v: f64| match &c.value {
            Value::Num(n) => super::runs::num_cmp(c.op, v, n.parse().unwrap_or(0.0)),
            _ => false,
        };
        match &c.key {
            LoggedModelKey::Attr(LoggedModelAttr::CreationTimestamp) => {
                num(i.creation_timestamp_ms as f64)
            }
            LoggedModelKey::Attr(LoggedModelAttr::LastUpdatedTimestamp) => {
                num(i.last_updated_timestamp_ms as f64)
            }
            LoggedModelKey::Attr(LoggedModelAttr::Status) => {
                str_cmp(c.op, i.status.as_str(), &c.value)
            }
            LoggedModelKey::Attr(a) => {
                let v = match a {
                    LoggedModelAttr::Name => i.name.as_str(),
                    LoggedModelAttr::ModelId => i.model_id.as_str(),
                    LoggedModelAttr::ModelType => i.model_type.as_str(),
                    _ => i.source_run_id.as_deref().unwrap_or(""),
                };
                str_cmp(c.op, v, &c.value)
            }
            LoggedModelKey::Metric(k) => m.data.metrics.iter().any(|p| {
                &p.key == k && on_datasets(p, datasets) && !p.value.is_nan() && num(p.value)
            }),
            LoggedModelKey::Param(k) => m
                .data
                .params
                .iter()
                .any(|p| &p.key == k && str_cmp(c.op, &p.value, &c.value)),
            LoggedModelKey::Tag(k) => i
                .tags
                .iter()
                .any(|t| &t.key == k && str_cmp(c.op, &t.value, &c.value)),
        }
    })
}
