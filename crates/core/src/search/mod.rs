//! The search language of MLflow, parsed once here and executed by every store.
//!
//! `parse_*_filter` turns a filter string into an [`Expr`] over a domain's keys
//! ([`runs::RunKey`], [`experiments::ExperimentKey`], ...); the SQL store compiles that AST
//! to SQL, and [`runs::matches`] / [`runs::compare`] define the same semantics in memory.
//!
//! Beyond MLflow, `OR` and parentheses are accepted: `metrics.a > 1 OR (params.b = 'x' AND
//! tags.c != 'y')`. `AND` binds tighter than `OR`.

pub mod ast;
pub mod experiments;
mod lexer;
pub mod like;
pub mod logged_models;
mod parser;
pub mod registry;
pub mod runs;

pub use ast::{Cond, Expr, Op, OrderBy, RawKey, Value};
pub use parser::{parse_filter, parse_order_by};

use crate::error::{Error, Result};

/// A list of strings as Python prints a set of them, `{'a', 'b'}`: MLflow's messages
/// name valid keys and comparators that way.
pub(crate) fn py_set(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("'{i}'")).collect();
    format!("{{{}}}", quoted.join(", "))
}

/// MLflow's refusal of a comparator a key does not take.
pub(crate) fn comparator_error(op: Op, allowed: &[Op]) -> Error {
    let names: Vec<&str> = allowed.iter().map(|o| o.as_str()).collect();
    Error::invalid_param(format!(
        "Invalid comparator '{}' not one of '{}'",
        op.as_str(),
        py_set(&names)
    ))
}

/// Refuses `op` unless it is one of `allowed`, as MLflow words it.
pub(crate) fn check_comparator(op: Op, allowed: &[Op]) -> Result<()> {
    if allowed.contains(&op) {
        Ok(())
    } else {
        Err(comparator_error(op, allowed))
    }
}

pub(crate) fn check_op(what: &str, op: Op, allowed: &[Op]) -> Result<()> {
    if allowed.contains(&op) {
        Ok(())
    } else {
        Err(Error::invalid_param(format!(
            "Invalid comparator '{}' for {what}. Valid comparators: {}",
            op.as_str(),
            allowed
                .iter()
                .map(|o| o.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

pub(crate) fn parse_and_bind<K>(
    filter: &str,
    mut bind: impl FnMut(Cond<RawKey>) -> Result<Cond<K>>,
) -> Result<Option<Expr<K>>> {
    match parse_filter(filter)? {
        None => Ok(None),
        Some(e) => Ok(Some(e.try_map(&mut bind)?)),
    }
}

pub(crate) fn bind_order_by<K: PartialEq>(
    clauses: &[String],
    mut bind: impl FnMut(&RawKey) -> Result<K>,
) -> Result<Vec<OrderBy<K>>> {
    let mut out: Vec<OrderBy<K>> = Vec::new();
    for clause in clauses {
        let parsed = parse_order_by(clause)?;
        let key = bind(&parsed.key)?;
        if out.iter().any(|o| o.key == key) {
            return Err(Error::invalid_param(format!(
                "`order_by` contains duplicate fields: {clauses:?}"
            )));
        }
        out.push(OrderBy {
            key,
            ascending: parsed.ascending,
        });
    }
    Ok(out)
}
