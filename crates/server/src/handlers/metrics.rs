//! `metrics/*`: histories are streamed as they are read, never built whole in memory.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;
use ferroflow_core::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferroflow_core::entities::{Metric, Point};
use futures_util::StreamExt;
use serde::Serialize;

use super::json;
use crate::request::Fields;
use crate::{ApiResult, AppState};

/// MLflow's bounds for `get-history-bulk-interval`.
const MAX_RUNS_BULK: usize = 100;
const MAX_RESULTS_PER_RUN: i64 = 2500;

pub async fn get_history(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let run_id = f.req_str_any(&["run_id", "run_uuid"])?;
    let key = f.req_str("metric_key")?;
    let max_results = f.opt_i64("max_results")?;
    let token = f.opt_str("page_token")?.filter(|t| !t.is_empty());
    let history = s
        .store
        .metric_history(&run_id, &key, max_results, token)
        .await?;

    // {"metrics":[m,m,...],"next_page_token":"..."}, with empty parts omitted as MLflow
    // does (no metrics is `{}`). Points are written straight into the body a batch at a
    // time; the key is escaped once.
    let prefix = format!("{{\"key\":{},\"value\":", serde_json::Value::String(key));
    let listed = Arc::new(AtomicBool::new(false));
    let opened = listed.clone();
    let next_page_token = history.next_page_token;
    let body =
        futures_util::stream::once(async { Ok::<_, std::io::Error>(Bytes::from_static(b"{")) })
            .chain(history.points.map(move |batch| {
                let batch = batch.map_err(|e| {
                    tracing::error!(error = %e, "metric history read failed mid-stream");
                    std::io::Error::other(e.message)
                })?;
                let mut buf = Vec::with_capacity(batch.len() * (prefix.len() + 56) + 16);
                for p in batch {
                    let first = !opened.swap(true, Ordering::Relaxed);
                    buf.extend_from_slice(if first { b"\"metrics\":[" } else { b"," });
                    write_point(&mut buf, &prefix, p);
                }
                Ok(Bytes::from(buf))
            }))
            .chain(futures_util::stream::once(async move {
                let token = next_page_token.await.ok().flatten();
                let listed = listed.load(Ordering::Relaxed);
                let mut tail = String::from(if listed { "]" } else { "" });
                if let Some(t) = token {
                    tail.push_str(if listed { "," } else { "" });
                    tail.push_str(&format!(
                        "\"next_page_token\":{}",
                        serde_json::Value::String(t)
                    ));
                }
                tail.push('}');
                Ok(Bytes::from(tail))
            }));
    let mut resp = Response::new(Body::from_stream(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// One `{"key":...,"value":...,"timestamp":...,"step":...}` object; non-finite values as
/// MLflow writes them.
fn write_point(buf: &mut Vec<u8>, prefix: &str, p: Point) {
    use std::io::Write;
    buf.extend_from_slice(prefix.as_bytes());
    if p.value.is_nan() {
        buf.extend_from_slice(b"\"NaN\"");
    } else if p.value.is_infinite() {
        buf.extend_from_slice(if p.value > 0.0 {
            b"\"Infinity\""
        } else {
            b"\"-Infinity\""
        });
    } else {
        let _ = serde_json::to_writer(&mut *buf, &p.value);
    }
    let _ = write!(buf, ",\"timestamp\":{},\"step\":{}}}", p.timestamp, p.step);
}

#[derive(Serialize)]
struct Bulk {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    metrics: Vec<Metric>,
}

/// MLflow's bounds for `get-history-bulk`.
const MAX_RUNS_HISTORY_BULK: usize = 100;
const MAX_HISTORY_BULK_RESULTS: i64 = 25_000;

/// `/ajax-api/2.0/mlflow/metrics/get-history-bulk?run_id=..&run_id=..&metric_key=`: the
/// whole histories of several runs (the UI's route before the interval one).
pub async fn get_history_bulk(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let run_ids = f.str_list("run_id")?;
    if run_ids.is_empty() {
        return Err(Error::invalid_param(
            "GetMetricHistoryBulk request must specify at least one run_id.",
        )
        .into());
    }
    if run_ids.len() > MAX_RUNS_HISTORY_BULK {
        return Err(Error::invalid_param(format!(
            "GetMetricHistoryBulk request cannot specify more than {MAX_RUNS_HISTORY_BULK} run_ids. Received {} run_ids.",
            run_ids.len()
        ))
        .into());
    }
    let Some(key) = f.opt_str("metric_key")? else {
        return Err(Error::invalid_param(
            "GetMetricHistoryBulk request must specify a metric_key.",
        )
        .into());
    };
    let max_results = f
        .opt_i64("max_results")?
        .unwrap_or(MAX_HISTORY_BULK_RESULTS)
        .min(MAX_HISTORY_BULK_RESULTS);
    let metrics = s
        .store
        .metric_history_bulk(&run_ids, &key, max_results)
        .await?;
    Ok(json(&serde_json::json!({ "metrics": metrics })))
}

pub async fn get_history_bulk_interval(
    State(s): State<AppState>,
    f: Fields,
) -> ApiResult<Response> {
    let run_ids = f.str_list("run_ids")?;
    if run_ids.is_empty() {
        return Err(Error::missing("run_ids").into());
    }
    if run_ids.len() > MAX_RUNS_BULK {
        return Err(Error::invalid_param(format!(
            "GetMetricHistoryBulkInterval request must specify at most {MAX_RUNS_BULK} run_ids. Received {} run_ids.",
            run_ids.len()
        ))
        .into());
    }
    let key = f.req_str("metric_key")?;
    let max_results = f.opt_i64("max_results")?.unwrap_or(MAX_RESULTS_PER_RUN);
    if !(1..=MAX_RESULTS_PER_RUN).contains(&max_results) {
        return Err(Error::invalid_param(format!(
            "max_results must be between 1 and {MAX_RESULTS_PER_RUN}. See the API docs for more information about request parameters."
        ))
        .into());
    }
    let (start, end) = (f.opt_i64("start_step")?, f.opt_i64("end_step")?);
    match (start, end) {
        (Some(a), Some(b)) if a > b => {
            return Err(Error::invalid_param(format!(
                "end_step must be greater than start_step. Found start_step={a} and end_step={b}."
            ))
            .into());
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::invalid_param(
                "If either start step or end step are specified, both must be specified.",
            )
            .into());
        }
        _ => {}
    }
    let metrics = s
        .store
        .metric_history_bulk_interval(&run_ids, &key, start, end, max_results)
        .await?;
    Ok(json(&Bulk { metrics }))
}
