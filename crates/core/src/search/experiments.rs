//! The experiment search domain.

use std::cmp::Ordering;

use super::ast::{Cond, Expr, Op, OrderBy, RawKey, Value};
use super::like::{ilike, like};
use super::{bind_order_by, check_comparator, parse_and_bind, py_set};
use crate::entities::Experiment;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExperimentAttr {
    ExperimentId,
    Name,
    CreationTime,
    LastUpdateTime,
}

impl ExperimentAttr {
    pub fn column(self) -> &'static str {
        match self {
            ExperimentAttr::ExperimentId => "experiment_id",
            ExperimentAttr::Name => "name",
            ExperimentAttr::CreationTime => "creation_time",
            ExperimentAttr::LastUpdateTime => "last_update_time",
        }
    }
    pub fn is_numeric(self) -> bool {
        !matches!(self, ExperimentAttr::Name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExperimentKey {
    Attr(ExperimentAttr),
    Tag(String),
}

pub type ExperimentFilter = Expr<ExperimentKey>;

const VALID_KEYS: &[&str] = &["experiment_id", "name", "creation_time", "last_update_time"];

fn bind_key(raw: &RawKey) -> Result<ExperimentKey> {
    let entity = raw.entity.as_deref().map(str::to_ascii_lowercase);
    match entity.as_deref() {
        Some("tag" | "tags") => Ok(ExperimentKey::Tag(raw.key.clone())),
        None | Some("attribute") => Ok(ExperimentKey::Attr(match raw.key.as_str() {
            "experiment_id" => ExperimentAttr::ExperimentId,
            "name" => ExperimentAttr::Name,
            "creation_time" => ExperimentAttr::CreationTime,
            "last_update_time" => ExperimentAttr::LastUpdateTime,
            other => {
                return Err(Error::invalid_param(format!(
                    "Invalid attribute key '{other}' specified. Valid keys are '{}'",
                    py_set(VALID_KEYS)
                )));
            }
        })),
        Some(_) => Err(Error::invalid_param(format!(
            "Invalid entity type '{}'. Valid entity types are ('attribute', 'tag', 'tags')",
            raw.entity.as_deref().unwrap_or_default()
        ))),
    }
}

/// Binds one comparison with MLflow's checks, in its order: the key, `IS NULL`'s reach,
/// the value's type, then the comparator.
fn bind_cond(c: Cond<RawKey>) -> Result<Cond<ExperimentKey>> {
    let key = bind_key(&c.key)?;
    let v = c.value.describe();
    if matches!(c.op, Op::IsNull | Op::IsNotNull) && !matches!(key, ExperimentKey::Tag(_)) {
        return Err(Error::invalid_param(format!(
            "IS NULL / IS NOT NULL is only supported for tags, not for attribute '{}'",
            c.key.key
        )));
    }
    match key {
        ExperimentKey::Attr(a) if a.is_numeric() && a != ExperimentAttr::ExperimentId => {
            if !matches!(c.value, Value::Num(_)) {
                return Err(Error::invalid_param(format!(
                    "Expected numeric value type for numeric attribute: {}. Found {v}",
                    c.key.key
                )));
            }
            check_comparator(c.op, Op::NUMERIC)?;
            if !matches!(&c.value, Value::Num(n) if n.parse::<i64>().is_ok()) {
                return Err(Error::invalid_param(format!(
                    "Invalid value for numeric attribute '{}': '{v}'",
                    c.key.key
                )));
            }
        }
        ExperimentKey::Attr(a) => {
            match &c.value {
                Value::Str(_) => {}
                Value::List(_) if a == ExperimentAttr::ExperimentId => {}
                Value::List(_) => {
                    return Err(Error::invalid_param(
                        "Only ['experiment_id'] attributes support comparison with a list of quoted string values.",
                    ));
                }
                _ => {
                    return Err(Error::invalid_param(format!(
                        "Expected a quoted string value for attributes. Got value {v}"
                    )));
                }
            }
            check_comparator(c.op, Op::STRING)?;
            if a == ExperimentAttr::ExperimentId {
                let ids: Vec<&str> = match &c.value {
                    Value::Str(s) => vec![s.as_str()],
                    Value::List(l) => l.iter().map(String::as_str).collect(),
                    _ => vec![],
                };
                for id in ids {
                    crate::validation::parse_experiment_id(id)?;
                }
            }
        }
        ExperimentKey::Tag(_) => {
            if !matches!(c.value, Value::Str(_) | Value::None) {
                return Err(Error::invalid_param(format!(
                    "Expected a quoted string value for tag (e.g. 'my-value'). Got value {v}"
                )));
            }
            if !Op::KEYED_STRING.contains(&c.op) {
                return Err(Error::invalid_param(format!(
                    "Invalid comparator for tag: {}",
                    c.op.as_str()
                )));
            }
        }
    }
    Ok(Cond {
        key,
        op: c.op,
        value: c.value,
    })
}

pub fn parse_experiment_filter(filter: &str) -> Result<Option<ExperimentFilter>> {
    parse_and_bind(filter, bind_cond)
}

/// Order-by for experiments; the default is `creation_time DESC, experiment_id ASC`.
pub fn parse_experiment_order_by(clauses: &[String]) -> Result<Vec<OrderBy<ExperimentKey>>> {
    bind_order_by(clauses, |raw| match bind_key(raw)? {
        ExperimentKey::Tag(_) => Err(Error::invalid_param(format!(
            "Invalid order_by entity: tags. Experiments can be ordered by experiment_id, name, creation_time, last_update_time; got '{}'",
            raw.key
        ))),
        k => Ok(k),
    })
}

fn text_cmp(op: Op, lhs: &str, v: &Value) -> bool {
    match (op, v) {
        (Op::Eq, Value::Str(s)) => lhs == s,
        (Op::Ne, Value::Str(s)) => lhs != s,
        (Op::Like, Value::Str(s)) => like(lhs, s),
        (Op::ILike, Value::Str(s)) => ilike(lhs, s),
        (Op::In, Value::List(l)) => l.iter().any(|s| s == lhs),
        (Op::NotIn, Value::List(l)) => !l.iter().any(|s| s == lhs),
        _ => false,
    }
}

pub fn matches(filter: &ExperimentFilter, e: &Experiment) -> bool {
    filter.eval(&mut |c| match &c.key {
        ExperimentKey::Tag(k) => {
            let tag = e
                .tags
                .iter()
                .find(|t| &t.key == k)
                .map(|t| t.value.as_str());
            match (c.op, tag) {
                (Op::IsNull, t) => t.is_none(),
                (Op::IsNotNull, t) => t.is_some(),
                (_, None) => false,
                (op, Some(t)) => text_cmp(op, t, &c.value),
            }
        }
        ExperimentKey::Attr(ExperimentAttr::Name) => text_cmp(c.op, &e.name, &c.value),
        ExperimentKey::Attr(ExperimentAttr::ExperimentId) => {
            let norm = |s: &str| s.trim().parse::<i64>().ok();
            let id = norm(&e.experiment_id);
            match &c.value {
                Value::Str(s) | Value::Num(s) => (id == norm(s)) == (c.op == Op::Eq),
                Value::List(l) => l.iter().any(|s| norm(s) == id) == (c.op == Op::In),
                Value::None => false,
            }
        }
        ExperimentKey::Attr(a) => {
            let v = if a == &ExperimentAttr::CreationTime {
                e.creation_time
            } else {
                e.last_update_time
            };
            let Value::Num(n) = &c.value else {
                return false;
            };
            let (Some(v), Ok(n)) = (v, n.parse::<i64>()) else {
                return false;
            };
            match c.op {
                Op::Eq => v == n,
                Op::Ne => v != n,
                Op::Lt => v < n,
                Op::Le => v <= n,
                Op::Gt => v > n,
                Op::Ge => v >= n,
                _ => false,
            }
        }
    })
}

pub fn compare(order: &[OrderBy<ExperimentKey>], a: &Experiment, b: &Experiment) -> Ordering {
    let id = |e: &Experiment| e.experiment_id.parse::<i64>().unwrap_or(0);
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
        order
    };
    for o in order {
        let ord = match &o.key {
            ExperimentKey::Attr(ExperimentAttr::Name) => a.name.cmp(&b.name),
            ExperimentKey::Attr(ExperimentAttr::ExperimentId) => id(a).cmp(&id(b)),
            ExperimentKey::Attr(ExperimentAttr::CreationTime) => {
                a.creation_time.cmp(&b.creation_time)
            }
            ExperimentKey::Attr(ExperimentAttr::LastUpdateTime) => {
                a.last_update_time.cmp(&b.last_update_time)
            }
            ExperimentKey::Tag(_) => Ordering::Equal,
        };
        let ord = if o.ascending { ord } else { ord.reverse() };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    id(a).cmp(&id(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn experiment_filters() {
        assert!(
            parse_experiment_filter("name LIKE 'wine%' AND tags.team = 'a'")
                .unwrap()
                .is_some()
        );
        assert!(parse_experiment_filter("creation_time > 5").is_ok());
        assert!(parse_experiment_filter("experiment_id IN ('1', '2')").is_ok());
        assert!(parse_experiment_filter("experiment_id = 'abc'").is_err());
        assert!(parse_experiment_filter("lifecycle_stage = 'active'").is_err());
        assert!(parse_experiment_filter("creation_time > 'x'").is_err());
        assert!(parse_experiment_order_by(&["name DESC".into()]).is_ok());
        assert!(parse_experiment_order_by(&["tags.x".into()]).is_err());
    }
}
