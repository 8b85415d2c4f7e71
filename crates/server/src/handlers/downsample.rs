//! `ferroflow/metrics/get-history-downsampled`: one metric's history, at most
//! `max_points` points of it, keeping each bucket's first, minimum, maximum and last
//! point (`ferroflow_core::downsample`). The history is streamed from the store and
//! folded as it arrives, so memory is bounded by `max_points`, not by the series.
//!
//! Query: `run_id`, `metric_key`, `max_points` (default 1,000, 4 to 10,000), optional
//! `start_step` and `end_step` (inclusive; either may be given alone). Answer:
//! `{"metric_key", "total_points", "steps": [...], "timestamps": [...], "values": [...]}`,
//! columns of equal length in step order; `total_points` counts the points in the step
//! range before downsampling. Non-finite values are `"NaN"`, `"Infinity"`, `"-Infinity"`.

use axum::extract::State;
use axum::response::Response;
use ferroflow_core::Error;
use ferroflow_core::downsample::{DEFAULT_POINTS, Downsampler, MAX_POINTS, MIN_POINTS};
use ferroflow_core::entities::Point;
use futures_util::StreamExt;
use serde::{Serialize, Serializer};

use super::json;
use crate::request::Fields;
use crate::{ApiResult, AppState};

#[derive(Serialize)]
struct Downsampled {
    metric_key: String,
    total_points: u64,
    steps: Vec<i64>,
    timestamps: Vec<i64>,
    #[serde(serialize_with = "values")]
    values: Vec<f64>,
}

/// Finite values as numbers, the others as the strings MLflow writes for them.
fn values<S: Serializer>(values: &[f64], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(values.iter().map(|&v| {
        if v.is_finite() {
            serde_json::Value::from(v)
        } else if v.is_nan() {
            serde_json::Value::from("NaN")
        } else if v > 0.0 {
            serde_json::Value::from("Infinity")
        } else {
            serde_json::Value::from("-Infinity")
        }
    }))
}

pub async fn get_history_downsampled(State(s): State<AppState>, f: Fields) -> ApiResult<Response> {
    let run_id = f.req_str_any(&["run_id", "run_uuid"])?;
    let key = f.req_str("metric_key")?;
    let max_points = match f.opt_i64("max_points")? {
        None => DEFAULT_POINTS,
        Some(n) if (MIN_POINTS as i64..=MAX_POINTS as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(Error::invalid_param(format!(
                "max_points must be between {MIN_POINTS} and {MAX_POINTS}; got {n}."
            ))
            .into());
        }
    };
    let start = f.opt_i64("start_step")?.unwrap_or(i64::MIN);
    let end = f.opt_i64("end_step")?.unwrap_or(i64::MAX);
    if start > end {
        return Err(Error::invalid_param(format!(
            "end_step must not be less than start_step; got start_step={start} and end_step={end}."
        ))
        .into());
    }
    // An unknown run is a 404, not an empty series.
    s.store.get_run(&run_id).await?;
    let mut history = s.store.metric_history_from(&run_id, &key, start).await?;
    let mut sampler = Downsampler::new(max_points);
    // Points come in step order from `start` on (a store that cannot seek sends earlier
    // ones too: skip them); stop after the range (dropping the stream tells the reader
    // to stop).
    'read: while let Some(batch) = history.points.next().await {
        for p in batch? {
            if p.step > end {
                break 'read;
            }
            if p.step >= start {
                sampler.push(p);
            }
        }
    }
    let total_points = sampler.total();
    let points = sampler.finish();
    Ok(json(&Downsampled {
        metric_key: key,
        total_points,
        steps: points.iter().map(|p| p.step).collect(),
        timestamps: points.iter().map(|p| p.timestamp).collect(),
        values: points.iter().map(|p: &Point| p.value).collect(),
    }))
}
