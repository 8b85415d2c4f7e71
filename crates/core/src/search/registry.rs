//! The registry's search domains: registered models and model versions.

use super::ast::{Cond, Expr, Op, OrderBy, RawKey, Value};
use super::runs::str_cmp;
use super::{bind_order_by, check_op, parse_and_bind};
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegisteredModelKey {
    Name,
    Tag(String),
}

/// Registered models order by name or time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegisteredModelOrder {
    Name,
    CreationTimestamp,
    LastUpdatedTimestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ModelVersionKey {
    Name,
    VersionNumber,
    RunId,
    SourcePath,
    Tag(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelVersionOrder {
    Name,
    VersionNumber,
    CreationTimestamp,
    LastUpdatedTimestamp,
}

fn entity(raw: &RawKey) -> Option<String> {
    raw.entity.as_deref().map(str::to_ascii_lowercase)
}

fn string_value(what: &str, c: &Cond<RawKey>) -> Result<()> {
    match (&c.op, &c.value) {
        (Op::In | Op::NotIn, Value::List(_)) | (_, Value::Str(_)) => Ok(()),
        (_, v) => Err(Error::invalid_param(format!(
            "Expected a quoted string value for {what} (e.g. 'my-value'). Got value {}",
            v.describe()
        ))),
    }
}

fn bind_model_cond(c: Cond<RawKey>) -> Result<Cond<RegisteredModelKey>> {
    let key = match entity(&c.key).as_deref() {
        Some("tag" | "tags") => RegisteredModelKey::Tag(c.key.key.clone()),
        None | Some("attribute" | "attributes" | "attr") if c.key.key == "name" => {
            RegisteredModelKey::Name
        }
        _ => {
            return Err(Error::invalid_param(format!(
                "Invalid attribute key '{}' specified. Registered models can be filtered by name and tags.<key>",
                c.key.key
            )));
        }
    };
    let what = format!("'{}'", c.key.key);
    match key {
        RegisteredModelKey::Name => check_op(
            &what,
            c.op,
            &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::In, Op::NotIn],
        )?,
        RegisteredModelKey::Tag(_) => {
            check_op(&what, c.op, &[Op::Eq, Op::Ne, Op::Like, Op::ILike])?
        }
    }
    string_value(&what, &c)?;
    Ok(Cond {
        key,
        op: c.op,
        value: c.value,
    })
}

fn bind_version_cond(c: Cond<RawKey>) -> Result<Cond<ModelVersionKey>> {
    let key = match entity(&c.key).as_deref() {
        Some("tag" | "tags") => ModelVersionKey::Tag(c.key.key.clone()),
        None | Some("attribute" | "attributes" | "attr") => match c.key.key.as_str() {
            "name" => ModelVersionKey::Name,
            "version_number" => ModelVersionKey::VersionNumber,
            "run_id" => ModelVersionKey::RunId,
            "source_path" => ModelVersionKey::SourcePath,
            other => {
                return Err(Error::invalid_param(format!(
                    "Invalid attribute key '{other}' specified. Valid keys are name, version_number, run_id, source_path and tags.<key>"
                )));
            }
        },
        Some(other) => {
            return Err(Error::invalid_param(format!(
                "Invalid entity type '{other}'. Valid values are attributes and tags"
            )));
        }
    };
    let what = format!("'{}'", c.key.key);
    match key {
        ModelVersionKey::VersionNumber => {
            check_op(
                &what,
                c.op,
                &[
                    Op::Eq,
                    Op::Ne,
                    Op::Lt,
                    Op::Le,
                    Op::Gt,
                    Op::Ge,
                    Op::In,
                    Op::NotIn,
                ],
            )?;
            let numbers: Vec<&String> = match &c.value {
                Value::Num(n) | Value::Str(n) => vec![n],
                Value::List(l) => l.iter().collect(),
                Value::None => vec![],
            };
            if numbers.is_empty() || numbers.iter().any(|n| n.parse::<i64>().is_err()) {
                return Err(Error::invalid_param(format!(
                    "Expected an integer version number for {what}. Got {}",
                    c.value.describe()
                )));
            }
        }
        ModelVersionKey::Tag(_) => {
            check_op(&what, c.op, &[Op::Eq, Op::Ne, Op::Like, Op::ILike])?;
            string_value(&what, &c)?;
        }
        _ => {
            check_op(
                &what,
                c.op,
                &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::In, Op::NotIn],
            )?;
            string_value(&what, &c)?;
        }
    }
    Ok(Cond {
        key,
        op: c.op,
        value: c.value,
    })
}

pub fn parse_registered_model_filter(filter: &str) -> Result<Option<Expr<RegisteredModelKey>>> {
    parse_and_bind(filter, bind_model_cond)
}

pub fn parse_model_version_filter(filter: &str) -> Result<Option<Expr<ModelVersionKey>>> {
    parse_and_bind(filter, bind_version_cond)
}

fn timestamp_key(key: &str) -> Option<bool> {
    match key {
        "creation_timestamp" => Some(true),
        "timestamp" | "last_updated_timestamp" => Some(false),
        _ => None,
    }
}

pub fn parse_registered_model_order_by(
    clauses: &[String],
) -> Result<Vec<OrderBy<RegisteredModelOrder>>> {
    bind_order_by(clauses, |raw| {
        if raw.entity.is_some()
            && entity(raw).as_deref() != Some("attribute")
            && entity(raw).as_deref() != Some("attributes")
        {
            return Err(Error::invalid_param(format!(
                "Invalid order by key '{}'. Valid keys are name, creation_timestamp, last_updated_timestamp",
                raw.key
            )));
        }
        Ok(match (raw.key.as_str(), timestamp_key(&raw.key)) {
            ("name", _) => RegisteredModelOrder::Name,
            (_, Some(true)) => RegisteredModelOrder::CreationTimestamp,
            (_, Some(false)) => RegisteredModelOrder::LastUpdatedTimestamp,
            (other, None) => {
                return Err(Error::invalid_param(format!(
                    "Invalid order by key '{other}' specified. Valid keys are name, creation_timestamp, last_updated_timestamp"
                )));
            }
        })
    })
}

/// The whole order of a model version search, as MLflow's: the given keys (MLflow's
/// default `last_updated_timestamp DESC, name ASC, version_number DESC` when none), then
/// `name ASC` and `version_number DESC` for whichever of the two is not already in it.
pub fn model_version_search_order(clauses: &[String]) -> Result<Vec<OrderBy<ModelVersionOrder>>> {
    let mut order = if clauses.is_empty() {
        parse_model_version_order_by(&[
            "last_updated_timestamp DESC".into(),
            "name ASC".into(),
            "version_number DESC".into(),
        ])?
    } else {
        parse_model_version_order_by(clauses)?
    };
    for (key, ascending) in [
        (ModelVersionOrder::Name, true),
        (ModelVersionOrder::VersionNumber, false),
    ] {
        if !order.iter().any(|o| o.key == key) {
            order.push(OrderBy { key, ascending });
        }
    }
    Ok(order)
}

pub fn parse_model_version_order_by(clauses: &[String]) -> Result<Vec<OrderBy<ModelVersionOrder>>> {
    bind_order_by(clauses, |raw| {
        Ok(match (raw.key.as_str(), timestamp_key(&raw.key)) {
            ("name", _) => ModelVersionOrder::Name,
            ("version_number", _) => ModelVersionOrder::VersionNumber,
            (_, Some(true)) => ModelVersionOrder::CreationTimestamp,
            (_, Some(false)) => ModelVersionOrder::LastUpdatedTimestamp,
            (other, None) => {
                return Err(Error::invalid_param(format!(
                    "Invalid order by key '{other}' specified. Valid keys are name, version_number, creation_timestamp, last_updated_timestamp"
                )));
            }
        })
    })
}

// ---- in-memory evaluation: what the SQL store's queries compute ----

fn tag_of<'a>(tags: &'a [crate::entities::Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
}

/// The client hides prompts with `tags.mlflow.prompt.is_prompt != 'true'`; a model without
/// the tag is not a prompt, so it matches, as in MLflow.
const PROMPT_TAG: &str = "mlflow.prompt.is_prompt";

pub fn matches_registered_model(
    f: &Expr<RegisteredModelKey>,
    m: &crate::entities::RegisteredModel,
) -> bool {
    f.eval(&mut |c| match &c.key {
        RegisteredModelKey::Name => str_cmp(c.op, &m.name, &c.value),
        RegisteredModelKey::Tag(k) if k == PROMPT_TAG && c.op == Op::Ne => {
            !tag_of(&m.tags, k).is_some_and(|t| str_cmp(Op::Eq, t, &c.value))
        }
        RegisteredModelKey::Tag(k) => {
            tag_of(&m.tags, k).is_some_and(|t| str_cmp(c.op, t, &c.value))
        }
    })
}

/// The order of a registered model search: the given keys, then name ascending.
pub fn compare_registered_models(
    order: &[OrderBy<RegisteredModelOrder>],
    a: &crate::entities::RegisteredModel,
    b: &crate::entities::RegisteredModel,
) -> std::cmp::Ordering {
    for o in order {
        let ord = match o.key {
            RegisteredModelOrder::Name => a.name.cmp(&b.name),
            RegisteredModelOrder::CreationTimestamp => {
                a.creation_timestamp.cmp(&b.creation_timestamp)
            }
            RegisteredModelOrder::LastUpdatedTimestamp => {
                a.last_updated_timestamp.cmp(&b.last_updated_timestamp)
            }
        };
        let ord = if o.ascending { ord } else { ord.reverse() };
        if ord.is_ne() {
            return ord;
        }
    }
    a.name.cmp(&b.name)
}

fn version_number_cmp(op: Op, version: i64, value: &Value) -> bool {
    let ints: Vec<i64> = match value {
        Value::Num(n) | Value::Str(n) => vec![n.parse().unwrap_or(-1)],
        Value::List(l) => l.iter().map(|n| n.parse().unwrap_or(-1)).collect(),
        Value::None => vec![],
    };
    let n = ints.first().copied().unwrap_or(-1);
    match op {
        Op::In => ints.contains(&version),
        Op::NotIn => !ints.contains(&version),
        Op::Eq => version == n,
        Op::Ne => version != n,
        Op::Lt => version < n,
        Op::Le => version <= n,
        Op::Gt => version > n,
        Op::Ge => version >= n,
        _ => false,
    }
}

pub fn matches_model_version(f: &Expr<ModelVersionKey>, v: &crate::entities::ModelVersion) -> bool {
    f.eval(&mut |c| match &c.key {
        ModelVersionKey::Name => str_cmp(c.op, &v.name, &c.value),
        ModelVersionKey::RunId => str_cmp(c.op, v.run_id.as_deref().unwrap_or(""), &c.value),
        ModelVersionKey::SourcePath => str_cmp(c.op, &v.source, &c.value),
        ModelVersionKey::VersionNumber => {
            version_number_cmp(c.op, v.version.parse().unwrap_or(-1), &c.value)
        }
        ModelVersionKey::Tag(k) => tag_of(&v.tags, k).is_some_and(|t| str_cmp(c.op, t, &c.value)),
    })
}

/// The order of a model version search, over the keys of [`model_version_search_order`].
pub fn compare_model_versions(
    order: &[OrderBy<ModelVersionOrder>],
    a: &crate::entities::ModelVersion,
    b: &crate::entities::ModelVersion,
) -> std::cmp::Ordering {
    let num = |v: &crate::entities::ModelVersion| v.version.parse::<i64>().unwrap_or(0);
    for o in order {
        let ord = match o.key {
            ModelVersionOrder::Name => a.name.cmp(&b.name),
            ModelVersionOrder::VersionNumber => num(a).cmp(&num(b)),
            ModelVersionOrder::CreationTimestamp => a.creation_timestamp.cmp(&b.creation_timestamp),
            ModelVersionOrder::LastUpdatedTimestamp => {
                a.last_updated_timestamp.cmp(&b.last_updated_timestamp)
            }
        };
        let ord = if o.ascending { ord } else { ord.reverse() };
        if ord.is_ne() {
            return ord;
        }
    }
    std::cmp::Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_filters() {
        assert!(
            parse_registered_model_filter("name LIKE 'wi%' AND tags.team = 'a'")
                .unwrap()
                .is_some()
        );
        assert!(parse_registered_model_filter("run_id = 'x'").is_err());
        assert!(
            parse_model_version_filter(
                "name = 'wine' and version_number > 1 and run_id IN ('a', 'b')"
            )
            .is_ok()
        );
        assert!(parse_model_version_filter("version_number = 'x'").is_err());
        assert!(parse_model_version_filter("source_path LIKE 'models:/%'").is_ok());
        assert!(parse_model_version_filter("stage = 'x'").is_err());
        assert_eq!(
            parse_registered_model_order_by(&["timestamp DESC".into()]).unwrap()[0].key,
            RegisteredModelOrder::LastUpdatedTimestamp
        );
        assert!(
            parse_model_version_order_by(&["version_number DESC".into(), "name".into()]).is_ok()
        );
        assert!(parse_model_version_order_by(&["run_id".into()]).is_err());
    }
}
