//! The pool's async layer ([`Pool`]): it awaits — a build's connections, a
//! wake-up, a connection's close — and asks [`crate::machine`] what to do
//! at every turn. It makes no decision of its own.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use tokio::sync::Notify;

use crate::bug::RuntimeBoundDispatch;
use crate::instance::{Beside, Instance};
use crate::lent::Pooled;
use crate::machine::{self, Cell, Signal, Step};
use crate::manager::{Manager, PoolConfig, PoolError, PoolStats};
use crate::recent;
use crate::slots::{Lease, TryAcquire};
use crate::stamp;
use crate::tracked::{PoolMetrics, Tracked};
use crate::waiting::{DeadlineThread, Queued, Waited, Waiting, Watched};

impl Signal for Notify {
    fn notify_waiters(&self) {
        Notify::notify_waiters(self);
    }
}

/// How the slow path of an acquire ends, when it ends without a connection.
enum SlowPath<E> {
    TimedOut,
    Failed(PoolError<E>),
}

impl<E> From<PoolError<E>> for SlowPath<E> {
    fn from(e: PoolError<E>) -> Self {
        Self::Failed(e)
    }
}

/// A lazily built, runtime-safe pool of `M`'s connections. Share it as
/// `Arc<Pool<M>>`.
pub struct Pool<M: Manager> {
    manager: M,
    config: PoolConfig,
    cell: Cell<Tracked<M::Connection>, crate::waiting::Waiter, Beside<M>>,
    /// Notified whenever the cell changes (built, failed, closed), so callers
    /// waiting for another caller's build re-check it.
    cell_changed: Notify,
    /// Bumped by [`recycle`](Self::recycle): the next acquire builds a fresh
    /// instance and retires the old one.
    generation: AtomicU64,
    metrics: Arc<PoolMetrics>,
    /// This pool's number, under which threads remember its instance
    /// ([`crate::recent`]).
    number: u64,
}

impl<M: Manager> Pool<M> {
    /// A pool that opens nothing until first used.
    pub fn new(manager: M, config: PoolConfig) -> Arc<Self> {
        // The wait metric's ticks convert against a reading from here on.
        stamp::start();
        Arc::new(Self {
            manager,
            cell: Cell::new(config.init_guard),
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

    /// The manager.
    pub fn manager(&self) -> &M {
        &self.manager
    }

    /// Borrows a connection, waiting at most the acquire timeout.
    pub async fn acquire(&self) -> Result<Pooled<M>, PoolError<M::Error>> {
        // The fast path (built, a connection idle): the instance this thread
        // remembers (else the cell's), and one compare-and-swap on the
        // slots' idle stack: no lock, no clock, no timer.
        let generation = self.generation.load(Ordering::Acquire);
        let mut ready = recent::get(self.number, generation).or_else(|| self.ready(generation));
        if let Some(instance) = ready.take() {
            match instance.slots.try_acquire() {
                TryAcquire::Acquired(conn) => {
                    self.metrics.acquires.fetch_add(1, Ordering::Relaxed);
                    return Ok(Pooled::new(conn, instance));
                }
                _ => ready = Some(instance),
            }
        }
        // Set when this acquire first has to wait; it waits at most the
        // timeout from then.
        let mut waited = Waited::default();
        match self.acquire_slowly(ready, &mut waited).await {
            Ok(conn) => {
                self.metrics.acquires.fetch_add(1, Ordering::Relaxed);
                if let Some(ticks) = waited.ticks() {
                    self.metrics
                        .acquire_wait_ticks
                        .fetch_add(ticks, Ordering::Relaxed);
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
    async fn acquire_slowly(
        &self,
        mut ready: Option<Arc<Instance<M>>>,
        waited: &mut Waited,
    ) -> Result<Pooled<M>, SlowPath<M::Error>> {
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
            let conn = match &instance.sidecar.dispatch {
                None => Queued {
                    instance: &instance,
                    deadlines: &instance.sidecar.deadlines,
                    timeout,
                    waited: &mut *waited,
                    mailbox: None,
                }
                .await
                .map_err(|_| SlowPath::TimedOut)?,
                Some(dispatch) => {
                    let deadline = waited.deadline(timeout);
                    tokio::time::timeout_at(deadline.into(), self.ask_dispatch(&instance, dispatch))
                        .await
                        .map_err(|_| SlowPath::TimedOut)??
                }
            };
            match conn {
                Some(conn) => return Ok(Pooled::new(conn, instance)),
                // Retired or closed: ask the cell again.
                None => continue,
            }
        }
    }

    /// The `runtime-bound-pool` wait: look, and when nothing is idle ask the
    /// dispatch task to say when to look again. `None` once the instance is
    /// shut.
    async fn ask_dispatch(
        &self,
        instance: &Instance<M>,
        dispatch: &RuntimeBoundDispatch,
    ) -> Result<Option<Lease<Tracked<M::Connection>>>, PoolError<M::Error>> {
        loop {
            match instance.slots.try_acquire() {
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
    fn ready(&self, generation: u64) -> Option<Arc<Instance<M>>> {
        let instance = self.cell.ready(generation)?;
        recent::remember(self.number, generation, &instance);
        Some(instance)
    }

    /// The current instance, building it if this caller is the first.
    async fn instance(&self) -> Result<Arc<Instance<M>>, PoolError<M::Error>> {
        loop {
            // Interest first, then the look: a change in between still wakes.
            let changed = self.cell_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let generation = self.generation.load(Ordering::Acquire);
            match machine::step(&self.cell, generation, &self.cell_changed) {
                Step::Ready(instance) => return Ok(instance),
                Step::Closed => return Err(PoolError::Closed),
                Step::Wait => changed.await,
                Step::Build { build, retired } => {
                    self.close_all(retired).await;
                    // However this ends (built, failed, or this future
                    // dropped mid-build), `build`'s drop releases the claim
                    // and then wakes the waiters.
                    let built = self.build().await?;
                    return match build.complete(built) {
                        Ok(instance) => {
                            // Only now is there an `Arc` for the deadline
                            // thread to hold weakly; callers queued since it
                            // was published are seen at its first look.
                            let watched: Weak<dyn Watched> =
                                Arc::downgrade(&instance) as Weak<Instance<M>>;
                            instance.sidecar.deadlines.attach(watched);
                            Ok(instance)
                        }
                        Err(unpublished) => {
                            self.close_all(unpublished.conns).await;
                            Err(PoolError::Closed)
                        }
                    };
                }
            }
        }
    }

    /// Opens `size` connections and starts what runs beside them.
    async fn build(&self) -> Result<Instance<M>, PoolError<M::Error>> {
        self.metrics.builds.fetch_add(1, Ordering::Relaxed);
        let dispatch = self
            .config
            .runtime_bound_waits
            .then(RuntimeBoundDispatch::spawn);
        let deadlines =
            DeadlineThread::spawn(self.config.acquire_timeout).map_err(PoolError::Thread)?;
        let mut conns = Vec::with_capacity(self.config.size);
        for i in 0..self.config.size {
            match self.manager.open(i).await {
                Ok(conn) => conns.push(Tracked::new(conn, &self.metrics)),
                Err(e) => {
                    self.close_all(conns).await;
                    return Err(PoolError::Open(e));
                }
            }
        }
        let companion = match self.manager.companion().await {
            Ok(companion) => companion,
            Err(e) => {
                self.close_all(conns).await;
                return Err(PoolError::Open(e));
            }
        };
        let instance = Instance::<M>::new(
            self.config.size,
            Beside {
                deadlines,
                dispatch,
                companion,
            },
        );
        let rejected: Vec<_> = conns.into_iter().filter_map(|c| instance.add(c)).collect();
        self.close_all(rejected).await;
        Ok(instance)
    }

    /// Closes connections, waiting for each.
    async fn close_all(&self, conns: Vec<Tracked<M::Connection>>) {
        for conn in conns {
            self.manager.close(conn.take()).await;
        }
    }

    /// Opens the pool now instead of at the first acquire.
    pub async fn warm_up(&self) -> Result<(), PoolError<M::Error>> {
        self.acquire().await.map(drop)
    }

    /// Closes the pool: waiters fail with [`PoolError::Closed`], idle
    /// connections close now, lent ones when they come back.
    pub async fn close(&self) {
        let idle = machine::close(&self.cell, &self.cell_changed);
        self.close_all(idle).await;
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
        let slots = self.cell.get().map(|i| i.slots.stats());
        let m = &self.metrics;
        PoolStats {
            size: self.config.size,
            connections_open: m
                .opened
                .load(Ordering::Relaxed)
                .saturating_sub(m.closed.load(Ordering::Relaxed)),
            in_use: slots.map_or(0, |s| s.in_use),
            idle: slots.map_or(0, |s| s.idle),
            waiters: m.waiters.load(Ordering::Relaxed) + slots.map_or(0, |s| s.queued),
            builds: m.builds.load(Ordering::Relaxed),
            acquires: m.acquires.load(Ordering::Relaxed),
            acquire_wait_micros: u64::try_from(
                stamp::duration(m.acquire_wait_ticks.load(Ordering::Relaxed)).as_micros(),
            )
            .unwrap_or(u64::MAX),
            timeouts: m.timeouts.load(Ordering::Relaxed),
        }
    }
}

impl<M: Manager> Drop for Pool<M> {
    /// Shuts the current instance, as [`close`](Self::close) does but
    /// without waiting for the connections to close: lent connections hold
    /// the instance until they come back, and must find it shut.
    fn drop(&mut self) {
        if let Some(instance) = self.cell.close() {
            drop(instance.shut());
        }
    }
}
