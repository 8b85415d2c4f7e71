//! `/graphql`: MLflow's GraphQL API (the queries its web UI sends, over the same data as
//! the REST API). A document is parsed, checked against MLflow's limits (root fields,
//! aliases, depth, selections), validated against the schema in `schema.rs`, then each
//! root field is answered by the REST route behind it, called in process, so every rule and
//! message is the REST API's own. Answers are `{"data": ..., "errors": [...]}` with 200.

mod parser;
mod schema;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::response::Response;
use futures_util::future::BoxFuture;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

use parser::{Document, Field, GValue, OpKind, Selection};
use schema::{Kind, Root};

use crate::AppState;
use crate::request::Fields;

/// MLflow's limits on a query (`MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS` and `_MAX_ALIASES`
/// default to 10).
pub const MAX_DEPTH: usize = 10;
const MAX_SELECTIONS: usize = 1000;
const MAX_ROOT_FIELDS_VAR: &str = "MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS";
const MAX_ALIASES_VAR: &str = "MLFLOW_SERVER_GRAPHQL_MAX_ALIASES";

fn limit(var: &str) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(10)
}

fn answer(data: Value, errors: Vec<String>) -> Response {
    let body = json!({
        "data": data,
        "errors": if errors.is_empty() { Value::Null } else { json!(errors) },
    });
    let mut resp = Response::new(Body::from(body.to_string()));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

pub async fn graphql(State(s): State<AppState>, req: Request) -> Response {
    // Each inner call is authorized for the signed-in caller, as the route itself would be.
    let caller = req.extensions().get::<crate::auth::Caller>().cloned();
    let f = if req.method() == Method::GET {
        Fields::from_query(req.uri().query().unwrap_or(""))
    } else {
        use axum::extract::FromRequest;
        use axum::response::IntoResponse;
        match Fields::from_request(req, &()).await {
            Ok(f) => f,
            Err(e) => return e.into_response(),
        }
    };
    let query = f.opt_str("query").ok().flatten().unwrap_or_default();
    let op_name = f.opt_str("operationName").ok().flatten();
    let variables = match f.raw("variables") {
        Some(Value::Object(m)) => m.clone(),
        Some(Value::String(text)) => match serde_json::from_str(text) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        },
        _ => Map::new(),
    };
    if query.trim().is_empty() {
        return answer(Value::Null, vec!["Must provide query string.".into()]);
    }
    let doc = match parser::parse(&query) {
        Ok(d) => d,
        Err(e) => return answer(Value::Null, vec![e]),
    };
    if let Err(e) = check_safety(&doc) {
        return answer(Value::Null, vec![e]);
    }
    let op = match (&op_name, doc.operations.len()) {
        (Some(n), _) => doc.operations.iter().find(|o| o.name.as_deref() == Some(n)),
        (None, 1) => doc.operations.first(),
        (None, _) => {
            return answer(
                Value::Null,
                vec!["Must provide operation name if query contains multiple operations.".into()],
            );
        }
    };
    let Some(op) = op else {
        return answer(
            Value::Null,
            vec![format!(
                "Unknown operation named '{}'.",
                op_name.unwrap_or_default()
            )],
        );
    };
    let (roots, root_type) = match op.kind {
        OpKind::Query => (schema::QUERY, "Query"),
        OpKind::Mutation => (schema::MUTATION, "Mutation"),
        OpKind::Subscription => {
            return answer(
                Value::Null,
                vec!["Schema is not configured to execute subscription operation.".into()],
            );
        }
    };
    let mut vars = variables;
    for (name, default) in &op.variables {
        if !vars.contains_key(name)
            && let Some(d) = default
        {
            vars.insert(name.clone(), to_json(d, &vars, false));
        }
    }
    let fields = collect(&op.selection, &doc, root_type);
    let mut errors = Vec::new();
    for f in &fields {
        validate_root(f, roots, root_type, &doc, &mut errors);
    }
    if !errors.is_empty() {
        return answer(Value::Null, errors);
    }
    let exec = Exec {
        s: &s,
        doc: &doc,
        caller,
    };
    let mut data = Map::new();
    for f in fields {
        let value = match f.name.as_str() {
            "__typename" => json!(root_type),
            "test" => {
                let input = arg(&f, "inputString", &vars);
                exec.select("Test", &json!({"output": input}), &f.selection, &mut errors)
                    .await
            }
            // MLflow's `testMutation` has no resolver its schema finds: it answers null.
            "testMutation" => Value::Null,
            name => {
                let root = roots.iter().find(|r| r.name == name).copied();
                match root {
                    Some(root) => {
                        let mut input = arg(&f, "input", &vars);
                        if root.name == "mlflowGetMetricHistoryBulkInterval"
                            && let Value::Object(m) = &mut input
                        {
                            // MLflow reads these three from the HTTP query string, never
                            // from the GraphQL input: through GraphQL they are ignored.
                            for k in ["start_step", "end_step", "max_results"] {
                                m.remove(k);
                            }
                        }
                        match exec.rest(root, &input).await {
                            Ok(v) => exec.select(root.ty, &v, &f.selection, &mut errors).await,
                            Err(message) => {
                                errors.push(message);
                                Value::Null
                            }
                        }
                    }
                    None => Value::Null,
                }
            }
        };
        data.insert(f.key().to_string(), value);
    }
    answer(Value::Object(data), errors)
}

/// An argument's value as JSON, with input object keys in REST's snake_case.
fn arg(f: &Field, name: &str, vars: &Map<String, Value>) -> Value {
    f.args
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| to_json(v, vars, true))
        .unwrap_or(Value::Null)
}

fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn to_json(v: &GValue, vars: &Map<String, Value>, snake_keys: bool) -> Value {
    match v {
        GValue::Var(n) => {
            let v = vars.get(n).cloned().unwrap_or(Value::Null);
            if snake_keys { snake_value(v) } else { v }
        }
        GValue::Int(n) => json!(n),
        GValue::Float(f) => json!(f),
        GValue::Str(s) | GValue::Enum(s) => json!(s),
        GValue::Bool(b) => json!(b),
        GValue::Null => Value::Null,
        GValue::List(items) => {
            Value::Array(items.iter().map(|i| to_json(i, vars, snake_keys)).collect())
        }
        GValue::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| {
                    (
                        if snake_keys { snake(k) } else { k.clone() },
                        to_json(v, vars, snake_keys),
                    )
                })
                .collect(),
        ),
    }
}

/// Variables come in the schema's camelCase too.
fn snake_value(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (snake(&k), snake_value(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(snake_value).collect()),
        other => other,
    }
}

/// The fields a selection asks of an object of type `ty`, fragments spread in, fields of
/// the same answer key merged.
fn collect(selection: &[Selection], doc: &Document, ty: &str) -> Vec<Field> {
    fn walk(
        sel: &[Selection],
        doc: &Document,
        ty: &str,
        seen: &mut Vec<String>,
        out: &mut Vec<Field>,
    ) {
        let applies = |on: &Option<String>| {
            on.as_deref()
                .is_none_or(|on| on == ty || format!("{on}Extension") == ty)
        };
        for s in sel {
            match s {
                Selection::Field(f) => match out.iter_mut().find(|o| o.key() == f.key()) {
                    Some(existing) => existing.selection.extend(f.selection.iter().cloned()),
                    None => out.push(f.clone()),
                },
                Selection::Inline { on, selection } if applies(on) => {
                    walk(selection, doc, ty, seen, out)
                }
                Selection::Inline { .. } => {}
                Selection::Spread(name) => {
                    if seen.contains(name) {
                        continue;
                    }
                    if let Some(frag) = doc.fragments.get(name)
                        && applies(&Some(frag.on.clone()))
                    {
                        seen.push(name.clone());
                        walk(&frag.selection, doc, ty, seen, out);
                        seen.pop();
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(selection, doc, ty, &mut Vec::new(), &mut out);
    out
}

/// MLflow's limits, checked on the document before anything else, as its server does:
/// depth, total selections, root fields and aliases per selection set.
fn check_safety(doc: &Document) -> Result<(), String> {
    fn level(
        sel: &[Selection],
        doc: &Document,
        visited: &mut Vec<String>,
        fields: &mut Vec<Field>,
    ) -> usize {
        let mut aliases = 0;
        for s in sel {
            match s {
                Selection::Field(f) => {
                    if f.alias.is_some() {
                        aliases += 1;
                    }
                    fields.push(f.clone());
                }
                Selection::Inline { selection, .. } => {
                    aliases += level(selection, doc, visited, fields)
                }
                Selection::Spread(name) => {
                    if !visited.contains(name)
                        && let Some(frag) = doc.fragments.get(name)
                    {
                        visited.push(name.clone());
                        aliases += level(&frag.selection, doc, visited, fields);
                    }
                }
            }
        }
        aliases
    }
    let (mut root_fields, mut max_aliases, mut total) = (0usize, 0usize, 0usize);
    for op in &doc.operations {
        let mut stack: Vec<(Vec<Selection>, usize, Vec<String>)> =
            vec![(op.selection.clone(), 1, vec![])];
        while let Some((sel, depth, visited)) = stack.pop() {
            if depth > MAX_DEPTH {
                return Err(format!("Query exceeds maximum depth of {MAX_DEPTH}"));
            }
            let mut fields = Vec::new();
            let mut v = visited.clone();
            let aliases = level(&sel, doc, &mut v, &mut fields);
            for f in fields {
                if depth == 1 {
                    root_fields += 1;
                }
                if !f.selection.is_empty() {
                    stack.push((f.selection.clone(), depth + 1, visited.clone()));
                }
                total += 1;
                if total > MAX_SELECTIONS {
                    return Err(format!(
                        "Query exceeds maximum total selections of {MAX_SELECTIONS}"
                    ));
                }
            }
            max_aliases = max_aliases.max(aliases);
        }
    }
    let (max_roots, max_alias) = (limit(MAX_ROOT_FIELDS_VAR), limit(MAX_ALIASES_VAR));
    let over = |what: &str, var: &str, max: usize, got: usize| {
        Err(format!(
            "GraphQL queries should have at most {max} {what}, got {got} {what}. To increase the limit, set the {var} environment variable."
        ))
    };
    if root_fields > max_roots {
        return over("root fields", MAX_ROOT_FIELDS_VAR, max_roots, root_fields);
    }
    if max_aliases > max_alias {
        return over("aliases", MAX_ALIASES_VAR, max_alias, max_aliases);
    }
    Ok(())
}

fn validate_root(
    f: &Field,
    roots: &[Root],
    root_type: &str,
    doc: &Document,
    errors: &mut Vec<String>,
) {
    let ty = match f.name.as_str() {
        "__typename" => return,
        "test" if root_type == "Query" => "Test",
        "testMutation" if root_type == "Mutation" => "TestMutation",
        name => match roots.iter().find(|r| r.name == name) {
            Some(r) => r.ty,
            None => {
                let mut names: Vec<&str> = roots.iter().map(|r| r.name).collect();
                names.push(if root_type == "Query" {
                    "test"
                } else {
                    "testMutation"
                });
                errors.push(format!(
                    "Cannot query field '{name}' on type '{root_type}'.{}",
                    did_you_mean(name, &names)
                ));
                return;
            }
        },
    };
    validate(f, ty, doc, errors);
}

/// Refuses fields a type does not have, and selections on scalars or missing on objects.
fn validate(f: &Field, ty: &str, doc: &Document, errors: &mut Vec<String>) {
    let Some(defs) = schema::fields(ty) else {
        return;
    };
    if f.selection.is_empty() {
        errors.push(format!(
            "Field '{}' of type '{ty}' must have a selection of subfields. Did you mean '{} {{ ... }}'?",
            f.name, f.name
        ));
        return;
    }
    for sub in collect(&f.selection, doc, ty) {
        if sub.name == "__typename" {
            continue;
        }
        let Some((_, _, kind)) = defs.iter().find(|(n, _, _)| *n == sub.name) else {
            let names: Vec<&str> = defs.iter().map(|(n, _, _)| *n).collect();
            errors.push(format!(
                "Cannot query field '{}' on type '{ty}'.{}",
                sub.name,
                did_you_mean(&sub.name, &names)
            ));
            continue;
        };
        let child = match kind {
            Kind::Obj(t) | Kind::List(t) => Some(*t),
            Kind::RunExperiment => Some("MlflowExperiment"),
            Kind::RunModelVersions => Some("MlflowModelVersion"),
            Kind::Absent if sub.name == "apiError" => Some("ApiError"),
            _ => None,
        };
        match child {
            Some(t) => validate(&sub, t, doc, errors),
            None if !sub.selection.is_empty() => errors.push(format!(
                "Field '{}' must not have a selection since type '{}' has no subfields.",
                sub.name,
                scalar_name(*kind)
            )),
            None => {}
        }
    }
}

/// graphql-core's " Did you mean 'a', 'b', or 'c'?": the options within a small edit
/// distance (an optimal-string-alignment distance, case changes costing one), closest first.
fn did_you_mean(input: &str, options: &[&str]) -> String {
    let threshold = input.chars().count() * 4 / 10 + 1;
    let lower: Vec<char> = input.to_lowercase().chars().collect();
    let distance = |option: &str| -> Option<usize> {
        if option == input {
            return Some(0);
        }
        let o: Vec<char> = option.to_lowercase().chars().collect();
        if o == lower {
            return Some(1);
        }
        let (a, b) = if o.len() >= lower.len() {
            (&o, &lower)
        } else {
            (&lower, &o)
        };
        if a.len() - b.len() > threshold {
            return None;
        }
        let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for (j, cell) in d[0].iter_mut().enumerate() {
            *cell = j;
        }
        for i in 1..=a.len() {
            d[i][0] = i;
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut v = (d[i - 1][j] + 1)
                    .min(d[i][j - 1] + 1)
                    .min(d[i - 1][j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    v = v.min(d[i - 2][j - 2] + 1);
                }
                d[i][j] = v;
            }
        }
        let v = d[a.len()][b.len()];
        (v <= threshold).then_some(v)
    };
    let mut found: Vec<(usize, &str)> = options
        .iter()
        .filter_map(|o| distance(o).map(|d| (d, *o)))
        .collect();
    found.sort();
    let names: Vec<String> = found
        .iter()
        .take(5)
        .map(|(_, n)| format!("'{n}'"))
        .collect();
    match names.len() {
        0 => String::new(),
        1 => format!(" Did you mean {}?", names[0]),
        2 => format!(" Did you mean {} or {}?", names[0], names[1]),
        n => format!(
            " Did you mean {}, or {}?",
            names[..n - 1].join(", "),
            names[n - 1]
        ),
    }
}

fn scalar_name(k: Kind) -> &'static str {
    match k {
        Kind::Long => "LongString",
        Kind::Float => "Float",
        Kind::Bool => "Boolean",
        Kind::Enum(name) => name,
        _ => "String",
    }
}

struct Exec<'a> {
    s: &'a AppState,
    doc: &'a Document,
    caller: Option<crate::auth::Caller>,
}

impl Exec<'_> {
    /// Calls a REST route in process; its error message becomes the GraphQL error.
    async fn call(
        &self,
        method: &str,
        endpoint: &str,
        ajax: bool,
        input: &Value,
    ) -> Result<Value, String> {
        let prefix = if ajax { "/ajax-api" } else { "/api" };
        let mut uri = format!("{prefix}/2.0/mlflow/{endpoint}");
        let builder = axum::http::Request::builder().header(header::HOST, "127.0.0.1");
        let req = if method == "GET" {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            if let Value::Object(m) = input {
                for (k, v) in m {
                    match v {
                        Value::Null => {}
                        Value::Array(items) => {
                            for i in items {
                                q.append_pair(k, &scalar(i));
                            }
                        }
                        other => {
                            q.append_pair(k, &scalar(other));
                        }
                    }
                }
            }
            let q = q.finish();
            if !q.is_empty() {
                uri = format!("{uri}?{q}");
            }
            builder.method(Method::GET).uri(uri).body(Body::empty())
        } else {
            let body = if input.is_null() {
                json!({})
            } else {
                input.clone()
            };
            builder
                .method(Method::POST)
                .uri(uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
        }
        .map_err(|e| e.to_string())?;
        let mut req = req;
        if let Some(c) = &self.caller {
            req.extensions_mut().insert(c.clone());
        }
        let resp = crate::routes::internal(self.s.clone())
            .oneshot(req)
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(v);
        }
        // MLflow's JSON error message; the basic-auth app's 401/403 answer in plain text.
        let text = String::from_utf8_lossy(&bytes);
        Err(match v["message"].as_str() {
            Some(m) => m.to_string(),
            None if !text.trim().is_empty() && text.len() <= 500 => text.trim().to_string(),
            None => "The request failed".to_string(),
        })
    }

    async fn rest(&self, root: Root, input: &Value) -> Result<Value, String> {
        self.call(root.method, root.endpoint, root.ajax, input)
            .await
    }

    /// The selection of `value`, an object of type `ty`.
    fn select<'b>(
        &'b self,
        ty: &'static str,
        value: &'b Value,
        selection: &'b [Selection],
        errors: &'b mut Vec<String>,
    ) -> BoxFuture<'b, Value> {
        Box::pin(async move {
            let defs = schema::fields(ty).unwrap_or(&[]);
            let mut out = Map::new();
            for f in collect(selection, self.doc, ty) {
                if f.name == "__typename" {
                    out.insert(f.key().to_string(), json!(ty));
                    continue;
                }
                let Some((_, key, kind)) = defs.iter().find(|(n, _, _)| *n == f.name) else {
                    continue;
                };
                let raw = value.get(*key).unwrap_or(&Value::Null);
                let v = match kind {
                    Kind::Str => match raw {
                        Value::Null => json!(""),
                        Value::String(_) => raw.clone(),
                        other => json!(scalar(other)),
                    },
                    Kind::Long => match raw {
                        Value::Null => json!("0"),
                        Value::Number(n) => json!(n.to_string()),
                        Value::String(s) => json!(s),
                        _ => Value::Null,
                    },
                    Kind::Float => match raw {
                        Value::Null => json!(0.0),
                        Value::Number(_) => raw.clone(),
                        // "NaN" and the infinities cannot be GraphQL Floats: null, as MLflow.
                        _ => Value::Null,
                    },
                    Kind::Bool => json!(raw.as_bool().unwrap_or(false)),
                    Kind::Enum(_) => raw.clone(),
                    Kind::Absent => Value::Null,
                    Kind::StrList => match raw {
                        Value::Array(_) => raw.clone(),
                        _ => json!([]),
                    },
                    Kind::Obj(t) => {
                        let empty = json!({});
                        let obj = if raw.is_object() { raw } else { &empty };
                        self.select(t, obj, &f.selection, errors).await
                    }
                    Kind::List(t) => {
                        let mut items = Vec::new();
                        if let Value::Array(a) = raw {
                            for item in a {
                                items.push(self.select(t, item, &f.selection, errors).await);
                            }
                        }
                        Value::Array(items)
                    }
                    Kind::RunExperiment => {
                        let id = value["info"]["experiment_id"].clone();
                        match self
                            .call(
                                "GET",
                                "experiments/get",
                                false,
                                &json!({"experiment_id": id}),
                            )
                            .await
                        {
                            Ok(v) => {
                                self.select(
                                    "MlflowExperiment",
                                    &v["experiment"],
                                    &f.selection,
                                    errors,
                                )
                                .await
                            }
                            Err(e) => {
                                errors.push(e);
                                Value::Null
                            }
                        }
                    }
                    Kind::RunModelVersions => {
                        let run = value["info"]["run_id"].as_str().unwrap_or_default();
                        let filter = format!("run_id='{run}'");
                        match self
                            .call(
                                "GET",
                                "model-versions/search",
                                false,
                                &json!({"filter": filter}),
                            )
                            .await
                        {
                            Ok(v) => {
                                let mut items = Vec::new();
                                if let Value::Array(a) = &v["model_versions"] {
                                    for item in a {
                                        items.push(
                                            self.select(
                                                "MlflowModelVersion",
                                                item,
                                                &f.selection,
                                                errors,
                                            )
                                            .await,
                                        );
                                    }
                                }
                                Value::Array(items)
                            }
                            Err(e) => {
                                errors.push(e);
                                Value::Null
                            }
                        }
                    }
                };
                out.insert(f.key().to_string(), v);
            }
            Value::Object(out)
        })
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What parses, what is refused before running: for the unit tests of this module.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked_as_mlflow_checks_them() {
        let roots = (0..12)
            .map(|i| format!("k{i}: test(inputString: \"a\") {{ output }}"))
            .collect::<Vec<_>>()
            .join(" ");
        let doc = parser::parse(&format!("query q {{ {roots} }}")).unwrap();
        assert!(
            check_safety(&doc)
                .unwrap_err()
                .starts_with("GraphQL queries should have at most 10 root fields, got 12")
        );
        let aliases = (0..12)
            .map(|i| format!("e{i}: experiment {{ name }}"))
            .collect::<Vec<_>>()
            .join(" ");
        let doc = parser::parse(&format!(
            "{{ mlflowGetExperiment(input: {{experimentId: \"1\"}}) {{ {aliases} }} }}"
        ))
        .unwrap();
        assert!(
            check_safety(&doc)
                .unwrap_err()
                .contains("at most 10 aliases, got 12 aliases")
        );
        let mut inner = "name".to_string();
        for _ in 0..12 {
            inner = format!("name {{ {inner} }}");
        }
        let doc = parser::parse(&format!("{{ a {{ {inner} }} }}")).unwrap();
        assert_eq!(
            check_safety(&doc).unwrap_err(),
            "Query exceeds maximum depth of 10"
        );
        let many = (0..1002)
            .map(|i| format!("f{i} {{ name }}"))
            .collect::<Vec<_>>()
            .join(" ");
        let doc = parser::parse(&format!("{{ a {{ b {{ {many} }} }} }}")).unwrap();
        assert_eq!(
            check_safety(&doc).unwrap_err(),
            "Query exceeds maximum total selections of 1000"
        );
    }

    #[test]
    fn fragments_spread_into_the_selection() {
        let doc = parser::parse("{ a { ...F ... on MlflowRun { y } ... on Other { z } } } fragment F on MlflowRunExtension { x }").unwrap();
        let Selection::Field(a) = &doc.operations[0].selection[0] else {
            panic!()
        };
        let names: Vec<String> = collect(&a.selection, &doc, "MlflowRunExtension")
            .iter()
            .map(|f| f.name.clone())
            .collect();
        assert_eq!(names, ["x", "y"]);
        assert_eq!(snake("runViewType"), "run_view_type");
        assert_eq!(
            did_you_mean("nope", &["name", "tags"]),
            " Did you mean 'name'?"
        );
        assert_eq!(did_you_mean("zzzzzz", &["name"]), "");
    }
}
