//! Request counters and the Prometheus text rendering of `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::pool::PoolStats;
use crate::storage::StorageFault;
use crate::sync::lock;

/// Requests served, by route, method and status.
#[derive(Default)]
pub struct HttpMetrics {
    /// Held only to bump a counter; never across an `.await`.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
}

impl HttpMetrics {
    /// Counts one finished request.
    pub fn record(&self, route: &str, method: &str, status: u16) {
        let mut requests = lock(&self.requests);
        *requests
            .entry((route.to_owned(), method.to_owned(), status))
            .or_default() += 1;
    }

    /// Renders every metric in the Prometheus text format.
    pub fn render(&self, pool: &PoolStats, storage: &[(StorageFault, u64)]) -> String {
        let mut out = String::with_capacity(2048);
        out.push_str(
            "# HELP racegate_http_requests_total Requests served, by route, method and status.\n",
        );
        out.push_str("# TYPE racegate_http_requests_total counter\n");
        {
            let requests = lock(&self.requests);
            for ((route, method, status), n) in requests.iter() {
                let _ = writeln!(
                    out,
                    "racegate_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                    route.replace('\\', "\\\\").replace('"', "\\\"")
                );
            }
        }
        let gauges: [(&str, &str, &str, f64); 9] = [
            (
                "racegate_pool_size",
                "gauge",
                "The most connections the pool may open.",
                pool.size as f64,
            ),
            (
                "racegate_pool_connections_open",
                "gauge",
                "Database connections open now.",
                pool.connections_open as f64,
            ),
            (
                "racegate_pool_in_use",
                "gauge",
                "Connections lent out.",
                pool.in_use as f64,
            ),
            (
                "racegate_pool_idle",
                "gauge",
                "Connections idle in the pool.",
                pool.idle as f64,
            ),
            (
                "racegate_pool_waiters",
                "gauge",
                "Acquires waiting for a connection.",
                pool.waiters as f64,
            ),
            (
                "racegate_pool_builds_total",
                "counter",
                "Times the pool was built.",
                pool.builds as f64,
            ),
            (
                "racegate_pool_acquire_timeouts_total",
                "counter",
                "Acquires that timed out.",
                pool.timeouts as f64,
            ),
            (
                "racegate_pool_acquire_wait_seconds_sum",
                "counter",
                "Time successful acquires waited.",
                pool.acquire_wait_micros as f64 / 1e6,
            ),
            (
                "racegate_pool_acquire_wait_seconds_count",
                "counter",
                "Successful acquires.",
                pool.acquires as f64,
            ),
        ];
        for (name, kind, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        out.push_str(
            "# HELP racegate_storage_errors_total Operations the storage failed, by code.\n",
        );
        out.push_str("# TYPE racegate_storage_errors_total counter\n");
        for (fault, n) in storage {
            let _ = writeln!(
                out,
                "racegate_storage_errors_total{{code=\"{}\"}} {n}",
                fault.code()
            );
        }
        out
    }
}
