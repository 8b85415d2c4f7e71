//! Metric history: streamed in bounded memory, paginated, and sampled by step interval.

use std::collections::{BTreeSet, HashMap};

use ferroflow_core::entities::{Metric, Point};
use ferroflow_core::{Error, Result, page_token};
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};

use super::SqlStore;
use super::query::Sql;
use super::runs::metric_from_row;
use crate::MetricHistory;

/// Points read ahead of the response: the memory bound of a history, in batches.
const CHANNEL_DEPTH: usize = 16;
/// Points per batch sent from the reader to the response.
const BATCH: usize = 1024;

pub async fn history(
    store: &SqlStore,
    run_id: &str,
    key: &str,
    max_results: Option<i64>,
    token: Option<String>,
    from_step: Option<i64>,
) -> Result<MetricHistory> {
    if let Some(m) = max_results
        && m <= 0
    {
        return Err(Error::invalid_param(format!(
            "Invalid value {m} for parameter 'max_results' supplied. It must be a positive integer."
        )));
    }
    let offset = page_token::decode_offset(token.as_deref())?;
    // Served in order by the `ferroflow_metrics_history` index, without a sort; a
    // `from_step` seeks into it.
    let mut sql = Sql::new("SELECT value, timestamp, step, is_nan FROM metrics");
    sql.push(&store.dialect.use_index("ferroflow_metrics_history"))
        .push(" WHERE run_uuid = ? AND key = ?")
        .arg(run_id)
        .arg(key);
    if let Some(from) = from_step {
        sql.push(" AND step >= ?").arg(from);
    }
    sql.push(" ORDER BY step, timestamp, value, is_nan");
    match max_results {
        Some(m) => {
            sql.push(" LIMIT ? OFFSET ?").arg(m + 1).arg(offset);
        }
        None if offset > 0 => {
            sql.push(" LIMIT ? OFFSET ?").arg(i64::MAX).arg(offset);
        }
        None => {}
    }
    let (tx, rx) = mpsc::channel::<Result<Vec<Point>>>(CHANNEL_DEPTH);
    let (token_tx, token_rx) = oneshot::channel();
    store
        .read
        .spawn(move |c| {
            let mut sent: i64 = 0;
            let mut more = false;
            let mut batch = Vec::with_capacity(BATCH);
            let result = c.query_each(&sql, &mut |row| {
                if max_results.is_some_and(|m| sent >= m) {
                    more = true;
                    return Ok(false);
                }
                let value = if row.bool("is_nan")? {
                    f64::NAN
                } else {
                    row.f64("value")?
                };
                batch.push(Point {
                    value,
                    timestamp: row.i64("timestamp")?,
                    step: row.i64("step")?,
                });
                sent += 1;
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    // The receiver is gone when the client disconnected: stop reading.
                    return Ok(tx.blocking_send(Ok(full)).is_ok());
                }
                Ok(true)
            });
            match result {
                Ok(()) => {
                    if !batch.is_empty() {
                        let _ = tx.blocking_send(Ok(batch));
                    }
                    let _ = token_tx.send(more.then(|| page_token::encode_offset(offset + sent)));
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                }
            }
        })
        .await?;
    let points = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed();
    Ok(MetricHistory {
        points,
        next_page_token: token_rx,
    })
}

/// Picks at most `max` of `steps` (sorted), evenly spread, always keeping the first and last.
pub fn sample_steps(steps: &[i64], max: usize) -> BTreeSet<i64> {
    if steps.len() <= max {
        return steps.iter().copied().collect();
    }
    if max <= 1 {
        return steps.first().copied().into_iter().collect();
    }
    let last = steps.len() - 1;
    (0..max).map(|i| steps[i * last / (max - 1)]).collect()
}

pub async fn bulk(
    store: &SqlStore,
    run_ids: &[String],
    key: &str,
    max_results: i64,
) -> Result<Vec<Metric>> {
    let run_ids = run_ids.to_vec();
    let key = key.to_string();
    store
        .read
        .read(move |c| {
            let mut sql = Sql::new(
                "SELECT run_uuid, key, value, timestamp, step, is_nan FROM metrics WHERE key = ? AND run_uuid IN ",
            );
            sql.arg(&key).push_list(run_ids.iter().cloned());
            sql.push(" ORDER BY run_uuid, timestamp, step, value LIMIT ?")
                .arg(max_results.max(0));
            c.query(&sql)?
                .iter()
                .map(|r| {
                    let mut m = metric_from_row(r)?;
                    m.run_id = Some(r.str("run_uuid")?);
                    Ok(m)
                })
                .collect()
        })
        .await
}

pub async fn bulk_interval(
    store: &SqlStore,
    run_ids: &[String],
    key: &str,
    start_step: Option<i64>,
    end_step: Option<i64>,
    max_results: i64,
) -> Result<Vec<Metric>> {
    let run_ids = run_ids.to_vec();
    let key = key.to_string();
    store
        .read
        .read(move |c| {
            let range = |sql: &mut Sql| {
                if let (Some(s), Some(e)) = (start_step, end_step) {
                    sql.push(" AND step >= ? AND step <= ?").arg(s).arg(e);
                }
            };
            let mut steps_sql = Sql::new("SELECT DISTINCT run_uuid, step FROM metrics WHERE key = ? AND run_uuid IN ");
            steps_sql.arg(&key).push_list(run_ids.iter().cloned());
            range(&mut steps_sql);
            steps_sql.push(" ORDER BY run_uuid, step");
            let mut steps: HashMap<String, Vec<i64>> = HashMap::new();
            for r in c.query(&steps_sql)? {
                steps.entry(r.str("run_uuid")?).or_default().push(r.i64("step")?);
            }
            let mut out = Vec::new();
            for run_id in &run_ids {
                let Some(run_steps) = steps.get(run_id) else { continue };
                let chosen = sample_steps(run_steps, max_results.max(1) as usize);
                let mut sql = Sql::new(
                    "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE key = ? AND run_uuid = ? AND step IN ",
                );
                sql.arg(&key).arg(run_id).push_list(chosen.iter().copied());
                sql.push(" ORDER BY step, timestamp, value");
                for r in c.query(&sql)? {
                    let mut m = metric_from_row(&r)?;
                    m.run_id = Some(run_id.clone());
                    out.push(m);
                }
            }
            Ok(out)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::sample_steps;

    #[test]
    fn sampling_keeps_ends() {
        let steps: Vec<i64> = (0..100).collect();
        let s = sample_steps(&steps, 5);
        assert_eq!(s.len(), 5);
        assert!(s.contains(&0) && s.contains(&99));
        assert_eq!(sample_steps(&steps[..3], 5).len(), 3);
    }
}
