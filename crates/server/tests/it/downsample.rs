//! `ferroflow/metrics/get-history-downsampled`: bounded answers that keep extremes and
//! the last point, step ranges for zoom, MLflow error bodies, gzip.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{App, app};

const ROUTE: &str = "/ajax-api/2.0/mlflow/ferroflow/metrics/get-history-downsampled";

/// `GET` of the route with a query string.
async fn get(a: &App, query: &str) -> (StatusCode, Value) {
    a.json(Method::GET, &format!("{ROUTE}?{query}"), "").await
}

/// A run with `n` points of `loss` at steps 0..n: a sine, a spike at 4321 and a dip at 777.
async fn run_with_points(a: &App, n: i64) -> String {
    let (_, body) = a
        .json(
            Method::POST,
            "/api/2.0/mlflow/runs/create",
            r#"{"experiment_id": "0", "start_time": 1}"#,
        )
        .await;
    let run_id = body["run"]["info"]["run_id"].as_str().unwrap().to_string();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let metrics: Vec<Value> = chunk
            .iter()
            .map(|&i| {
                let value = match i {
                    4321 => 50.0,
                    777 => -50.0,
                    _ => (i as f64 / 100.0).sin(),
                };
                json!({"key": "loss", "value": value, "timestamp": 1000 + i, "step": i})
            })
            .collect();
        let (s, _) = a
            .json(
                Method::POST,
                "/api/2.0/mlflow/runs/log-batch",
                &json!({"run_id": run_id, "metrics": metrics}).to_string(),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    run_id
}

#[tokio::test]
async fn keeps_extremes_and_the_last_point_within_max_points() {
    let a = app().await;
    let run_id = run_with_points(&a, 20_000).await;
    let (s, body) = get(
        &a,
        &format!("run_id={run_id}&metric_key=loss&max_points=200"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["metric_key"], "loss");
    assert_eq!(body["total_points"], 20_000);
    let steps = body["steps"].as_array().unwrap();
    let values = body["values"].as_array().unwrap();
    assert!(steps.len() <= 200 && steps.len() >= 100, "{}", steps.len());
    assert_eq!(values.len(), steps.len());
    assert_eq!(body["timestamps"].as_array().unwrap().len(), steps.len());
    assert!(values.contains(&json!(50.0)) && values.contains(&json!(-50.0)));
    assert_eq!(steps[0], 0);
    assert_eq!(steps.last().unwrap(), 19_999);

    // The default budget, under /api too.
    let (_, body) = a
        .json(
            Method::GET,
            &format!("/api/2.0/mlflow/ferroflow/metrics/get-history-downsampled?run_id={run_id}&metric_key=loss"),
            "",
        )
        .await;
    assert!(body["steps"].as_array().unwrap().len() <= 1000);
}

#[tokio::test]
async fn a_step_range_is_inclusive_and_small_ranges_come_back_whole() {
    let a = app().await;
    let run_id = run_with_points(&a, 5_000).await;
    let (s, body) = get(
        &a,
        &format!("run_id={run_id}&metric_key=loss&start_step=4300&end_step=4399"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["total_points"], 100);
    let steps: Vec<i64> = body["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(steps, (4300..=4399).collect::<Vec<_>>());
    assert_eq!(body["values"][21], 50.0);
    // Only an end: from the first point. An unknown key: no points.
    let (_, body) = get(&a, &format!("run_id={run_id}&metric_key=loss&end_step=9")).await;
    assert_eq!(body["total_points"], 10);
    let (_, body) = get(&a, &format!("run_id={run_id}&metric_key=nope")).await;
    assert_eq!(
        body,
        json!({"metric_key": "nope", "total_points": 0, "steps": [], "timestamps": [], "values": []})
    );
}

#[tokio::test]
async fn bad_requests_get_mlflow_error_bodies() {
    let a = app().await;
    let run_id = run_with_points(&a, 10).await;
    let (s, body) = get(
        &a,
        "run_id=0123456789abcdef0123456789abcdef&metric_key=loss",
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(body["error_code"], "RESOURCE_DOES_NOT_EXIST");
    for bad in [
        "",
        "&metric_key=loss&max_points=10001",
        "&metric_key=loss&max_points=3",
        "&metric_key=loss&max_points=many",
        "&metric_key=loss&start_step=5&end_step=4",
    ] {
        let (s, body) = get(&a, &format!("run_id={run_id}{bad}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error_code"], "INVALID_PARAMETER_VALUE", "{bad}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn json_is_gzipped_when_the_client_accepts_it() {
    let a = app().await;
    let run_id = run_with_points(&a, 3_000).await;
    let req = Request::builder()
        .uri(format!("{ROUTE}?run_id={run_id}&metric_key=loss"))
        .header("host", "127.0.0.1:5000")
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    let resp = a.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_ENCODING], "gzip");
    // Without Accept-Encoding the body is plain JSON.
    let (s, bytes) = a
        .call(
            Method::GET,
            &format!("{ROUTE}?run_id={run_id}&metric_key=loss"),
            "",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(serde_json::from_slice::<Value>(&bytes).is_ok());
}
