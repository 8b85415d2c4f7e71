//! The scoring server's `/metrics`, in Prometheus' text format: requests by route and
//! status, errors by route, and a latency histogram by route.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Counters shared by the server's handlers.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
}

impl Metrics {
    /// Records one request to `route` that answered `status` after `took`.
    pub fn observe(&self, route: &'static str, status: u16, took: Duration) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((route, status)).or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let h = l.entry(route).or_default();
            let secs = took.as_secs_f64();
            for (i, b) in BUCKETS.iter().enumerate() {
                if secs <= *b {
                    h.counts[i] += 1;
                }
            }
            h.sum += secs;
            h.count += 1;
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let requests = self.requests.lock().map(|r| r.clone()).unwrap_or_default();
        out.push_str("# HELP ferroflow_model_requests_total Scoring requests by route and HTTP status.\n# TYPE ferroflow_model_requests_total counter\n");
        for ((route, status), n) in &requests {
            let _ = writeln!(
                out,
                "ferroflow_model_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP ferroflow_model_errors_total Scoring requests that answered 4xx or 5xx, by route.\n# TYPE ferroflow_model_errors_total counter\n");
        let mut errors: BTreeMap<&str, u64> = BTreeMap::new();
        for ((route, status), n) in &requests {
            if *status >= 400 {
                *errors.entry(route).or_default() += n;
            }
        }
        for (route, n) in errors {
            let _ = writeln!(out, "ferroflow_model_errors_total{{route=\"{route}\"}} {n}");
        }
        out.push_str("# HELP ferroflow_model_request_seconds Time to answer a scoring request, by route.\n# TYPE ferroflow_model_request_seconds histogram\n");
        if let Ok(l) = self.latency.lock() {
            for (route, h) in l.iter() {
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "ferroflow_model_request_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "ferroflow_model_request_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "ferroflow_model_request_seconds_sum{{route=\"{route}\"}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "ferroflow_model_request_seconds_count{{route=\"{route}\"}} {}",
                    h.count
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.observe("/invocations", 200, Duration::from_millis(2));
        m.observe("/invocations", 400, Duration::from_millis(20));
        let text = m.render();
        assert!(
            text.contains(
                "ferroflow_model_requests_total{route=\"/invocations\",status=\"200\"} 1"
            )
        );
        assert!(text.contains("ferroflow_model_errors_total{route=\"/invocations\"} 1"));
        assert!(text.contains(
            "ferroflow_model_request_seconds_bucket{route=\"/invocations\",le=\"0.005\"} 1"
        ));
        assert!(text.contains("ferroflow_model_request_seconds_count{route=\"/invocations\"} 2"));
    }
}
