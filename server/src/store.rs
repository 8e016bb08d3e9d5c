//! [`Store`]: how both services run SQL on a pooled connection — a read, or a
//! write transaction, with group commit.
//!
//! SQLite has one writer at a time. Letting pooled connections race for the
//! write lock costs twice: the losers sleep in SQLite's busy handler (1, 2, 5,
//! 10 … ms), and every write is its own round trip to a connection thread and
//! its own commit. Instead, writes are queued here; whoever holds the write
//! gate becomes the leader, borrows a connection, and hands it a [`Writer`]:
//! on the connection's thread it takes everything queued and runs it in one
//! transaction, commits once and answers every job, then takes what was
//! queued meanwhile, until the queue is empty. A job that fails rolls back
//! alone (see [`crate::batch`]). Nobody is acknowledged before the COMMIT that
//! made their write durable.
//!
//! Nothing here is bound to a runtime: the queue is a std mutex never held
//! across an `.await`, the gate a `tokio::sync::Semaphore`, the answers
//! oneshot channels. A leader cancelled once its writer has started changes
//! nothing: the writer owns the jobs, the connection and the gate's permit,
//! and gives the last two back from the connection's thread.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::batch::{run_batch, TypedJob, WriteJob};
use crate::bugs::{Bug, RacySchema};
use crate::checkpoint;
use crate::db;
use crate::error::ServiceError;
use crate::pool::{ConnectionPool, PooledConnection};
use crate::storage::StorageFault;

/// Runs service SQL through the pool.
#[derive(Clone)]
pub struct Store {
    pool: Arc<ConnectionPool>,
    /// Only with `racy-schema`: tables are created on first use, unguarded.
    racy_schema: Option<Arc<RacySchema>>,
    /// Group commit; `None` under `locked-db` and `racy-schema`, whose point
    /// is connections racing each other.
    writes: Option<Arc<WriteQueue>>,
}

/// Writes waiting for a leader.
struct WriteQueue {
    /// Held only to push or take jobs, never across an `.await`.
    jobs: Mutex<Vec<(u64, WriteJob)>>,
    /// Whoever holds the one permit runs the next batch.
    gate: Arc<Semaphore>,
    next_id: AtomicU64,
    /// Batches run, jobs in them, and the largest: proof that writes really
    /// share transactions (tests and metrics read them).
    batches: AtomicU64,
    batched_jobs: AtomicU64,
    largest_batch: AtomicU64,
}

/// How group commit has batched writes so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct WriteStats {
    /// Batches run (each one transaction).
    pub batches: u64,
    /// Writes run in them.
    pub jobs: u64,
    /// The most writes one batch carried.
    pub largest_batch: u64,
    /// Writes queued now, waiting for a leader.
    pub queued: u64,
}

impl WriteQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, WriteJob)>> {
        crate::sync::lock(&self.jobs)
    }

    /// Takes every queued job, as the next batch, and counts it.
    fn take(&self) -> Vec<WriteJob> {
        let batch: Vec<WriteJob> = std::mem::take(&mut *self.lock())
            .into_iter()
            .map(|(_, j)| j)
            .collect();
        if !batch.is_empty() {
            let size = batch.len() as u64;
            self.batches.fetch_add(1, Ordering::Relaxed);
            self.batched_jobs.fetch_add(size, Ordering::Relaxed);
            self.largest_batch.fetch_max(size, Ordering::Relaxed);
        }
        batch
    }
}

impl Store {
    /// A store over `pool`.
    pub fn new(pool: Arc<ConnectionPool>) -> Self {
        let faults = &pool.config().faults;
        let racy_schema = faults.is_on(Bug::RacySchema).then(Arc::default);
        let writes = (!faults.is_on(Bug::LockedDb) && !faults.is_on(Bug::RacySchema)).then(|| {
            Arc::new(WriteQueue {
                jobs: Mutex::new(Vec::new()),
                gate: Arc::new(Semaphore::new(1)),
                next_id: AtomicU64::new(0),
                batches: AtomicU64::new(0),
                batched_jobs: AtomicU64::new(0),
                largest_batch: AtomicU64::new(0),
            })
        });
        Self {
            pool,
            racy_schema,
            writes,
        }
    }

    /// The pool behind the store.
    pub fn pool(&self) -> &Arc<ConnectionPool> {
        &self.pool
    }

    /// How group commit has batched writes; all zero when writes run alone
    /// (`locked-db`, `racy-schema`).
    pub fn write_stats(&self) -> WriteStats {
        self.writes
            .as_ref()
            .map_or_else(WriteStats::default, |q| WriteStats {
                batches: q.batches.load(Ordering::Relaxed),
                jobs: q.batched_jobs.load(Ordering::Relaxed),
                largest_batch: q.largest_batch.load(Ordering::Relaxed),
                queued: q.lock().len() as u64,
            })
    }

    /// Borrows a connection, to run several steps on it.
    pub async fn acquire(&self) -> Result<PooledConnection, ServiceError> {
        let conn = self.pool.acquire().await.map_err(ServiceError::from);
        self.watched(conn, false)
    }

    /// `e` as the storage fault it is, if it is one (counted, and logged
    /// if a condition starts); other errors as they are. A database file
    /// that vanished, was replaced or turned read-only gets new
    /// connections, opened on whatever is at its path now.
    fn storage_error(&self, e: ServiceError) -> ServiceError {
        let Some(fault) = e
            .sqlite()
            .and_then(|f| StorageFault::of(&f, &self.pool.config().path))
        else {
            return e;
        };
        let message = e.to_string();
        self.pool.health().failed(fault, &message);
        // Connections on a file that is gone, or opened read-only, stay so:
        // new ones (at most a few a second) see what is at the path now.
        if matches!(fault, StorageFault::Missing | StorageFault::ReadOnly)
            && self.pool.health().recycle_due()
        {
            self.pool.recycle();
        }
        ServiceError::Storage { fault, message }
    }

    /// `r`, a storage fault told apart and counted; a write that succeeded
    /// ends whatever storage condition held.
    fn watched<R>(&self, r: Result<R, ServiceError>, wrote: bool) -> Result<R, ServiceError> {
        match r {
            Ok(v) => {
                if wrote {
                    self.pool.health().succeeded();
                }
                Ok(v)
            }
            Err(e) => Err(self.storage_error(e)),
        }
    }

    /// Runs `f` outside any explicit transaction (a read).
    pub async fn read<R, F>(&self, f: F) -> Result<R, ServiceError>
    where
        F: FnOnce(&Connection) -> Result<R, ServiceError> + Send + 'static,
        R: Send + 'static,
    {
        let conn = self.acquire().await?;
        self.read_on(&conn, f).await
    }

    /// [`read`](Self::read) on a connection the caller already holds.
    pub async fn read_on<R, F>(&self, conn: &PooledConnection, f: F) -> Result<R, ServiceError>
    where
        F: FnOnce(&Connection) -> Result<R, ServiceError> + Send + 'static,
        R: Send + 'static,
    {
        let racy = self.racy_schema.clone();
        let read = conn
            .call(move |c| {
                if let Some(racy) = &racy {
                    racy.ensure_tables(c)?;
                }
                f(c)
            })
            .await
            .map_err(ServiceError::from);
        self.watched(read, false)
    }

    /// Runs `f` as one atomic write: all of it is committed, or none of it.
    /// Returns only after the commit.
    ///
    /// `f` may run more than once (a batch mate's failure makes the batch run
    /// again, see [`run_batch`]), each time in a transaction where its earlier
    /// runs were rolled back; only its last run is committed. So it must not
    /// have effects outside the database.
    pub async fn write<R, F>(&self, f: F) -> Result<R, ServiceError>
    where
        F: Fn(&Connection) -> Result<R, ServiceError> + Send + 'static,
        R: Send + 'static,
    {
        let wrote = match &self.writes {
            Some(queue) => self.group_write(queue, f).await,
            None => self.solo_write(f).await,
        };
        self.watched(wrote, true)
    }

    /// One write, one transaction, its own connection: what `locked-db` and
    /// `racy-schema` need to race.
    async fn solo_write<R, F>(&self, f: F) -> Result<R, ServiceError>
    where
        F: FnOnce(&Connection) -> Result<R, ServiceError> + Send + 'static,
        R: Send + 'static,
    {
        let conn = self.acquire().await?;
        let racy = self.racy_schema.clone();
        let lock = self.pool.write_lock();
        Ok(conn
            .call(move |c| {
                if let Some(racy) = &racy {
                    racy.ensure_tables(c)?;
                }
                let tx = db::begin_write(c, lock)?;
                let r = f(&tx)?;
                tx.commit()?;
                Ok::<R, ServiceError>(r)
            })
            .await?)
    }

    async fn group_write<R, F>(&self, queue: &Arc<WriteQueue>, f: F) -> Result<R, ServiceError>
    where
        F: Fn(&Connection) -> Result<R, ServiceError> + Send + 'static,
        R: Send + 'static,
    {
        let (answer, mut rx) = oneshot::channel::<Result<R, ServiceError>>();
        let job: WriteJob = Box::new(TypedJob {
            f,
            outcome: None,
            answer,
        });
        let id = queue.next_id.fetch_add(1, Ordering::Relaxed);
        queue.lock().push((id, job));
        loop {
            tokio::select! {
                biased;
                answer = &mut rx => return answer.unwrap_or(Err(ServiceError::ConnectionClosed)),
                permit = Arc::clone(&queue.gate).acquire_owned() => {
                    let Ok(permit) = permit else { return Err(ServiceError::ConnectionClosed) };
                    let conn = match self.acquire().await {
                        Ok(conn) => conn,
                        Err(e) => {
                            // Withdraw our job unless a leader already took it.
                            let mut jobs = queue.lock();
                            if let Some(i) = jobs.iter().position(|(j, _)| *j == id) {
                                jobs.swap_remove(i);
                                return Err(e);
                            }
                            continue;
                        }
                    };
                    let batch = queue.take();
                    if batch.is_empty() {
                        continue; // ours was in an earlier batch: its answer is on the way
                    }
                    // Our answer comes with the first batch's COMMIT; the
                    // writer goes on draining the queue without us. The call
                    // is polled first, so the work is on the connection's
                    // thread before we can return; after that, dropping the
                    // call only drops the channel its (empty) result would
                    // have come back on.
                    let writer = Writer { queue: Arc::clone(queue), permit, conn };
                    let mut call = std::pin::pin!(writer.start(batch));
                    tokio::select! {
                        biased;
                        // The writer is done (our answer is in), or it never
                        // ran: the connection's thread was gone, and the jobs
                        // were dropped unanswered, ours too. Either way the
                        // loop finds our answer next.
                        _ = &mut call => {}
                        answer = &mut rx => return answer.unwrap_or(Err(ServiceError::ConnectionClosed)),
                    }
                }
            }
        }
    }
}

/// The most batches one leader runs before it gives its connection back to
/// the pool and the gate to the next leader.
const MAX_BATCHES_PER_LEASE: usize = 64;

/// What a leader hands to its connection's thread: the gate's permit and the
/// pooled connection travel with the work, so both are given back from that
/// thread when the queue runs dry — nobody on the runtime waits for it.
struct Writer {
    queue: Arc<WriteQueue>,
    permit: OwnedSemaphorePermit,
    conn: PooledConnection,
}

impl Writer {
    /// Runs `first`, then whatever was queued meanwhile, batch after batch,
    /// on the connection's thread. Between batches the connection never goes
    /// idle and no leader has to be woken: the next batch starts as soon as
    /// the last one has answered. The work is handed to the thread when the
    /// returned future is first polled; from then on it runs to the end
    /// whether or not anyone awaits it. Dropped before that, it drops the
    /// jobs (their owners see the connection closed) and gives the
    /// connection and the permit back.
    fn start(
        self,
        first: Vec<WriteJob>,
    ) -> impl Future<Output = tokio_rusqlite::Result<()>> + Send + 'static {
        let handle: tokio_rusqlite::Connection = (*self.conn).clone();
        let work = move |c: &mut Connection| {
            let mut batch = first;
            for ran in 1.. {
                let done = run_batch(c, batch);
                if self.conn.companion().take_due() {
                    // Between transactions, where a checkpoint lets the WAL
                    // start over (crate::checkpoint); rare enough that the
                    // batch's answers can wait for it.
                    if let Err(e) = checkpoint::checkpoint(c, "PASSIVE") {
                        tracing::warn!(error = %e, "the writer's WAL checkpoint failed");
                    }
                }
                batch = if ran < MAX_BATCHES_PER_LEASE {
                    self.queue.take()
                } else {
                    Vec::new()
                };
                if batch.is_empty() {
                    // The connection back before the last answers, so whoever
                    // is answered finds it idle; the gate after them, so a
                    // waiter handed the permit finds its answer first and
                    // does not borrow a connection to lead an empty batch.
                    let Writer { permit, conn, .. } = self;
                    drop(conn);
                    done.answer();
                    drop(permit);
                    return;
                }
                done.answer();
            }
        };
        async move { handle.call_raw(work).await }
    }
}
