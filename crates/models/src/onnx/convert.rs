//! Requests into tensors, tensors into answers.

use serde_json::{Map, Value};
use tract_onnx::prelude::*;

use super::{Labels, Output, Port};
use crate::input::{Frame, Input, json_shape, nest};
use crate::predictor::PredictError;

fn bad(message: impl Into<String>) -> PredictError {
    PredictError::bad_input(message)
}

/// The tensors to feed, in the model's input order, and the number of rows when the input
/// was a frame (its answer is then a record per row).
pub(super) fn feeds(
    ports: &[Port],
    input: Input,
) -> Result<(Vec<Tensor>, Option<usize>), PredictError> {
    match input {
        Input::Frame(f) => {
            let n = f.rows.len();
            Ok((frame_feeds(ports, &f)?, Some(n)))
        }
        Input::Tensor(v) => Ok((tensor_feeds(ports, v)?, None)),
    }
}

fn frame_feeds(ports: &[Port], f: &Frame) -> Result<Vec<Tensor>, PredictError> {
    if let Some((i, row)) = f
        .rows
        .iter()
        .enumerate()
        .find(|(_, r)| r.len() != f.columns.len())
    {
        return Err(bad(format!(
            "row {i} has {} values for {} columns",
            row.len(),
            f.columns.len()
        )));
    }
    if let [port] = ports {
        // The frame's values, row by row, as the input's [rows, columns] matrix.
        let cols = f.columns.len();
        let shape: Vec<usize> = match port.dims.len() {
            2 => vec![f.rows.len(), cols],
            1 if cols == 1 => vec![f.rows.len()],
            _ => {
                return Err(bad(format!(
                    "the model's input '{}' has shape {}: send it as a tensor ({{\"inputs\": ...}}) rather than as columns",
                    port.name,
                    port.shape_text()
                )));
            }
        };
        if let Some(Some(want)) = port.dims.get(1)
            && *want != cols
        {
            return Err(bad(format!(
                "the model's input '{}' takes {want} values per row; the request has {cols} columns",
                port.name
            )));
        }
        let mut buf = Buf::new(port.dt, f.rows.len() * cols);
        for (r, row) in f.rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                buf.push(v)
                    .map_err(|want| bad(format!("column '{}', row {r}: {want}", f.columns[c])))?;
            }
        }
        return Ok(vec![buf.into_tensor(&shape, &port.name)?]);
    }
    // Several inputs: a column for each, by name.
    ports
        .iter()
        .map(|port| {
            let c = f.columns.iter().position(|c| *c == port.name).ok_or_else(|| {
                bad(format!(
                    "the model takes the inputs {}; the request has no column '{}'",
                    names(ports),
                    port.name
                ))
            })?;
            let shape = match port.dims.as_slice() {
                [_] => vec![f.rows.len()],
                [_, None | Some(1)] => vec![f.rows.len(), 1],
                _ => {
                    return Err(bad(format!(
                        "the model's input '{}' has shape {}: a column cannot fill it; send the inputs as tensors",
                        port.name,
                        port.shape_text()
                    )));
                }
            };
            let mut buf = Buf::new(port.dt, f.rows.len());
            for (r, row) in f.rows.iter().enumerate() {
                buf.push(&row[c])
                    .map_err(|want| bad(format!("column '{}', row {r}: {want}", port.name)))?;
            }
            buf.into_tensor(&shape, &port.name)
        })
        .collect()
}

fn names(ports: &[Port]) -> String {
    ports
        .iter()
        .map(|p| format!("'{}'", p.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn tensor_feeds(ports: &[Port], v: Value) -> Result<Vec<Tensor>, PredictError> {
    // `instances` as a list of records: one list per input name.
    let v = match v {
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            let mut by_name: Map<String, Value> = Map::new();
            for item in items {
                for (k, x) in item.as_object().into_iter().flatten() {
                    let slot = by_name
                        .entry(k.clone())
                        .or_insert_with(|| Value::Array(vec![]));
                    if let Value::Array(a) = slot {
                        a.push(x.clone());
                    }
                }
            }
            Value::Object(by_name)
        }
        other => other,
    };
    match v {
        Value::Object(mut named) => {
            if let Some(extra) = named.keys().find(|k| !ports.iter().any(|p| &p.name == *k)) {
                return Err(bad(format!(
                    "the model has no input '{extra}'; its inputs are {}",
                    names(ports)
                )));
            }
            ports
                .iter()
                .map(|p| {
                    let v = named.remove(&p.name).ok_or_else(|| {
                        bad(format!(
                            "the request has no input '{}'; the model takes {}",
                            p.name,
                            names(ports)
                        ))
                    })?;
                    tensor(p, &v)
                })
                .collect()
        }
        v => match ports {
            [port] => Ok(vec![tensor(port, &v)?]),
            _ => Err(bad(format!(
                "the model takes several inputs ({}): send them by name, as {{\"inputs\": {{\"<name>\": ...}}}}",
                names(ports)
            ))),
        },
    }
}

/// One nested JSON array as the input `port`.
fn tensor(port: &Port, v: &Value) -> Result<Tensor, PredictError> {
    let shape = json_shape(v);
    let fits = shape.len() == port.dims.len()
        && shape
            .iter()
            .zip(&port.dims)
            .all(|(n, d)| d.is_none_or(|d| d == *n));
    if !fits {
        let got: Vec<String> = shape.iter().map(usize::to_string).collect();
        return Err(bad(format!(
            "the model's input '{}' has shape {}; the request's has shape [{}]",
            port.name,
            port.shape_text(),
            got.join(", ")
        )));
    }
    let mut buf = Buf::new(port.dt, shape.iter().product());
    let mut path = vec![];
    flatten(v, &shape, &mut buf, &mut path, &port.name)?;
    buf.into_tensor(&shape, &port.name)
}

fn flatten(
    v: &Value,
    shape: &[usize],
    buf: &mut Buf,
    path: &mut Vec<usize>,
    name: &str,
) -> Result<(), PredictError> {
    let here = |path: &[usize]| path.iter().map(|i| format!("[{i}]")).collect::<String>();
    match (shape.split_first(), v) {
        (Some((&n, rest)), Value::Array(items)) if items.len() == n => {
            for (i, x) in items.iter().enumerate() {
                path.push(i);
                flatten(x, rest, buf, path, name)?;
                path.pop();
            }
            Ok(())
        }
        (Some((&n, _)), _) => Err(bad(format!(
            "the input '{name}' is ragged: {name}{} should be a list of {n} items",
            here(path)
        ))),
        (None, Value::Array(_)) => Err(bad(format!(
            "the input '{name}' is ragged: {name}{} should be a single value",
            here(path)
        ))),
        (None, x) => buf
            .push(x)
            .map_err(|want| bad(format!("{name}{}: {want}", here(path)))),
    }
}

/// Values gathered for a tensor of one element type.
enum Buf {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    Bool(Vec<bool>),
    Str(Vec<String>),
}

impl Buf {
    fn new(dt: DatumType, n: usize) -> Buf {
        match dt {
            DatumType::F64 => Buf::F64(Vec::with_capacity(n)),
            DatumType::I64 => Buf::I64(Vec::with_capacity(n)),
            DatumType::I32 => Buf::I32(Vec::with_capacity(n)),
            DatumType::Bool => Buf::Bool(Vec::with_capacity(n)),
            DatumType::String => Buf::Str(Vec::with_capacity(n)),
            _ => Buf::F32(Vec::with_capacity(n)),
        }
    }

    /// Adds `v`, or says what was expected instead.
    fn push(&mut self, v: &Value) -> Result<(), String> {
        let number = || {
            v.as_f64()
                .ok_or_else(|| format!("expected a number, got {v}"))
        };
        let integer = || {
            v.as_i64()
                .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .ok_or_else(|| format!("expected an integer, got {v}"))
        };
        match self {
            Buf::F32(b) => b.push(number()? as f32),
            Buf::F64(b) => b.push(number()?),
            Buf::I64(b) => b.push(integer()?),
            Buf::I32(b) => {
                b.push(i32::try_from(integer()?).map_err(|_| format!("{v} does not fit in int32"))?)
            }
            Buf::Bool(b) => b.push(
                v.as_bool()
                    .ok_or_else(|| format!("expected true or false, got {v}"))?,
            ),
            Buf::Str(b) => b.push(match v {
                Value::String(s) => s.clone(),
                other => return Err(format!("expected a string, got {other}")),
            }),
        }
        Ok(())
    }

    fn into_tensor(self, shape: &[usize], name: &str) -> Result<Tensor, PredictError> {
        fn make<T: Datum>(shape: &[usize], v: Vec<T>) -> TractResult<Tensor> {
            Ok(tract_ndarray::ArrayD::from_shape_vec(shape, v)?.into())
        }
        match self {
            Buf::F32(v) => make(shape, v),
            Buf::F64(v) => make(shape, v),
            Buf::I64(v) => make(shape, v),
            Buf::I32(v) => make(shape, v),
            Buf::Bool(v) => make(shape, v),
            Buf::Str(v) => make(shape, v),
        }
        .map_err(|e| bad(format!("the input '{name}' does not fill its shape: {e}")))
    }
}

/// The model's outputs as the answer: a record per row for a frame request, the outputs by
/// name otherwise.
pub(super) fn answer(
    outputs: &[Output],
    results: &[TValue],
    rows: Option<usize>,
) -> Result<Value, PredictError> {
    if let Some(n) = rows {
        let mut cols = Vec::with_capacity(outputs.len());
        for (o, t) in outputs.iter().zip(results) {
            cols.push(per_row(o, t)?);
        }
        if cols.iter().all(|c| c.len() == n) {
            let mut records: Vec<Map<String, Value>> = vec![Map::new(); n];
            for (o, col) in outputs.iter().zip(cols) {
                for (rec, v) in records.iter_mut().zip(col) {
                    rec.insert(o.name.clone(), v);
                }
            }
            return Ok(Value::Array(
                records.into_iter().map(Value::Object).collect(),
            ));
        }
    }
    let mut named = Map::new();
    for (o, t) in outputs.iter().zip(results) {
        let v = if o.zipmap.is_some() {
            Value::Array(per_row(o, t)?)
        } else {
            nest(&mut scalars(t)?.into_iter(), t.shape())
        };
        named.insert(o.name.clone(), v);
    }
    Ok(Value::Object(named))
}

/// The output split along its first axis: a scalar per row when a row holds one value
/// (or a class → probability map for a ZipMap), nested lists otherwise.
fn per_row(o: &Output, t: &Tensor) -> Result<Vec<Value>, PredictError> {
    let flat = scalars(t)?;
    let shape = t.shape();
    let Some((&n, rest)) = shape.split_first() else {
        return Ok(flat);
    };
    let width: usize = rest.iter().product();
    if let Some(labels) = &o.zipmap {
        if labels.len() != width {
            return Err(PredictError::model(format!(
                "output '{}' has {width} probabilities per row but {} class labels",
                o.name,
                labels.len()
            )));
        }
        return Ok((0..n)
            .map(|r| Value::Object(labels.zip(&flat[r * width..(r + 1) * width])))
            .collect());
    }
    if rest.iter().all(|d| *d == 1) {
        return Ok(flat);
    }
    let mut rows: Vec<Value> = Vec::with_capacity(n);
    let mut it = flat.into_iter();
    for _ in 0..n {
        rows.push(nest(&mut it, rest));
    }
    Ok(rows)
}

impl Labels {
    fn len(&self) -> usize {
        match self {
            Labels::Ints(l) => l.len(),
            Labels::Strings(l) => l.len(),
        }
    }

    fn zip(&self, probs: &[Value]) -> Map<String, Value> {
        match self {
            Labels::Ints(l) => l
                .iter()
                .zip(probs)
                .map(|(k, p)| (k.to_string(), p.clone()))
                .collect(),
            Labels::Strings(l) => l.iter().cloned().zip(probs.iter().cloned()).collect(),
        }
    }
}

/// Every value of `t`, in order, as JSON. Floats are written at full precision (f32 values
/// widened to f64, as numpy's `tolist` gives them); NaN and infinities become null.
fn scalars(t: &Tensor) -> Result<Vec<Value>, PredictError> {
    fn all<T: Datum>(t: &Tensor, f: impl Fn(&T) -> Value) -> Result<Vec<Value>, PredictError> {
        Ok(t.to_plain_array_view::<T>()
            .map_err(|e| PredictError::model(format!("cannot read an output: {e}")))?
            .iter()
            .map(f)
            .collect())
    }
    match t.datum_type() {
        DatumType::F32 => all::<f32>(t, |v| Value::from(*v as f64)),
        DatumType::F64 => all::<f64>(t, |v| Value::from(*v)),
        DatumType::F16 => all::<f16>(t, |v| Value::from(v.to_f64())),
        DatumType::I64 => all::<i64>(t, |v| Value::from(*v)),
        DatumType::I32 => all::<i32>(t, |v| Value::from(*v)),
        DatumType::I16 => all::<i16>(t, |v| Value::from(*v)),
        DatumType::I8 => all::<i8>(t, |v| Value::from(*v)),
        DatumType::U8 => all::<u8>(t, |v| Value::from(*v)),
        DatumType::U16 => all::<u16>(t, |v| Value::from(*v)),
        DatumType::U32 => all::<u32>(t, |v| Value::from(*v)),
        DatumType::U64 => all::<u64>(t, |v| Value::from(*v)),
        DatumType::Bool => all::<bool>(t, |v| Value::from(*v)),
        DatumType::String => all::<String>(t, |v| Value::from(v.as_str())),
        // Integers tract tracks symbolically (a cast to int64 can come out this way).
        DatumType::TDim => all::<TDim>(t, |v| v.to_i64().map_or(Value::Null, Value::from)),
        other => Err(PredictError::model(format!(
            "an output has element type {other:?}, which cannot be written as JSON"
        ))),
    }
}
