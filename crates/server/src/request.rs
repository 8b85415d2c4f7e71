//! Request decoding: one extractor for every MLflow endpoint.
//!
//! MLflow's server reads the same message from a GET query string or a JSON body, takes
//! 64-bit integers as numbers or strings, doubles as numbers or `"NaN"`/`"Infinity"`
//! strings, and names the offending field when a value has the wrong type. [`Fields`]
//! does all of that once, so handlers only ask for typed values by name.

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::{Method, Request};
use ferroflow_core::entities::parse_f64;
use ferroflow_core::{Error, Result};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The largest JSON body any endpoint accepts.
pub const MAX_JSON_BODY: usize = 64 * 1024 * 1024;

/// The fields of a request message, from the query string (GET, DELETE) or the JSON body.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    map: Map<String, Value>,
    /// Field path prefix for error messages (`metrics[3].`).
    prefix: String,
    /// Query-string values are all strings; typed getters convert them.
    from_query: bool,
    /// Size of the JSON body, for endpoints with their own limits.
    pub body_len: usize,
}

fn python_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

fn invalid(path: &str, v: &Value) -> Error {
    let shown = match v {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    };
    Error::invalid_param(format!(
        "Invalid value {shown} for parameter '{path}' supplied:  Hint: Value was of type '{}'. See the API docs for more information about request parameters.",
        python_type(v)
    ))
}

/// Rewrites the bare `NaN`, `Infinity` and `-Infinity` tokens that Python's `json` module
/// writes into strings that standard JSON parsers accept.
pub fn quote_non_finite(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !body.windows(3).any(|w| w == b"NaN" || w == b"Inf") {
        return std::borrow::Cow::Borrowed(body);
    }
    let mut out = Vec::with_capacity(body.len() + 16);
    let mut in_str = false;
    let mut escaped = false;
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        let rest = &body[i..];
        let token: Option<&[u8]> = if rest.starts_with(b"NaN") {
            Some(b"NaN")
        } else if rest.starts_with(b"-Infinity") {
            Some(b"-Infinity")
        } else if rest.starts_with(b"Infinity") {
            Some(b"Infinity")
        } else {
            None
        };
        match token {
            Some(t) => {
                out.push(b'"');
                out.extend_from_slice(t);
                out.push(b'"');
                i += t.len();
            }
            None => {
                if c == b'"' {
                    in_str = true;
                }
                out.push(c);
                i += 1;
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

impl Fields {
    /// The fields of a JSON body, read as MLflow's server reads one: a body that is not
    /// JSON counts as an empty message (Flask's silent `get_json`), and a JSON string is
    /// decoded once more (older clients double-encode). A body that is JSON but not an
    /// object is refused.
    pub fn from_json_bytes(body: &[u8]) -> Result<Fields> {
        let empty = Fields {
            body_len: body.len(),
            ..Default::default()
        };
        if body.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(empty);
        }
        let fixed = quote_non_finite(body);
        let value = match serde_json::from_slice::<Value>(&fixed) {
            Ok(Value::String(inner)) => {
                match serde_json::from_slice::<Value>(&quote_non_finite(inner.as_bytes())) {
                    Ok(v) => v,
                    Err(_) => return Ok(empty),
                }
            }
            Ok(v) => v,
            Err(_) => return Ok(empty),
        };
        match value {
            Value::Object(map) => Ok(Fields {
                map,
                prefix: String::new(),
                from_query: false,
                body_len: body.len(),
            }),
            other => Err(Error::bad_request(format!(
                "The request body must be a JSON object, got a {}",
                python_type(&other)
            ))),
        }
    }

    pub fn from_query(query: &str) -> Fields {
        let mut map = Map::new();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            let k = k.trim_end_matches("[]").to_string();
            match map.get_mut(&k) {
                Some(Value::Array(a)) => a.push(Value::String(v.into_owned())),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, Value::String(v.into_owned())]);
                }
                None => {
                    map.insert(k, Value::String(v.into_owned()));
                }
            }
        }
        Fields {
            map,
            prefix: String::new(),
            from_query: true,
            body_len: 0,
        }
    }

    fn path(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// A field as it came, untyped.
    pub fn raw(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }

    /// Whether the message came from a query string rather than a JSON body.
    pub fn is_query(&self) -> bool {
        self.from_query
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// An optional string field.
    pub fn opt_str(&self, name: &str) -> Result<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Array(a)) if self.from_query && !a.is_empty() => match &a[0] {
                Value::String(s) => Ok(Some(s.clone())),
                v => Err(invalid(&self.path(name), v)),
            },
            Some(v) => Err(invalid(&self.path(name), v)),
        }
    }

    /// A required, non-empty string field.
    pub fn req_str(&self, name: &str) -> Result<String> {
        match self.opt_str(name)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(Error::missing(&self.path(name))),
        }
    }

    /// The first present of several names (`run_id` or the legacy `run_uuid`).
    pub fn req_str_any(&self, names: &[&str]) -> Result<String> {
        for n in names {
            if let Some(s) = self.opt_str(n)?.filter(|s| !s.is_empty()) {
                return Ok(s);
            }
        }
        Err(Error::missing(&self.path(names[0])))
    }

    pub fn opt_i64(&self, name: &str) -> Result<Option<i64>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                        .map(|f| f as i64)
                })
                .map(Some)
                .ok_or_else(|| invalid(&self.path(name), &Value::Number(n.clone()))),
            Some(v @ Value::String(s)) => s
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| invalid(&self.path(name), v)),
            Some(v) => Err(invalid(&self.path(name), v)),
        }
    }

    pub fn req_i64(&self, name: &str) -> Result<i64> {
        self.opt_i64(name)?
            .ok_or_else(|| Error::missing(&self.path(name)))
    }

    pub fn opt_f64(&self, name: &str) -> Result<Option<f64>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(v @ Value::String(s)) => parse_f64(s)
                .map(Some)
                .ok_or_else(|| invalid(&self.path(name), v)),
            Some(v) => Err(invalid(&self.path(name), v)),
        }
    }

    pub fn req_f64(&self, name: &str) -> Result<f64> {
        self.opt_f64(name)?
            .ok_or_else(|| Error::missing(&self.path(name)))
    }

    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v @ Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(Some(true)),
                "false" | "0" => Ok(Some(false)),
                _ => Err(invalid(&self.path(name), v)),
            },
            Some(v) => Err(invalid(&self.path(name), v)),
        }
    }

    /// A repeated string field; a single value counts as a list of one.
    pub fn str_list(&self, name: &str) -> Result<Vec<String>> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    other => Err(invalid(&format!("{}[{i}]", self.path(name)), other)),
                })
                .collect(),
            Some(v) => Err(invalid(&self.path(name), v)),
        }
    }

    /// A repeated message field, each element as its own [`Fields`].
    pub fn objects(&self, name: &str) -> Result<Vec<Fields>> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::Object(m) => Ok(Fields {
                        map: m.clone(),
                        prefix: format!("{}[{i}].", self.path(name)),
                        from_query: self.from_query,
                        body_len: 0,
                    }),
                    other => Err(invalid(&format!("{}[{i}]", self.path(name)), other)),
                })
                .collect(),
            Some(v) => Err(invalid(&self.path(name), v)),
        }
    }

    /// A singular message field.
    pub fn object(&self, name: &str) -> Result<Option<Fields>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Fields {
                map: m.clone(),
                prefix: format!("{}.", self.path(name)),
                from_query: self.from_query,
                body_len: 0,
            })),
            Some(v) => Err(invalid(&self.path(name), v)),
        }
    }

    /// An enum field given by name or by number.
    pub fn opt_enum<T: std::str::FromStr<Err = Error>>(
        &self,
        name: &str,
        by_number: &[(i64, &str)],
    ) -> Result<Option<T>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                let name_of = n
                    .as_i64()
                    .and_then(|i| by_number.iter().find(|(k, _)| *k == i))
                    .map(|(_, s)| *s);
                match name_of {
                    Some(s) => s.parse().map(Some),
                    None => Err(invalid(&self.path(name), &Value::Number(n.clone()))),
                }
            }
            Some(Value::String(s)) => {
                if let Ok(i) = s.parse::<i64>()
                    && let Some((_, s)) = by_number.iter().find(|(k, _)| *k == i)
                {
                    return s.parse().map(Some);
                }
                s.parse()
                    .map(Some)
                    .map_err(|_| invalid(&self.path(name), &Value::String(s.clone())))
            }
            Some(v) => Err(invalid(&self.path(name), v)),
        }
    }
}

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = ApiError;

    async fn from_request(mut req: Request<Body>, _state: &S) -> Result<Self, Self::Rejection> {
        // The auth layer read them already.
        if let Some(f) = req.extensions_mut().remove::<Fields>() {
            return Ok(f);
        }
        let query = req.uri().query().unwrap_or("").to_string();
        if req.method() == Method::GET {
            return Ok(Fields::from_query(&query));
        }
        if req.method() == Method::POST || req.method() == Method::PUT {
            check_json_content_type(req.headers()).map_err(ApiError)?;
        }
        let bytes = axum::body::to_bytes(req.into_body(), MAX_JSON_BODY)
            .await
            .map_err(|_| {
                ApiError(Error::invalid_param(format!(
                    "The request body is larger than {} MiB",
                    MAX_JSON_BODY / (1024 * 1024)
                )))
            })?;
        if bytes.is_empty() {
            // DELETE and some POST callers put the message in the query string.
            return Ok(Fields::from_query(&query));
        }
        Fields::from_json_bytes(&bytes).map_err(ApiError)
    }
}

/// MLflow's server takes a POST or PUT message only as `application/json` (parameters
/// such as `; charset=utf-8` aside).
fn check_json_content_type(headers: &axum::http::HeaderMap) -> Result<()> {
    let Some(ct) = headers.get(axum::http::header::CONTENT_TYPE) else {
        return Err(Error::invalid_param(
            "Bad Request. Content-Type header is missing.",
        ));
    };
    let ct = ct.to_str().unwrap_or("");
    if ct.split(';').next().unwrap_or("").trim() != "application/json" {
        return Err(Error::invalid_param(
            "Bad Request. Content-Type must be one of ['application/json'].",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_literals_become_strings() {
        let out = quote_non_finite(
            br#"{"value": NaN, "s": "NaN in text", "v": -Infinity, "w": Infinity}"#,
        );
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["value"], "NaN");
        assert_eq!(v["s"], "NaN in text");
        assert_eq!(v["v"], "-Infinity");
        assert_eq!(v["w"], "Infinity");
    }

    #[test]
    fn typed_getters_name_the_field() {
        let f = Fields::from_json_bytes(
            br#"{"name": 5, "start_time": "12", "value": "NaN", "ids": ["1", 2]}"#,
        )
        .unwrap();
        let e = f.req_str("name").unwrap_err();
        assert!(
            e.message.contains("parameter 'name'") && e.message.contains("'int'"),
            "{}",
            e.message
        );
        assert_eq!(f.opt_i64("start_time").unwrap(), Some(12));
        assert!(f.req_f64("value").unwrap().is_nan());
        assert_eq!(f.str_list("ids").unwrap(), vec!["1", "2"]);
        assert!(
            f.req_str("missing")
                .unwrap_err()
                .message
                .starts_with("Missing value for required parameter 'missing'")
        );
        assert!(!Fields::from_json_bytes(b"{bad").unwrap().has("bad"));
        assert_eq!(
            Fields::from_json_bytes(br#""{\"name\": \"x\"}""#)
                .unwrap()
                .opt_str("name")
                .unwrap()
                .as_deref(),
            Some("x")
        );
        assert!(Fields::from_json_bytes(b"[]").is_err());
    }

    #[test]
    fn query_strings_repeat_into_lists() {
        let f = Fields::from_query("run_ids=a&run_ids=b&max_results=5&flag=true");
        assert_eq!(f.str_list("run_ids").unwrap(), vec!["a", "b"]);
        assert_eq!(f.opt_i64("max_results").unwrap(), Some(5));
        assert_eq!(f.opt_bool("flag").unwrap(), Some(true));
    }

    #[test]
    fn nested_paths() {
        let f = Fields::from_json_bytes(br#"{"metrics": [{"key": "a"}]}"#).unwrap();
        let m = &f.objects("metrics").unwrap()[0];
        assert!(
            m.req_f64("value")
                .unwrap_err()
                .message
                .contains("'metrics[0].value'")
        );
    }
}
