//! What a pool pools ([`Manager`]), how it is shaped ([`PoolConfig`]), and
//! what it reports ([`PoolError`], [`PoolStats`]).

use std::future::Future;
use std::time::Duration;

use crate::bug::DispatchGone;
use crate::init::InitGuard;

/// How to open and close the pooled connections, and what else each build
/// of the pool runs beside them.
///
/// Dropping a connection must close it (as dropping a `tokio_rusqlite`
/// handle ends its thread): a connection handed back after the pool closed,
/// or by a request whose runtime is gone, is dropped, not awaited.
pub trait Manager: Send + Sync + 'static {
    /// A pooled connection. It is opened, used and dropped on whatever
    /// runtime is current, so it must not be bound to one.
    type Connection: Send + Sync + 'static;
    /// Why opening failed.
    type Error: std::fmt::Display + Send + 'static;
    /// What a build runs beside its connections (the reference server: a
    /// checkpoint thread); reached from a lent connection with
    /// [`Pooled::companion`](crate::Pooled::companion).
    type Companion: Send + Sync + 'static;

    /// Opens connection `index` of a build (0 is the first, which may set
    /// up what the others share).
    fn open(
        &self,
        index: usize,
    ) -> impl Future<Output = Result<Self::Connection, Self::Error>> + Send;

    /// Closes a connection and waits until it is closed.
    fn close(&self, conn: Self::Connection) -> impl Future<Output = ()> + Send;

    /// Starts a build's companion, once its connections are open.
    fn companion(&self) -> impl Future<Output = Result<Self::Companion, Self::Error>> + Send;

    /// Stops a companion: its build is shut. Must not wait.
    fn stop(companion: &Self::Companion);
}

/// How the pool is shaped.
#[derive(Clone, Copy, Debug)]
pub struct PoolConfig {
    /// The most connections open at once.
    pub size: usize,
    /// How long an acquire waits for a free connection before it fails (a
    /// queued one ends up to a thirty-second of this, at most 100 ms, later).
    pub acquire_timeout: Duration,
    /// Whether concurrent first callers are serialised ([`InitGuard::Off`]
    /// re-introduces the `unguarded-init` bug).
    pub init_guard: InitGuard,
    /// Re-introduces the seed's bug (`runtime-bound-pool`): waiters ask a
    /// task spawned on the runtime that built the pool, which dies with it.
    pub runtime_bound_waits: bool,
}

impl PoolConfig {
    /// `size` connections, a 5 s acquire timeout, no bug.
    pub fn new(size: usize) -> Self {
        Self {
            size,
            acquire_timeout: Duration::from_secs(5),
            init_guard: InitGuard::On,
            runtime_bound_waits: false,
        }
    }
}

/// Why an acquire failed.
#[derive(Debug, thiserror::Error)]
pub enum PoolError<E> {
    /// No connection came free within the acquire timeout.
    #[error("no database connection came free within {0:?}")]
    Timeout(Duration),
    /// The pool is closed.
    #[error("the connection pool is closed")]
    Closed,
    /// Opening a connection, or starting a build's companion, failed.
    #[error("{0}")]
    Open(E),
    /// A build could not start its deadline thread.
    #[error("cannot start the pool's deadline thread: {0}")]
    Thread(std::io::Error),
    /// The `runtime-bound-pool` bug fired.
    #[error(transparent)]
    RuntimeGone(#[from] DispatchGone),
}

/// A snapshot of the pool, for metrics.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct PoolStats {
    /// The configured bound.
    pub size: usize,
    /// Connections open now, over every pool build (more than `size` only
    /// when a bug built the pool twice).
    pub connections_open: u64,
    /// Connections of the current build lent out.
    pub in_use: usize,
    /// Connections of the current build idle.
    pub idle: usize,
    /// Acquires waiting for a connection.
    pub waiters: usize,
    /// How many times the pool was built.
    pub builds: u64,
    /// Acquires that succeeded.
    pub acquires: u64,
    /// Total time those acquires waited, in microseconds.
    pub acquire_wait_micros: u64,
    /// Acquires that timed out.
    pub timeouts: u64,
}
