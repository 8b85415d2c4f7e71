//! The server's integration tests: requests through the real router, store and artifact
//! repository, responses compared with snapshots (ids and times redacted).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use ferroflow_artifacts::LocalRepo;
use ferroflow_server::{AppState, ServerConfig, default_allowed_hosts, router};
use ferroflow_store::sql::{SqlStore, StoreOptions};
use serde_json::Value;
use tower::ServiceExt;

struct App {
    router: Router,
    _dir: tempfile::TempDir,
}

async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open(
        &format!("sqlite:///{}/mlflow.db", dir.path().display()),
        StoreOptions {
            default_artifact_root: "mlflow-artifacts:/".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let config = ServerConfig {
        host: "127.0.0.1".into(),
        port: 5000,
        backend_store_uri: "sqlite:///mlflow.db".into(),
        default_artifact_root: "mlflow-artifacts:/".into(),
        artifacts_destination: Some(dir.path().join("artifacts").display().to_string()),
        allowed_hosts: default_allowed_hosts(),
        cors_allowed_origins: vec![],
        host_policy: Default::default(),
        max_artifact_location_length: ferroflow_core::validation::MAX_ARTIFACT_LOCATION_LENGTH,
        x_frame_options: Some("SAMEORIGIN".into()),
        static_prefix: String::new(),
    };
    let state = AppState::new(
        store,
        Some(Arc::new(LocalRepo::new(dir.path().join("artifacts")))),
        config,
    );
    App {
        router: router(state),
        _dir: dir,
    }
}

impl App {
    async fn call(
        &self,
        method: Method,
        uri: &str,
        body: impl Into<Body>,
    ) -> (StatusCode, Vec<u8>) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "127.0.0.1:5000")
            .header("content-type", "application/json")
            .body(body.into())
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, bytes.to_vec())
    }

    async fn json(&self, method: Method, uri: &str, body: &str) -> (StatusCode, Value) {
        let (status, bytes) = self.call(method, uri, body.to_string()).await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

/// Replaces run ids and timestamps so snapshots are stable.
fn redact(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let x = match k.as_str() {
                        "start_time" | "end_time" | "creation_time" | "last_update_time"
                        | "timestamp" => Value::String("[time]".into()),
                        _ => redact(x),
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redact).collect()),
        Value::String(s) => {
            let mut out = s.clone();
            for word in s.split(|c: char| !c.is_ascii_hexdigit()) {
                if word.len() == 32 {
                    out = out.replace(word, "[run_id]");
                }
            }
            Value::String(out)
        }
        other => other.clone(),
    }
}

#[tokio::test]
async fn experiment_and_run_shapes() {
    let a = app().await;
    let (s, body) = a
        .json(
            Method::POST,
            "/api/2.0/mlflow/experiments/create",
            r#"{"name": "wine"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    insta::assert_json_snapshot!("create_experiment", body);
    let (_, body) = a
        .json(
            Method::GET,
            "/api/2.0/mlflow/experiments/get?experiment_id=1",
            "",
        )
        .await;
    insta::assert_json_snapshot!("get_experiment", redact(&body));
    let (_, body) = a
        .json(
            Method::POST,
            "/ajax-api/2.0/mlflow/runs/create",
            r#"{"experiment_id": "1", "run_name": "r", "start_time": 1, "tags": [{"key": "t", "value": "v"}]}"#,
        )
        .await;
    let run_id = body["run"]["info"]["run_id"].as_str().unwrap().to_string();
    insta::assert_json_snapshot!("create_run", redact(&body));
    let log = format!(
        r#"{{"run_id": "{run_id}", "metrics": [{{"key": "loss", "value": NaN, "timestamp": 5, "step": 1}}], "params": [{{"key": "alpha", "value": "0.5"}}]}}"#
    );
    let (s, body) = a
        .json(Method::POST, "/api/2.0/mlflow/runs/log-batch", &log)
        .await;
    assert_eq!((s, body), (StatusCode::OK, serde_json::json!({})));
    let (_, body) = a
        .json(
            Method::GET,
            &format!("/api/2.0/mlflow/runs/get?run_id={run_id}"),
            "",
        )
        .await;
    insta::assert_json_snapshot!("get_run_after_logging", redact(&body));
    let (_, body) = a
        .json(
            Method::GET,
            &format!("/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key=loss"),
            "",
        )
        .await;
    insta::assert_json_snapshot!("metric_history_nan", redact(&body));
}

#[tokio::test]
async fn errors_are_mlflow_bodies() {
    let a = app().await;
    let (s, body) = a.json(Method::GET, "/api/2.0/mlflow/nope", "").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    insta::assert_json_snapshot!("unknown_endpoint", body);
    let (s, body) = a
        .json(Method::POST, "/api/2.0/mlflow/experiments/create", "{bad")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    insta::assert_json_snapshot!("malformed_json", body);
    let (s, body) = a
        .json(Method::GET, "/api/2.0/mlflow/runs/get?run_id=abc", "")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    insta::assert_json_snapshot!("unknown_run", body);
    let (s, body) = a.json(Method::GET, "/api/2.0/mlflow/runs/create", "").await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error_code"], "ENDPOINT_NOT_FOUND");
}

#[tokio::test]
async fn artifacts_stream_through_the_proxy() {
    let a = app().await;
    let payload = vec![7u8; 3 * 1024 * 1024 + 5];
    let (s, _) = a
        .call(
            Method::PUT,
            "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/big.bin",
            payload.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, got) = a
        .call(
            Method::GET,
            "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/big.bin",
            Body::empty(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got, payload);
    let (_, listing) = a
        .json(
            Method::GET,
            "/api/2.0/mlflow-artifacts/artifacts?path=1/r/artifacts",
            "",
        )
        .await;
    insta::assert_json_snapshot!("artifact_listing", listing);
    let (s, body) = a
        .json(
            Method::PUT,
            "/api/2.0/mlflow-artifacts/artifacts/1/..%2F..%2Fx",
            "x",
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error_code"], "INVALID_PARAMETER_VALUE");
}

#[tokio::test]
async fn untrusted_hosts_are_refused() {
    let a = app().await;
    let req = Request::builder()
        .uri("/api/2.0/mlflow/experiments/search")
        .header("host", "evil.example")
        .body(Body::empty())
        .unwrap();
    let resp = a.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

mod downsample;
