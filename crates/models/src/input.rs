//! Scoring requests, decoded: MLflow 3's JSON (`dataframe_split`, `dataframe_records`,
//! `instances`, `inputs`, with `params`), MLflow 1.x's `format=pandas-split` and
//! `format=pandas-records` content types, and CSV.

use serde_json::{Map, Value};

/// What a model is asked to predict on.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Named columns and rows of values.
    Frame(Frame),
    /// `instances` or `inputs`: a tensor, or named tensors, as JSON arrays.
    Tensor(Value),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Frame {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl Frame {
    /// As MLflow 3's `dataframe_split`.
    pub fn to_split_json(&self) -> Value {
        serde_json::json!({"columns": self.columns, "data": self.rows})
    }
}

/// A decoded request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub input: Input,
    pub params: Option<Value>,
    /// A 1.x request (pandas-split/records content type or top-level columns/data): the
    /// answer is the bare list of predictions, as MLflow 1.x gave it.
    pub legacy: bool,
}

/// Why a request cannot be scored; `status` is the HTTP status to answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    pub status: u16,
    pub message: String,
}

fn bad(message: impl Into<String>) -> DecodeError {
    DecodeError {
        status: 400,
        message: message.into(),
    }
}

const KEYS: [&str; 4] = [
    "dataframe_split",
    "dataframe_records",
    "instances",
    "inputs",
];

/// The shape of nested JSON arrays, read along their first elements (a scalar has shape
/// `[]`). Whether the siblings agree is for the caller to check.
pub(crate) fn json_shape(v: &Value) -> Vec<usize> {
    let mut shape = Vec::new();
    let mut at = v;
    while let Value::Array(a) = at {
        shape.push(a.len());
        match a.first() {
            Some(x) => at = x,
            None => break,
        }
    }
    shape
}

/// Row-major values nested into arrays of `shape` (missing values are null).
pub(crate) fn nest(flat: &mut impl Iterator<Item = Value>, shape: &[usize]) -> Value {
    match shape.split_first() {
        None => flat.next().unwrap_or(Value::Null),
        Some((&n, rest)) => Value::Array((0..n).map(|_| nest(flat, rest)).collect()),
    }
}

/// Decodes a request body sent with `content_type`.
pub fn decode(content_type: Option<&str>, body: &[u8]) -> Result<Request, DecodeError> {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let mut parts = ct.split(';').map(str::trim);
    let mime = parts.next().unwrap_or("");
    let format = parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim() == "format")
        .map(|(_, v)| v.trim().trim_matches('"').to_string());
    match mime {
        "application/json" => decode_json(body, format.as_deref()),
        "text/csv" => Ok(Request {
            input: Input::Frame(decode_csv(body)?),
            params: None,
            legacy: false,
        }),
        "" => Err(DecodeError {
            status: 415,
            message: "the request has no Content-Type: send application/json or text/csv".into(),
        }),
        other => Err(DecodeError {
            status: 415,
            message: format!(
                "content type '{other}' is not supported: send application/json (optionally with format=pandas-split or format=pandas-records) or text/csv"
            ),
        }),
    }
}

fn decode_json(body: &[u8], format: Option<&str>) -> Result<Request, DecodeError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bad(
            "the request body is empty: send a JSON object such as {\"dataframe_split\": {\"columns\": [...], \"data\": [[...]]}}",
        ));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| bad(format!("the request body is not valid JSON: {e}")))?;
    let legacy = |input| {
        Ok(Request {
            input,
            params: None,
            legacy: true,
        })
    };
    match format {
        Some("pandas-split") => return legacy(Input::Frame(split(&v)?)),
        Some("pandas-records") => return legacy(Input::Frame(records(&v)?)),
        Some(other) => {
            return Err(DecodeError {
                status: 415,
                message: format!(
                    "format '{other}' is not supported: use pandas-split or pandas-records"
                ),
            });
        }
        None => {}
    }
    let obj = match &v {
        Value::Object(o) => o,
        Value::Array(_) => return legacy(Input::Frame(records(&v)?)),
        _ => return Err(bad(missing_key_message())),
    };
    let present: Vec<&str> = KEYS
        .iter()
        .copied()
        .filter(|k| obj.contains_key(*k))
        .collect();
    let params = obj.get("params").cloned().filter(|p| !p.is_null());
    if params.as_ref().is_some_and(|p| !p.is_object()) {
        return Err(bad(
            "'params' must be a JSON object of parameter names to values",
        ));
    }
    let input = match present.as_slice() {
        ["dataframe_split"] => Input::Frame(split(&obj["dataframe_split"])?),
        ["dataframe_records"] => Input::Frame(records(&obj["dataframe_records"])?),
        ["instances"] => Input::Tensor(obj["instances"].clone()),
        ["inputs"] => Input::Tensor(obj["inputs"].clone()),
        [] if obj.contains_key("columns") && obj.contains_key("data") => {
            return legacy(Input::Frame(split(&v)?));
        }
        [] => return Err(bad(missing_key_message())),
        many => {
            return Err(bad(format!(
                "the request has {}; send exactly one of them",
                many.join(" and ")
            )));
        }
    };
    let extra: Vec<&String> = obj
        .keys()
        .filter(|k| !KEYS.contains(&k.as_str()) && *k != "params")
        .collect();
    if !extra.is_empty() {
        return Err(bad(format!(
            "unexpected top-level key(s) {}: a request has one of {} and optionally 'params'",
            extra
                .iter()
                .map(|k| format!("'{k}'"))
                .collect::<Vec<_>>()
                .join(", "),
            KEYS.join(", ")
        )));
    }
    Ok(Request {
        input,
        params,
        legacy: false,
    })
}

fn missing_key_message() -> String {
    format!(
        "the request must be a JSON object with one of the keys {} (or, as in MLflow 1.x, 'columns' and 'data' with Content-Type: application/json; format=pandas-split)",
        KEYS.join(", ")
    )
}

/// pandas' split orientation: `{"columns": [...], "data": [[...], ...], "index": [...]}`.
fn split(v: &Value) -> Result<Frame, DecodeError> {
    let o = v
        .as_object()
        .ok_or_else(|| bad("a split-oriented frame is an object with 'columns' and 'data'"))?;
    let data = o
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("the frame has no 'data' list"))?;
    let columns: Vec<String> = match o.get("columns") {
        Some(Value::Array(c)) => c
            .iter()
            .map(|c| {
                c.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| c.to_string())
            })
            .collect(),
        None | Some(Value::Null) => {
            let width = data.first().and_then(Value::as_array).map_or(0, Vec::len);
            (0..width).map(|i| i.to_string()).collect()
        }
        Some(_) => return Err(bad("'columns' must be a list of column names")),
    };
    let mut rows = Vec::with_capacity(data.len());
    for (i, row) in data.iter().enumerate() {
        let row = match row {
            Value::Array(r) => r.clone(),
            // One column: a list of scalars is a list of one-value rows.
            scalar if columns.len() == 1 => vec![scalar.clone()],
            _ => return Err(bad(format!("row {i} of 'data' is not a list"))),
        };
        if row.len() != columns.len() {
            return Err(bad(format!(
                "row {i} of 'data' has {} values, but there are {} columns",
                row.len(),
                columns.len()
            )));
        }
        rows.push(row);
    }
    Ok(Frame { columns, rows })
}

/// pandas' records orientation: `[{"col": value, ...}, ...]`; missing keys are nulls.
fn records(v: &Value) -> Result<Frame, DecodeError> {
    let list = v
        .as_array()
        .ok_or_else(|| bad("records are a list of objects"))?;
    let mut columns: Vec<String> = Vec::new();
    for (i, r) in list.iter().enumerate() {
        let r = r
            .as_object()
            .ok_or_else(|| bad(format!("record {i} is not an object")))?;
        for k in r.keys() {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    let rows = list
        .iter()
        .map(|r| {
            let r: &Map<String, Value> = r.as_object().expect("checked above");
            columns
                .iter()
                .map(|c| r.get(c).cloned().unwrap_or(Value::Null))
                .collect()
        })
        .collect();
    Ok(Frame { columns, rows })
}

/// A CSV with a header row; numbers become numbers, empty cells nulls.
pub fn decode_csv(body: &[u8]) -> Result<Frame, DecodeError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(body);
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| bad(format!("cannot read the CSV header: {e}")))?
        .iter()
        .map(String::from)
        .collect();
    if columns.is_empty() {
        return Err(bad(
            "the CSV is empty: it needs a header row of column names",
        ));
    }
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| bad(format!("CSV row {}: {e}", i + 1)))?;
        rows.push(rec.iter().map(csv_value).collect());
    }
    Ok(Frame { columns, rows })
}

/// A CSV cell as the value pandas would read: an integer, a float, or text.
pub fn csv_value(cell: &str) -> Value {
    let t = cell.trim();
    if t.is_empty() {
        return Value::Null;
    }
    if let Ok(i) = t.parse::<i64>() {
        return Value::from(i);
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() => Value::from(f),
        _ => Value::String(cell.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn frame(columns: &[&str], rows: Value) -> Input {
        Input::Frame(Frame {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: serde_json::from_value(rows).unwrap(),
        })
    }

    #[test]
    fn decodes_every_format() {
        let split = br#"{"columns": ["a", "b"], "data": [[1, 2.5]]}"#;
        let want = frame(&["a", "b"], json!([[1, 2.5]]));
        let legacy = decode(Some("application/json; format=pandas-split"), split).unwrap();
        assert_eq!((legacy.input.clone(), legacy.legacy), (want.clone(), true));
        let bare = decode(Some("application/json"), split).unwrap();
        assert_eq!((bare.input, bare.legacy), (want.clone(), true));
        let v3 = decode(Some("application/json"), br#"{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2.5]]}, "params": {"k": 1}}"#).unwrap();
        assert_eq!(
            (v3.input, v3.params, v3.legacy),
            (want.clone(), Some(json!({"k": 1})), false)
        );
        let recs = decode(
            Some("application/json"),
            br#"{"dataframe_records": [{"a": 1, "b": 2.5}]}"#,
        )
        .unwrap();
        assert_eq!(recs.input, want);
        let legacy_recs = decode(
            Some("application/json; format=pandas-records"),
            br#"[{"a": 1, "b": 2.5}]"#,
        )
        .unwrap();
        assert!(legacy_recs.legacy && legacy_recs.input == want);
        let csv = decode(Some("text/csv"), b"a,b\n1,2.5\n").unwrap();
        assert_eq!(csv.input, want);
        let t = decode(Some("application/json"), br#"{"inputs": [[1, 2], [3, 4]]}"#).unwrap();
        assert_eq!(t.input, Input::Tensor(json!([[1, 2], [3, 4]])));
    }

    #[test]
    fn refuses_bad_requests_precisely() {
        let cases: [(Option<&str>, &[u8], u16, &str); 7] = [
            (None, b"{}", 415, "no Content-Type"),
            (
                Some("text/plain"),
                b"x",
                415,
                "'text/plain' is not supported",
            ),
            (Some("application/json"), b"", 400, "body is empty"),
            (
                Some("application/json"),
                b"{not json",
                400,
                "not valid JSON",
            ),
            (
                Some("application/json"),
                br#"{"foo": 1}"#,
                400,
                "one of the keys dataframe_split",
            ),
            (
                Some("application/json"),
                br#"{"inputs": 1, "instances": 2}"#,
                400,
                "instances and inputs",
            ),
            (
                Some("application/json"),
                br#"{"dataframe_split": {"columns": ["a", "b"], "data": [[1]]}}"#,
                400,
                "row 0 of 'data' has 1 values, but there are 2 columns",
            ),
        ];
        for (ct, body, status, msg) in cases {
            let e = decode(ct, body).unwrap_err();
            assert!(
                e.status == status && e.message.contains(msg),
                "{ct:?} {:?}: {e:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
