//! The pool's counters, and [`Tracked`]: a connection counted in them from
//! its opening to its drop.

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Counters the pool keeps for its [`PoolStats`](crate::PoolStats).
#[derive(Default)]
pub(crate) struct PoolMetrics {
    pub(crate) builds: AtomicU64,
    pub(crate) opened: AtomicU64,
    pub(crate) closed: AtomicU64,
    pub(crate) waiters: AtomicUsize,
    pub(crate) acquires: AtomicU64,
    /// In [`crate::stamp`]'s ticks.
    pub(crate) acquire_wait_ticks: AtomicU64,
    pub(crate) timeouts: AtomicU64,
}

/// An open connection, counted in the pool's metrics from its opening to its
/// drop — so the count stays right when a build or a request is cancelled
/// half-way (its future dropped with a runtime), not only on explicit close.
pub(crate) struct Tracked<C> {
    /// `None` only while [`take`](Self::take) hands it to the manager.
    conn: Option<C>,
    metrics: Arc<PoolMetrics>,
}

impl<C> Tracked<C> {
    pub(crate) fn new(conn: C, metrics: &Arc<PoolMetrics>) -> Self {
        metrics.opened.fetch_add(1, Ordering::Relaxed);
        Self {
            conn: Some(conn),
            metrics: Arc::clone(metrics),
        }
    }

    /// The connection, for the manager to close; counted closed now.
    pub(crate) fn take(mut self) -> C {
        match self.conn.take() {
            Some(conn) => conn,
            None => unreachable!("only take empties it, and it consumes it"),
        }
    }
}

impl<C> Deref for Tracked<C> {
    type Target = C;

    fn deref(&self) -> &C {
        match &self.conn {
            Some(conn) => conn,
            None => unreachable!("only take empties it, and it consumes it"),
        }
    }
}

impl<C> Drop for Tracked<C> {
    fn drop(&mut self) {
        // Dropping a connection closes it (the manager's contract).
        self.metrics.closed.fetch_add(1, Ordering::Relaxed);
    }
}
