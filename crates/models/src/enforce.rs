//! Checking a request against the model's signature before the model sees it, so that a
//! missing column, a mistyped value or a ragged tensor is a 400 with a message that names
//! it — not a Python traceback.

use serde_json::Value;

use crate::input::{Frame, Input};
use crate::schema::{ColSpec, ColType, Schema, TensorSpec};

/// Checks `input` against `schema`; answers the input as the model will get it (records
/// sent as `instances` to a column-based model become a frame).
pub fn enforce(input: Input, schema: &Schema) -> Result<Input, String> {
    match (input, schema) {
        (Input::Frame(f), Schema::Columns(cols)) => {
            check_frame(&f, cols).map(|()| Input::Frame(in_schema_order(f, cols)))
        }
        (Input::Tensor(t), Schema::Columns(cols)) => match tensor_as_frame(&t) {
            Some(f) => check_frame(&f, cols).map(|()| Input::Frame(in_schema_order(f, cols))),
            None => Ok(Input::Tensor(t)),
        },
        (Input::Tensor(t), Schema::Tensors(specs)) => {
            check_tensors(&t, specs).map(|()| Input::Tensor(t))
        }
        (frame @ Input::Frame(_), Schema::Tensors(_)) => Ok(frame),
    }
}

/// `[{"a": 1}, ...]` or `{"a": [1, ...], ...}` as a frame.
fn tensor_as_frame(t: &Value) -> Option<Frame> {
    match t {
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            let mut columns: Vec<String> = Vec::new();
            for i in items {
                for k in i.as_object()?.keys() {
                    if !columns.contains(k) {
                        columns.push(k.clone());
                    }
                }
            }
            let rows = items
                .iter()
                .map(|i| {
                    columns
                        .iter()
                        .map(|c| i.get(c).cloned().unwrap_or(Value::Null))
                        .collect()
                })
                .collect();
            Some(Frame { columns, rows })
        }
        Value::Object(m) if !m.is_empty() && m.values().all(Value::is_array) => {
            let columns: Vec<String> = m.keys().cloned().collect();
            let len = m.values().next()?.as_array()?.len();
            if m.values().any(|v| v.as_array().map(Vec::len) != Some(len)) {
                return None;
            }
            let rows = (0..len)
                .map(|r| m.values().map(|v| v[r].clone()).collect())
                .collect();
            Some(Frame { columns, rows })
        }
        _ => None,
    }
}

/// The frame's columns in the order of the signature (then any others, as they came), as
/// MLflow's schema enforcement hands them to the model: records arrive keyed by name, and
/// a model fitted on named columns wants them in its own order.
fn in_schema_order(f: Frame, cols: &[ColSpec]) -> Frame {
    let mut order: Vec<usize> = cols
        .iter()
        .filter_map(|c| c.name.as_ref())
        .filter_map(|n| f.columns.iter().position(|c| c == n))
        .collect();
    for i in 0..f.columns.len() {
        if !order.contains(&i) {
            order.push(i);
        }
    }
    if order.iter().enumerate().all(|(at, i)| at == *i) {
        return f;
    }
    Frame {
        columns: order.iter().map(|i| f.columns[*i].clone()).collect(),
        rows: f
            .rows
            .into_iter()
            .map(|row| order.iter().map(|i| row[*i].clone()).collect())
            .collect(),
    }
}

fn check_frame(f: &Frame, cols: &[ColSpec]) -> Result<(), String> {
    let missing: Vec<String> = cols
        .iter()
        .filter(|c| c.required)
        .filter_map(|c| c.name.as_ref())
        .filter(|n| !f.columns.contains(n))
        .map(|n| format!("'{n}'"))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the model needs the column(s) {}, which the request does not have (it has {})",
            missing.join(", "),
            if f.columns.is_empty() {
                "none".into()
            } else {
                f.columns
                    .iter()
                    .map(|c| format!("'{c}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
    }
    for spec in cols {
        let Some(name) = &spec.name else { continue };
        let Some(i) = f.columns.iter().position(|c| c == name) else {
            continue;
        };
        for (r, row) in f.rows.iter().enumerate() {
            if let Some(why) = type_mismatch(&row[i], &spec.ty) {
                return Err(format!(
                    "column '{name}' is {} in the model's signature, but row {r} has {} ({why})",
                    spec.ty.name(),
                    row[i]
                ));
            }
        }
    }
    Ok(())
}

/// Why `v` cannot be a value of `ty`, if it cannot.
fn type_mismatch(v: &Value, ty: &ColType) -> Option<&'static str> {
    match (ty, v) {
        (_, Value::Null) => None,
        (ColType::Double | ColType::Float, Value::Number(_)) => None,
        (ColType::Double | ColType::Float, _) => Some("not a number"),
        (ColType::Long | ColType::Integer, Value::Number(n)) => {
            if n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0) {
                None
            } else {
                Some("not a whole number")
            }
        }
        (ColType::Long | ColType::Integer, _) => Some("not a whole number"),
        (ColType::Boolean, Value::Bool(_)) => None,
        (ColType::Boolean, _) => Some("not true or false"),
        (ColType::String, Value::String(_)) => None,
        (ColType::String, _) => Some("not a string"),
        _ => None,
    }
}

fn check_tensors(t: &Value, specs: &[TensorSpec]) -> Result<(), String> {
    match (specs, t) {
        ([spec], v) if !v.is_object() => check_tensor(v, spec, "the input"),
        (specs, Value::Object(m)) => {
            for spec in specs {
                let Some(name) = &spec.name else { continue };
                match m.get(name) {
                    Some(v) => check_tensor(v, spec, &format!("input '{name}'"))?,
                    None => {
                        return Err(format!(
                            "the model needs the input '{name}', which the request does not have"
                        ));
                    }
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn check_tensor(v: &Value, spec: &TensorSpec, what: &str) -> Result<(), String> {
    let shape = shape_of(v).map_err(|m| format!("{what} is ragged: {m}"))?;
    if spec.shape.len() != shape.len() {
        return Err(format!(
            "{what} has shape {shape:?}, but the model expects {} dimensions (shape {:?}, -1 for any size)",
            spec.shape.len(),
            spec.shape
        ));
    }
    for (d, (&want, &got)) in spec.shape.iter().zip(&shape).enumerate() {
        if want >= 0 && want as usize != got {
            return Err(format!(
                "{what} has shape {shape:?}, but the model expects {:?} (dimension {d} must be {want})",
                spec.shape
            ));
        }
    }
    let integral = spec.dtype.starts_with("int") || spec.dtype.starts_with("uint");
    let numeric = integral || spec.dtype.starts_with("float");
    if numeric {
        leaves_ok(v, &|x| match x {
            Value::Number(n) => {
                !integral
                    || n.is_i64()
                    || n.is_u64()
                    || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            Value::Null => !integral,
            _ => false,
        })
        .map_err(|bad| {
            format!(
                "{what} must hold {} numbers (dtype {}), but has {bad}",
                if integral { "whole" } else { "" },
                spec.dtype
            )
            .replace("hold  numbers", "hold numbers")
        })?;
    }
    Ok(())
}

/// The shape of nested JSON arrays; `Err` when sibling arrays differ in length or depth.
fn shape_of(v: &Value) -> Result<Vec<usize>, String> {
    match v {
        Value::Array(items) => {
            let Some(first) = items.first() else {
                return Ok(vec![0]);
            };
            let inner = shape_of(first)?;
            for (i, it) in items.iter().enumerate().skip(1) {
                let s = shape_of(it)?;
                if s != inner {
                    return Err(format!(
                        "element {i} has shape {s:?}, element 0 has {inner:?}"
                    ));
                }
            }
            let mut shape = vec![items.len()];
            shape.extend(inner);
            Ok(shape)
        }
        _ => Ok(Vec::new()),
    }
}

fn leaves_ok(v: &Value, ok: &dyn Fn(&Value) -> bool) -> Result<(), String> {
    match v {
        Value::Array(items) => items.iter().try_for_each(|i| leaves_ok(i, ok)),
        leaf if ok(leaf) => Ok(()),
        leaf => Err(leaf.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cols() -> Schema {
        Schema::Columns(vec![
            ColSpec {
                name: Some("a".into()),
                ty: ColType::Double,
                required: true,
            },
            ColSpec {
                name: Some("n".into()),
                ty: ColType::Long,
                required: true,
            },
            ColSpec {
                name: Some("opt".into()),
                ty: ColType::String,
                required: false,
            },
        ])
    }

    fn frame(columns: &[&str], rows: Value) -> Input {
        Input::Frame(Frame {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: serde_json::from_value(rows).unwrap(),
        })
    }

    #[test]
    fn columns_must_be_there_and_typed() {
        assert!(enforce(frame(&["a", "n"], json!([[1.5, 2], [2, 3.0]])), &cols()).is_ok());
        let e = enforce(frame(&["a"], json!([[1.5]])), &cols()).unwrap_err();
        assert_eq!(
            e,
            "the model needs the column(s) 'n', which the request does not have (it has 'a')"
        );
        let e = enforce(frame(&["a", "n"], json!([[1.5, 2], ["x", 2]])), &cols()).unwrap_err();
        assert_eq!(
            e,
            "column 'a' is double in the model's signature, but row 1 has \"x\" (not a number)"
        );
        let e = enforce(frame(&["a", "n"], json!([[1.5, 2.5]])), &cols()).unwrap_err();
        assert!(
            e.contains("column 'n' is long") && e.contains("not a whole number"),
            "{e}"
        );
        // Records sent as `instances` are a frame.
        let got = enforce(Input::Tensor(json!([{"a": 1.0, "n": 2}])), &cols()).unwrap();
        assert_eq!(got, frame(&["a", "n"], json!([[1.0, 2]])));
    }

    #[test]
    fn columns_come_in_the_signatures_order() {
        let got = enforce(frame(&["x", "n", "a"], json!([[0, 2, 1.5]])), &cols()).unwrap();
        assert_eq!(got, frame(&["a", "n", "x"], json!([[1.5, 2, 0]])));
    }

    #[test]
    fn tensors_must_have_the_shape_and_not_be_ragged() {
        let s = Schema::Tensors(vec![TensorSpec {
            name: None,
            dtype: "float32".into(),
            shape: vec![-1, 2, 2],
        }]);
        assert!(enforce(Input::Tensor(json!([[[1, 2], [3, 4]]])), &s).is_ok());
        let e = enforce(Input::Tensor(json!([[[1, 2], [3]]])), &s).unwrap_err();
        assert!(e.starts_with("the input is ragged: "), "{e}");
        let e = enforce(Input::Tensor(json!([[1, 2], [3, 4]])), &s).unwrap_err();
        assert!(e.contains("expects 3 dimensions"), "{e}");
        let e = enforce(Input::Tensor(json!([[[1, 2], [3, "x"]]])), &s).unwrap_err();
        assert!(
            e.contains("must hold numbers (dtype float32), but has \"x\""),
            "{e}"
        );
    }
}
