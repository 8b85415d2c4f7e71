//! Metric history: streamed in bounded memory, paginated, and sampled by step interval.

use std::collections::{BTreeSet, HashMap};

use ferroflow_core::entities::Metric;
use ferroflow_core::{Error, Result, page_token};
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};

use super::SqlStore;
use super::query::{Sql, db_err, fetch_all, get_i64, get_str};
use super::runs::metric_from_row;
use crate::MetricHistory;

/// Rows in flight between the database and the response: the memory bound of a history.
const CHANNEL_DEPTH: usize = 2048;

pub async fn history(
    store: &SqlStore,
    run_id: &str,
    key: &str,
    max_results: Option<i64>,
    token: Option<String>,
) -> Result<MetricHistory> {
    if let Some(m) = max_results
        && m <= 0
    {
        return Err(Error::invalid_param(format!(
            "Invalid value {m} for parameter 'max_results' supplied. It must be a positive integer."
        )));
    }
    let offset = page_token::decode_offset(token.as_deref())?;
    let mut sql = Sql::new(
        "SELECT key, value, timestamp, step, CAST(is_nan AS INTEGER) AS is_nan FROM metrics WHERE run_uuid = ? AND key = ? ORDER BY step, timestamp, value, is_nan",
    );
    sql.arg(run_id).arg(key);
    match max_results {
        Some(m) => {
            sql.push(" LIMIT ? OFFSET ?").arg(m + 1).arg(offset);
        }
        None if offset > 0 => {
            sql.push(" LIMIT ? OFFSET ?").arg(i64::MAX).arg(offset);
        }
        None => {}
    }
    let sql = sql.for_dialect(store.dialect);
    let pool = store.read.clone();
    let (tx, rx) = mpsc::channel::<Result<Metric>>(CHANNEL_DEPTH);
    let (token_tx, token_rx) = oneshot::channel();
    tokio::spawn(async move {
        let mut rows = sql.query().fetch(&pool);
        let mut sent: i64 = 0;
        let mut more = false;
        while let Some(row) = rows.next().await {
            if max_results.is_some_and(|m| sent >= m) {
                more = true;
                break;
            }
            let item = row.map_err(db_err).and_then(|r| metric_from_row(&r));
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                return;
            }
            sent += 1;
        }
        let _ = token_tx.send(more.then(|| page_token::encode_offset(offset + sent)));
    });
    Ok(MetricHistory {
        metrics: tokio_stream_from(rx),
        next_page_token: token_rx,
    })
}

fn tokio_stream_from(
    mut rx: mpsc::Receiver<Result<Metric>>,
) -> futures_util::stream::BoxStream<'static, Result<Metric>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
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

pub async fn bulk_interval(
    store: &SqlStore,
    run_ids: &[String],
    key: &str,
    start_step: Option<i64>,
    end_step: Option<i64>,
    max_results: i64,
) -> Result<Vec<Metric>> {
    let d = store.dialect;
    let range = |sql: &mut Sql| {
        if let (Some(s), Some(e)) = (start_step, end_step) {
            sql.push(" AND step >= ? AND step <= ?").arg(s).arg(e);
        }
    };
    let mut steps_sql =
        Sql::new("SELECT DISTINCT run_uuid, step FROM metrics WHERE key = ? AND run_uuid IN ");
    steps_sql.arg(key).push_list(run_ids.iter().cloned());
    range(&mut steps_sql);
    steps_sql.push(" ORDER BY run_uuid, step");
    let mut steps: HashMap<String, Vec<i64>> = HashMap::new();
    for r in fetch_all(&store.read, d, steps_sql).await? {
        steps
            .entry(get_str(&r, "run_uuid")?)
            .or_default()
            .push(get_i64(&r, "step")?);
    }
    let mut out = Vec::new();
    for run_id in run_ids {
        let Some(run_steps) = steps.get(run_id) else {
            continue;
        };
        let chosen = sample_steps(run_steps, max_results.max(1) as usize);
        let mut sql = Sql::new(
            "SELECT key, value, timestamp, step, CAST(is_nan AS INTEGER) AS is_nan FROM metrics WHERE key = ? AND run_uuid = ? AND step IN ",
        );
        sql.arg(key).arg(run_id).push_list(chosen.iter().copied());
        sql.push(" ORDER BY step, timestamp, value");
        for r in fetch_all(&store.read, d, sql).await? {
            let mut m = metric_from_row(&r)?;
            m.run_id = Some(run_id.clone());
            out.push(m);
        }
    }
    Ok(out)
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
