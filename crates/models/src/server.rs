//! The scoring server: MLflow's `/ping`, `/health`, `/version` and `/invocations`, the Open
//! Inference Protocol V2 routes (`--enable-mlserver`), and `/metrics`.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::enforce::enforce;
use crate::input::{self, Frame, Input};
use crate::metrics::Metrics;
use crate::predictor::{PredictError, Predictor};
use crate::schema::{Schema, Signature};

/// What the server says about the model and how much it accepts.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The model's name on the V2 routes.
    pub model_name: String,
    pub signature: Option<Signature>,
    /// The MLflow version `/version` answers.
    pub version: String,
    /// The largest request body, in bytes (413 beyond).
    pub max_request_bytes: usize,
    /// Serve the V2 routes.
    pub enable_v2: bool,
}

#[derive(Clone)]
struct Ctx {
    predictor: Arc<dyn Predictor>,
    opts: Arc<ServeOptions>,
    metrics: Arc<Metrics>,
}

/// The scoring server's routes over `predictor`.
pub fn router(predictor: Arc<dyn Predictor>, opts: ServeOptions) -> Router {
    let enable_v2 = opts.enable_v2;
    let ctx = Ctx {
        predictor,
        opts: Arc::new(opts),
        metrics: Arc::new(Metrics::default()),
    };
    let mut app = Router::new()
        .route("/ping", get(ping))
        .route("/health", get(ping))
        .route("/version", get(version))
        .route("/invocations", post(invocations))
        .route("/metrics", get(metrics));
    if enable_v2 {
        app = app
            .route("/v2", get(v2_server))
            .route("/v2/health/live", get(v2_live))
            .route("/v2/health/ready", get(v2_ready))
            .route("/v2/models/{name}", get(v2_model))
            .route("/v2/models/{name}/ready", get(v2_model_ready))
            .route("/v2/models/{name}/infer", post(v2_infer))
            .route(
                "/v2/models/{name}/versions/{version}/infer",
                post(v2_infer_version),
            );
    }
    app.fallback(not_found).with_state(ctx)
}

fn mlflow_error(status: u16, message: &str) -> Response {
    predict_error(&PredictError {
        status,
        message: message.to_string(),
        code: None,
        stack_trace: None,
    })
}

/// MLflow's error body: `error_code`, `message`, and the model's `stack_trace` if any.
fn predict_error(e: &PredictError) -> Response {
    let code = e.code.clone().unwrap_or_else(|| {
        match e.status {
            400 | 413 | 415 => "BAD_REQUEST",
            404 => "ENDPOINT_NOT_FOUND",
            503 => "TEMPORARILY_UNAVAILABLE",
            _ => "INTERNAL_ERROR",
        }
        .to_string()
    });
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut body = json!({"error_code": code, "message": e.message});
    if let Some(trace) = &e.stack_trace {
        body["stack_trace"] = json!(trace);
    }
    (status, axum::Json(body)).into_response()
}

async fn not_found() -> Response {
    mlflow_error(
        404,
        "no such route: the scoring server answers /ping, /health, /version, /invocations, /metrics (and /v2/... with --enable-mlserver)",
    )
}

async fn ping(State(c): State<Ctx>) -> Response {
    if c.predictor.ready() {
        (StatusCode::OK, "\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "the model is not ready\n").into_response()
    }
}

async fn version(State(c): State<Ctx>) -> String {
    c.opts.version.clone()
}

async fn metrics(State(c): State<Ctx>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        c.metrics.render(),
    )
        .into_response()
}

/// The request body, or a 413 past the limit.
async fn body(req: Request, limit: usize) -> Result<bytes::Bytes, (u16, String)> {
    to_bytes(req.into_body(), limit).await.map_err(|e| {
        let too_big = std::error::Error::source(&e)
            .is_some_and(|s| s.to_string().contains("length limit"))
            || e.to_string().contains("length limit");
        if too_big {
            (
                413,
                format!("the request body is larger than {limit} bytes (--max-request-bytes)"),
            )
        } else {
            (400, format!("cannot read the request body: {e}"))
        }
    })
}

/// Checks `input` against the signature and predicts.
async fn score(c: &Ctx, input: Input, params: Option<Value>) -> Result<Value, PredictError> {
    let input = match &c.opts.signature {
        Some(sig) => enforce(input, &sig.inputs).map_err(PredictError::bad_input)?,
        None => input,
    };
    c.predictor.predict(input, params).await
}

async fn invocations(State(c): State<Ctx>, headers: HeaderMap, req: Request) -> Response {
    let started = Instant::now();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let result = async {
        let bytes = body(req, c.opts.max_request_bytes)
            .await
            .map_err(|(status, message)| PredictError {
                status,
                message,
                code: None,
                stack_trace: None,
            })?;
        let decoded = input::decode(content_type.as_deref(), &bytes).map_err(|e| PredictError {
            status: e.status,
            message: e.message,
            code: None,
            stack_trace: None,
        })?;
        let predictions = score(&c, decoded.input, decoded.params).await?;
        Ok::<_, PredictError>(if decoded.legacy {
            predictions
        } else {
            json!({"predictions": predictions})
        })
    }
    .await;
    let (status, resp) = match result {
        Ok(v) => (200, axum::Json(v).into_response()),
        Err(e) => (e.status, predict_error(&e)),
    };
    c.metrics.observe("/invocations", status, started.elapsed());
    resp
}

// ---- Open Inference Protocol V2 -------------------------------------------------------

fn v2_error(status: u16, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(json!({"error": message}))).into_response()
}

async fn v2_server() -> Response {
    axum::Json(json!({"name": "ferroflow", "version": env!("CARGO_PKG_VERSION"), "extensions": []}))
        .into_response()
}

async fn v2_live() -> Response {
    (StatusCode::OK, axum::Json(json!({"live": true}))).into_response()
}

async fn v2_ready(State(c): State<Ctx>) -> Response {
    let ready = c.predictor.ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(json!({"ready": ready}))).into_response()
}

fn known_model(c: &Ctx, name: &str) -> Result<(), Box<Response>> {
    if name == c.opts.model_name {
        Ok(())
    } else {
        Err(Box::new(v2_error(
            404,
            &format!(
                "model '{name}' is not served here; this server serves '{}'",
                c.opts.model_name
            ),
        )))
    }
}

fn v2_specs(schema: Option<&Schema>) -> Vec<Value> {
    match schema {
        Some(Schema::Columns(cols)) => cols
            .iter()
            .enumerate()
            .map(|(i, c)| json!({"name": c.name.clone().unwrap_or_else(|| format!("input-{i}")), "datatype": c.ty.v2_datatype(), "shape": [-1]}))
            .collect(),
        Some(Schema::Tensors(ts)) => ts
            .iter()
            .enumerate()
            .map(|(i, t)| json!({"name": t.name.clone().unwrap_or_else(|| format!("input-{i}")), "datatype": t.v2_datatype(), "shape": t.shape}))
            .collect(),
        None => Vec::new(),
    }
}

async fn v2_model(State(c): State<Ctx>, Path(name): Path<String>) -> Response {
    if let Err(r) = known_model(&c, &name) {
        return *r;
    }
    let sig = c.opts.signature.as_ref();
    axum::Json(json!({
        "name": name,
        "versions": [],
        "platform": "mlflow",
        "inputs": v2_specs(sig.map(|s| &s.inputs)),
        "outputs": v2_specs(sig.and_then(|s| s.outputs.as_ref())),
    }))
    .into_response()
}

async fn v2_model_ready(State(c): State<Ctx>, Path(name): Path<String>) -> Response {
    if let Err(r) = known_model(&c, &name) {
        return *r;
    }
    v2_ready(State(c)).await
}

async fn v2_infer_version(
    State(c): State<Ctx>,
    Path((name, _version)): Path<(String, String)>,
    req: Request,
) -> Response {
    v2_infer(State(c), Path(name), req).await
}

async fn v2_infer(State(c): State<Ctx>, Path(name): Path<String>, req: Request) -> Response {
    let started = Instant::now();
    let resp = match known_model(&c, &name) {
        Err(r) => *r,
        Ok(()) => match v2_infer_inner(&c, &name, req).await {
            Ok(v) => axum::Json(v).into_response(),
            Err((status, message)) => v2_error(status, &message),
        },
    };
    c.metrics.observe(
        "/v2/models/infer",
        resp.status().as_u16(),
        started.elapsed(),
    );
    resp
}

async fn v2_infer_inner(c: &Ctx, name: &str, req: Request) -> Result<Value, (u16, String)> {
    let bytes = body(req, c.opts.max_request_bytes).await?;
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| (400, format!("the request body is not valid JSON: {e}")))?;
    let inputs = v["inputs"].as_array().filter(|a| !a.is_empty()).ok_or((
        400,
        "an inference request needs a non-empty 'inputs' list".to_string(),
    ))?;
    let mut tensors = Vec::with_capacity(inputs.len());
    for (i, t) in inputs.iter().enumerate() {
        tensors.push(V2Tensor::parse(t, i).map_err(|m| (400, m))?);
    }
    let columnar = matches!(
        c.opts.signature.as_ref().map(|s| &s.inputs),
        Some(Schema::Columns(_))
    ) || tensors
        .iter()
        .any(|t| t.content_type.as_deref() == Some("pd"));
    let input = if columnar {
        let rows = tensors[0].shape.first().copied().unwrap_or(0);
        let mut frame = Frame {
            columns: tensors.iter().map(|t| t.name.clone()).collect(),
            rows: vec![Vec::with_capacity(tensors.len()); rows],
        };
        for t in &tensors {
            if t.flat.len() != rows {
                return Err((
                    400,
                    format!(
                        "input '{}' has {} values, but the first input has {rows} rows: columns must be equally long",
                        t.name,
                        t.flat.len()
                    ),
                ));
            }
            for (r, v) in t.flat.iter().enumerate() {
                frame.rows[r].push(v.clone());
            }
        }
        Input::Frame(frame)
    } else if tensors.len() == 1 {
        Input::Tensor(tensors.remove(0).nested())
    } else {
        Input::Tensor(Value::Object(
            tensors
                .into_iter()
                .map(|t| (t.name.clone(), t.nested()))
                .collect(),
        ))
    };
    let params = v["parameters"]
        .as_object()
        .map(|p| {
            Value::Object(
                p.iter()
                    .filter(|(k, _)| k.as_str() != "content_type")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        })
        .filter(|p| p.as_object().is_some_and(|o| !o.is_empty()));
    let predictions = score(c, input, params)
        .await
        .map_err(|e| (e.status, e.message))?;
    let mut out = json!({"model_name": name, "outputs": v2_outputs(&predictions)});
    if let Some(id) = v.get("id") {
        out["id"] = id.clone();
    }
    Ok(out)
}

/// One V2 input tensor: its flat data and shape.
struct V2Tensor {
    name: String,
    shape: Vec<usize>,
    flat: Vec<Value>,
    content_type: Option<String>,
}

impl V2Tensor {
    fn parse(t: &Value, i: usize) -> Result<V2Tensor, String> {
        let name = t["name"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| format!("input-{i}"));
        let shape: Vec<usize> = t["shape"]
            .as_array()
            .ok_or(format!("input '{name}' has no 'shape'"))?
            .iter()
            .map(|d| {
                d.as_u64().map(|d| d as usize).ok_or(format!(
                    "input '{name}': the shape must be non-negative integers"
                ))
            })
            .collect::<Result<_, _>>()?;
        if t["datatype"].as_str().is_none() {
            return Err(format!("input '{name}' has no 'datatype'"));
        }
        let mut flat = Vec::new();
        flatten(&t["data"], &mut flat);
        let want: usize = shape.iter().product();
        if flat.len() != want {
            return Err(format!(
                "input '{name}' has {} values, but its shape {shape:?} holds {want}",
                flat.len()
            ));
        }
        let content_type = t["parameters"]["content_type"].as_str().map(String::from);
        Ok(V2Tensor {
            name,
            shape,
            flat,
            content_type,
        })
    }

    /// The data nested as the shape says (row-major).
    fn nested(self) -> Value {
        input::nest(&mut self.flat.into_iter(), &self.shape)
    }
}

fn flatten(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| flatten(x, out)),
        other => out.push(other.clone()),
    }
}

fn shape_and_flat(v: &Value) -> (Vec<usize>, Vec<Value>) {
    let shape = input::json_shape(v);
    let mut flat = Vec::new();
    flatten(v, &mut flat);
    (shape, flat)
}

fn v2_datatype(flat: &[Value]) -> &'static str {
    if flat.iter().all(|v| v.is_boolean()) {
        "BOOL"
    } else if flat.iter().all(|v| v.is_i64() || v.is_u64()) {
        "INT64"
    } else if flat.iter().all(Value::is_number) {
        "FP64"
    } else {
        "BYTES"
    }
}

/// Predictions as V2 output tensors: a list is one tensor, records one tensor per column,
/// an object one tensor per key.
fn v2_outputs(p: &Value) -> Vec<Value> {
    let tensor = |name: &str, v: &Value| {
        let (shape, flat) = shape_and_flat(v);
        json!({"name": name, "shape": shape, "datatype": v2_datatype(&flat), "data": flat})
    };
    match p {
        Value::Array(rows) if !rows.is_empty() && rows.iter().all(Value::is_object) => {
            let mut cols: Vec<String> = Vec::new();
            for r in rows {
                for k in r
                    .as_object()
                    .map(|o| o.keys().cloned().collect::<Vec<_>>())
                    .unwrap_or_default()
                {
                    if !cols.contains(&k) {
                        cols.push(k);
                    }
                }
            }
            cols.iter()
                .map(|c| {
                    tensor(
                        c,
                        &Value::Array(rows.iter().map(|r| r[c].clone()).collect()),
                    )
                })
                .collect()
        }
        Value::Object(m) => m.iter().map(|(k, v)| tensor(k, v)).collect(),
        other => vec![tensor("output-1", other)],
    }
}
