//! The runtime-safe SQLite connection pool.
//!
//! What the seed's pool got wrong, done right:
//! - **lazy**: nothing is opened until the first [`ConnectionPool::acquire`],
//!   which runs inside whatever runtime is using the pool;
//! - **guarded**: concurrent first callers build it exactly once
//!   ([`core::InitCell`]); a failed or cancelled build lets the next caller
//!   retry;
//! - **nothing runtime-bound**: connections are `tokio_rusqlite` handles (a
//!   std thread each, reached over channels); waiters queue in the slots
//!   with their task's `Waker`, which needs no runtime, and one std thread
//!   per pool build times them out; builders are awaited through a
//!   [`tokio::sync::Notify`], which needs none either. No task, runtime timer
//!   or `Handle` is stored, so the pool serves any runtime, including ones
//!   created after it and ones that replace a runtime that was shut down;
//! - **bounded and fair**: at most `size` connections; a caller that finds
//!   none idle queues, and a release hands its connection straight to the
//!   longest-waiting caller (no wake-up is wasted on a caller that then
//!   finds nothing). An acquire waits `acquire_timeout`, then fails with
//!   [`PoolError::Timeout`] (a 503): never sooner, and no later than a
//!   thirty-second of the timeout (at most 100 ms) after it, as the deadline
//!   thread gives a queued caller its deadline at its next look;
//! - **closable**: [`ConnectionPool::close`] wakes every waiter with
//!   [`PoolError::Closed`] and closes each connection once it is idle.

pub mod core;
mod counter;
mod instance;
mod lent;
mod mailbox;
mod recent;
pub mod slots;
mod stamp;
mod tracked;
mod waiting;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use self::core::{Begin, InitCell, InitGuard, InitTicket, Published};
use self::instance::Instance;
pub use self::lent::PooledConnection;
use self::slots::{Lease, SlotStats, Slots, TryAcquire};
pub use self::tracked::PoolMetrics;
use self::tracked::Tracked;
use self::waiting::{DeadlineThread, Queued, Waited, Waiter, Waiting};
use crate::bugs::{Bug, DispatchGone, Faults, RuntimeBoundDispatch};
use crate::checkpoint::{self, Checkpointer};
use crate::db::{self, ConnectionSettings, Synchronous, WriteLock};

/// How the pool is built.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// The SQLite file.
    pub path: PathBuf,
    /// The most connections open at once.
    pub size: usize,
    /// How long an acquire waits for a free connection before it fails (a
    /// queued one ends up to a thirty-second of this, at most 100 ms, later).
    pub acquire_timeout: Duration,
    /// How long a connection waits for SQLite's write lock.
    pub busy_timeout: Duration,
    /// Bugs to re-introduce.
    pub faults: Faults,
    /// When commits wait for the disk.
    pub synchronous: Synchronous,
    /// When the WAL is copied back into the database file.
    pub checkpoints: checkpoint::Schedule,
}

impl PoolConfig {
    /// A pool of `size` connections on `path` with the default timeouts.
    pub fn new(path: impl Into<PathBuf>, size: usize) -> Self {
        Self {
            path: path.into(),
            size,
            acquire_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
            faults: Faults::none(),
            synchronous: Synchronous::Normal,
            checkpoints: checkpoint::Schedule::default(),
        }
    }

    /// The per-connection settings, with `locked-db` applied if it is on.
    pub fn connection_settings(&self) -> ConnectionSettings {
        if self.faults.is_on(Bug::LockedDb) {
            ConnectionSettings {
                busy_timeout: Duration::ZERO,
                write_lock: WriteLock::Deferred,
                synchronous: self.synchronous,
            }
        } else {
            ConnectionSettings {
                busy_timeout: self.busy_timeout,
                write_lock: WriteLock::Immediate,
                synchronous: self.synchronous,
            }
        }
    }
}

/// Why an acquire failed.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// No connection came free within the acquire timeout.
    #[error("no database connection came free within {0:?}")]
    Timeout(Duration),
    /// The pool is closed.
    #[error("the connection pool is closed")]
    Closed,
    /// Opening or preparing the database failed.
    #[error("cannot open database {path}: {reason}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// What SQLite (or the connection's thread) said.
        reason: String,
    },
    /// The `runtime-bound-pool` bug fired.
    #[error(transparent)]
    RuntimeGone(#[from] DispatchGone),
}

/// How the slow path of an acquire ends, when it ends without a connection.
enum SlowPath {
    TimedOut,
    Failed(PoolError),
}

impl From<PoolError> for SlowPath {
    fn from(e: PoolError) -> Self {
        Self::Failed(e)
    }
}

/// A snapshot of the pool, for `/metrics` and `/api/pool`.
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

/// The pool. Share it as `Arc<ConnectionPool>`.
pub struct ConnectionPool {
    config: PoolConfig,
    settings: ConnectionSettings,
    cell: InitCell<Instance>,
    /// Notified whenever the cell changes (built, failed, closed), so callers
    /// waiting for another caller's build re-check it.
    cell_changed: Notify,
    /// Bumped by [`recycle`](Self::recycle): the next acquire builds a fresh
    /// instance and retires the old one.
    generation: AtomicU64,
    metrics: Arc<PoolMetrics>,
    /// This pool's number, under which threads remember its instance.
    number: u64,
}

impl ConnectionPool {
    /// A pool that opens nothing until first used.
    pub fn new(config: PoolConfig) -> Arc<Self> {
        // The wait metric's ticks convert against a reading from here on.
        stamp::start();
        let guard = if config.faults.is_on(Bug::UnguardedInit) {
            InitGuard::Off
        } else {
            InitGuard::On
        };
        Arc::new(Self {
            settings: config.connection_settings(),
            cell: InitCell::new(guard),
            cell_changed: Notify::new(),
            generation: AtomicU64::new(1),
            metrics: Arc::default(),
            number: recent::pool_number(),
            config,
        })
    }

    /// The configuration the pool was built with.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// How write transactions must begin on this pool's connections.
    pub fn write_lock(&self) -> WriteLock {
        self.settings.write_lock
    }

    /// Borrows a connection, waiting at most the acquire timeout.
    pub async fn acquire(&self) -> Result<PooledConnection, PoolError> {
        // The fast path (built, a connection idle): the instance this thread
        // remembers (else the cell's), and one compare-and-swap on the slots'
        // idle stack: no lock, no clock, no timer.
        let generation = self.generation.load(Ordering::Acquire);
        let mut ready = recent::get(self.number, generation).or_else(|| self.ready(generation));
        if let Some(instance) = ready.take() {
            match instance.slots.try_acquire() {
                TryAcquire::Acquired(conn) => {
                    self.metrics.acquires.bump();
                    return Ok(PooledConnection::new(conn, instance));
                }
                _ => ready = Some(instance),
            }
        }
        // Set when this acquire first has to wait; it waits at most the
        // timeout from then.
        let mut waited = Waited::default();
        match self.acquire_inner(ready, &mut waited).await {
            Ok(conn) => {
                self.metrics.acquires.bump();
                if let Some(ticks) = waited.ticks() {
                    self.metrics.acquire_wait_ticks.add(ticks);
                }
                Ok(conn)
            }
            Err(SlowPath::TimedOut) => {
                self.metrics.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(PoolError::Timeout(self.config.acquire_timeout))
            }
            Err(SlowPath::Failed(e)) => Err(e),
        }
    }

    /// Gets the instance (waiting for its build under tokio's timer: rare),
    /// then a connection from it (queueing if none is idle, bounded by the
    /// instance's [`DeadlineThread`]: no timer per acquire).
    async fn acquire_inner(
        &self,
        mut ready: Option<Arc<Instance>>,
        waited: &mut Waited,
    ) -> Result<PooledConnection, SlowPath> {
        let timeout = self.config.acquire_timeout;
        loop {
            let current = ready
                .take()
                .or_else(|| self.ready(self.generation.load(Ordering::Acquire)));
            let instance = match current {
                Some(instance) => instance,
                None => {
                    let deadline = waited.deadline(timeout);
                    tokio::time::timeout_at(deadline.into(), self.instance())
                        .await
                        .map_err(|_| SlowPath::TimedOut)??
                }
            };
            let conn = match &instance.dispatch {
                None => Queued {
                    slots: &instance.slots,
                    deadlines: &instance.deadlines,
                    timeout,
                    waited: &mut *waited,
                    mailbox: None,
                }
                .await
                .map_err(|_| SlowPath::TimedOut)?,
                Some(dispatch) => {
                    let deadline = waited.deadline(timeout);
                    tokio::time::timeout_at(
                        deadline.into(),
                        self.ask_dispatch(&instance.slots, dispatch),
                    )
                    .await
                    .map_err(|_| SlowPath::TimedOut)??
                }
            };
            match conn {
                Some(conn) => return Ok(PooledConnection::new(conn, instance)),
                // Retired or closed: ask the cell again.
                None => continue,
            }
        }
    }

    /// The `runtime-bound-pool` wait: look, and when nothing is idle ask the
    /// dispatch task to say when to look again. `None` once the slots close.
    async fn ask_dispatch(
        &self,
        slots: &Slots<Tracked, Waiter>,
        dispatch: &RuntimeBoundDispatch,
    ) -> Result<Option<Lease<Tracked>>, PoolError> {
        loop {
            match slots.try_acquire() {
                TryAcquire::Acquired(conn) => return Ok(Some(conn)),
                TryAcquire::Closed => return Ok(None),
                TryAcquire::Empty => {
                    let _waiting = Waiting::enter(&self.metrics.waiters);
                    dispatch.wait_for_release().await?;
                }
            }
        }
    }

    /// The cell's instance for `generation`, if built; this thread
    /// remembers it.
    fn ready(&self, generation: u64) -> Option<Arc<Instance>> {
        let instance = self.cell.ready(generation)?;
        recent::remember(self.number, generation, &instance);
        Some(instance)
    }

    /// The current instance, building it if this caller is the first.
    async fn instance(&self) -> Result<Arc<Instance>, PoolError> {
        if let Some(instance) = self.cell.ready(self.generation.load(Ordering::Acquire)) {
            return Ok(instance);
        }
        loop {
            let changed = self.cell_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let generation = self.generation.load(Ordering::Acquire);
            match self.cell.begin(generation) {
                Begin::Ready(instance) => return Ok(instance),
                Begin::Closed => return Err(PoolError::Closed),
                Begin::Wait => changed.await,
                Begin::Init(ticket) => {
                    // However this ends (built, failed, or this future
                    // dropped mid-build), the claim is released before the
                    // waiters are woken, so none of them wakes to a claim
                    // still held by a builder that is gone.
                    let mut building = Building {
                        ticket: Some(ticket),
                        changed: &self.cell_changed,
                    };
                    let retired = building.ticket.as_mut().and_then(InitTicket::take_retired);
                    if let Some(old) = retired {
                        self.close_instance(&old).await;
                    }
                    let built = self.build().await?;
                    let Some(ticket) = building.ticket.take() else {
                        unreachable!("the claim is held until here");
                    };
                    let (instance, published) = ticket.complete(built);
                    // Only now is there an `Arc` for the deadline thread to
                    // hold weakly; callers queued since it was published are
                    // seen at its first look.
                    let watched: Weak<Instance> = Arc::downgrade(&instance);
                    instance.deadlines.attach(watched);
                    if published == Published::No {
                        self.close_instance(&instance).await;
                        return Err(PoolError::Closed);
                    }
                    return Ok(instance);
                }
            }
        }
    }

    /// Opens `size` connections; the first also sets WAL and the schema.
    async fn build(&self) -> Result<Instance, PoolError> {
        self.metrics.builds.fetch_add(1, Ordering::Relaxed);
        let slots = Slots::<Tracked, Waiter>::new(self.config.size);
        for i in 0..self.config.size {
            let conn = self.open_connection(i == 0).await?;
            match slots.add(conn) {
                Ok(None) => {}
                Ok(Some(waiter)) => waiter.waker.wake(),
                Err(rejected) => rejected.0.close().await,
            }
        }
        let dispatch = self
            .config
            .faults
            .is_on(Bug::RuntimeBoundPool)
            .then(RuntimeBoundDispatch::spawn);
        let open_error = |reason| PoolError::Open {
            path: self.config.path.clone(),
            reason,
        };
        let deadlines = DeadlineThread::spawn(self.config.acquire_timeout)
            .map_err(|e| open_error(format!("cannot start the pool's deadline thread: {e}")))?;
        let checkpointer = Checkpointer::start(
            self.config.path.clone(),
            self.settings,
            self.config.checkpoints,
        )
        .await
        .map_err(open_error)?;
        Ok(Instance {
            slots,
            deadlines,
            dispatch,
            checkpointer,
        })
    }

    async fn open_connection(&self, first: bool) -> Result<Tracked, PoolError> {
        let path = self.config.path.clone();
        let open_error = |reason: String| PoolError::Open {
            path: path.clone(),
            reason,
        };
        let conn = tokio_rusqlite::Connection::open(&self.config.path)
            .await
            .map_err(|e| open_error(e.to_string()))?;
        let conn = Tracked::new(conn, &self.metrics);
        let settings = self.settings;
        let create_schema = first && !self.config.faults.is_on(Bug::RacySchema);
        let prepared = conn
            .conn
            .call(move |c| {
                name_this_thread();
                settings.apply(c)?;
                if first {
                    db::enable_wal(c)?;
                }
                if create_schema {
                    db::create_schema(c)?;
                }
                Ok::<_, rusqlite::Error>(())
            })
            .await;
        match prepared {
            Ok(()) => Ok(conn),
            Err(e) => {
                conn.close().await;
                Err(open_error(match e {
                    tokio_rusqlite::Error::Error(e) => e.to_string(),
                    _ => "the connection's thread ended during setup".to_owned(),
                }))
            }
        }
    }

    async fn close_instance(&self, instance: &Instance) {
        for conn in instance.shut() {
            conn.close().await;
        }
    }

    /// Opens the pool now instead of at the first acquire.
    pub async fn warm_up(&self) -> Result<(), PoolError> {
        self.acquire().await.map(drop)
    }

    /// Closes the pool: waiters fail with [`PoolError::Closed`], idle
    /// connections close now, lent ones when they come back.
    pub async fn close(&self) {
        let current = self.cell.close();
        self.cell_changed.notify_waiters();
        if let Some(instance) = current {
            self.close_instance(&instance).await;
        }
    }

    /// Makes a closed pool usable again; the next acquire builds it afresh.
    pub fn reopen(&self) {
        self.cell.reopen();
    }

    /// Replaces the pool's connections: the next acquire builds a new set and
    /// closes the old one (lent connections close when they come back).
    pub fn recycle(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// A snapshot for metrics.
    pub fn stats(&self) -> PoolStats {
        let slots = self
            .cell
            .get()
            .map(|i| i.slots.stats())
            .unwrap_or(SlotStats {
                idle: 0,
                in_use: 0,
                capacity: self.config.size,
                closed: false,
                queued: 0,
            });
        let m = &self.metrics;
        PoolStats {
            size: self.config.size,
            connections_open: m
                .opened
                .load(Ordering::Relaxed)
                .saturating_sub(m.closed.load(Ordering::Relaxed)),
            in_use: slots.in_use,
            idle: slots.idle,
            waiters: m.waiters.load(Ordering::Relaxed) + slots.queued,
            builds: m.builds.load(Ordering::Relaxed),
            acquires: m.acquires.sum(),
            acquire_wait_micros: u64::try_from(
                stamp::duration(m.acquire_wait_ticks.sum()).as_micros(),
            )
            .unwrap_or(u64::MAX),
            timeouts: m.timeouts.load(Ordering::Relaxed),
        }
    }
}

impl Drop for ConnectionPool {
    /// Closes the current instance, as [`close`](Self::close) does but
    /// without waiting for SQLite: threads may still hold it (see
    /// [`recent`]), and it must hold no connection open for them.
    fn drop(&mut self) {
        if let Some(instance) = self.cell.close() {
            drop(instance.shut());
        }
    }
}

/// A build in progress: holds the claim, and on drop releases it (if it
/// was not completed) and then wakes the callers waiting for the cell. The
/// order matters: woken first, a waiter would find the claim still held, wait
/// again, and never be woken when it is released (loom: `loom_init.rs`).
struct Building<'a> {
    ticket: Option<InitTicket<'a, Instance>>,
    changed: &'a Notify,
}

impl Drop for Building<'_> {
    fn drop(&mut self) {
        drop(self.ticket.take());
        self.changed.notify_waiters();
    }
}

/// Names the calling thread, a connection's own (tokio-rusqlite starts it
/// unnamed, so it showed the name of the runtime worker that opened it), so
/// `top -H` and `/proc/<pid>/task/*/comm` tell SQLite's time apart.
fn name_this_thread() {
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_name(c"racegate-sqlite");
}
