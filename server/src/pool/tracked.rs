//! The pool's counters, and [`Tracked`]: a connection counted in them from
//! its opening to its drop.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use super::counter::StripedCounter;

/// Counters the pool keeps for `/metrics` and `/api/pool`.
#[derive(Default)]
pub struct PoolMetrics {
    pub(super) builds: AtomicU64,
    pub(super) opened: AtomicU64,
    pub(super) closed: AtomicU64,
    pub(super) waiters: AtomicUsize,
    pub(super) acquires: StripedCounter,
    /// In [`super::stamp`]'s ticks.
    pub(super) acquire_wait_ticks: StripedCounter,
    pub(super) timeouts: AtomicU64,
}

/// An open connection, counted in the pool's metrics from its opening to its
/// drop — so the count stays right when a build or a request is cancelled
/// half-way (its future dropped with a runtime), not only on explicit close.
pub(super) struct Tracked {
    pub(super) conn: tokio_rusqlite::Connection,
    metrics: Arc<PoolMetrics>,
}

impl Tracked {
    pub(super) fn new(conn: tokio_rusqlite::Connection, metrics: &Arc<PoolMetrics>) -> Self {
        metrics.opened.fetch_add(1, Ordering::Relaxed);
        Self {
            conn,
            metrics: Arc::clone(metrics),
        }
    }

    /// Closes the connection and waits for SQLite to finish with it.
    pub(super) async fn close(self) {
        let conn = self.conn.clone();
        drop(self);
        if let Err(e) = conn.close().await {
            tracing::warn!(error = %e, "closing a database connection failed");
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // Dropping the last handle ends the connection's thread, which closes it.
        self.metrics.closed.fetch_add(1, Ordering::Relaxed);
    }
}
