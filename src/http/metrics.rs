//! Request counters and latency histograms in the Prometheus text format. A mutex-guarded map
//! is enough: one lock per request costs well under a microsecond next to the request itself.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Histogram bucket bounds, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Everything recorded since start.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
}

fn label(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    /// Records one request.
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        *self.requests.lock().unwrap_or_else(|e| e.into_inner()).entry((method.to_string(), route.to_string(), status)).or_default() += 1;
        let mut latency = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let h = latency.entry((method.to_string(), route.to_string())).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// The Prometheus exposition text, with `gauges` appended.
    pub fn render(&self, gauges: &[(&str, &str, i64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP fengqiao_http_requests_total HTTP requests by method, route and status.\n# TYPE fengqiao_http_requests_total counter\n");
        for ((method, route, status), n) in self.requests.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(out, "fengqiao_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}", label(method), label(route));
        }
        out.push_str("# HELP fengqiao_http_request_duration_seconds HTTP request latency.\n# TYPE fengqiao_http_request_duration_seconds histogram\n");
        for ((method, route), h) in self.latency.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let labels = format!("method=\"{}\",route=\"{}\"", label(method), label(route));
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(out, "fengqiao_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}");
            }
            let _ = writeln!(out, "fengqiao_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "fengqiao_http_request_duration_seconds_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(out, "fengqiao_http_request_duration_seconds_count{{{labels}}} {}", h.count);
        }
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.observe("POST", "/api/triage", 200, Duration::from_micros(800));
        m.observe("POST", "/api/triage", 200, Duration::from_millis(30));
        m.observe("POST", "/api/triage", 422, Duration::from_micros(100));
        let text = m.render(&[("fengqiao_cases", "Cases stored.", 7)]);
        assert!(text.contains("fengqiao_http_requests_total{method=\"POST\",route=\"/api/triage\",status=\"200\"} 2"), "{text}");
        assert!(text.contains("route=\"/api/triage\",le=\"0.001\"} 2"), "{text}");
        assert!(text.contains("route=\"/api/triage\",le=\"0.05\"} 3"), "{text}");
        assert!(text.contains("fengqiao_http_request_duration_seconds_count{method=\"POST\",route=\"/api/triage\"} 3"));
        assert!(text.contains("fengqiao_cases 7"));
    }
}
