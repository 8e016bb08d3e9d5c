//! [`Store`]: how both services run SQL on a pooled connection — a read, or a
//! write transaction, with group commit.
//!
//! SQLite has one writer at a time. Letting pooled connections race for the
//! write lock costs twice: the losers sleep in SQLite's busy handler (1, 2, 5,
//! 10 … ms), and every write is its own round trip to a connection thread and
//! its own commit. Instead, writes are queued here; whoever holds the write
//! gate becomes the leader, takes everything queued, and runs it on one
//! connection in one transaction — each job inside its own SAVEPOINT, so a job
//! that fails rolls back alone — then commits once and answers every job.
//! Nobody is acknowledged before the COMMIT that made their write durable.
//!
//! Nothing here is bound to a runtime: the queue is a std mutex never held
//! across an `.await`, the gate a `tokio::sync::Semaphore`, the answers
//! oneshot channels. A leader cancelled mid-batch changes nothing: the batch
//! closure, which owns the jobs, already runs on the connection's thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::{oneshot, Semaphore};

use crate::bugs::{Bug, RacySchema};
use crate::db;
use crate::error::ServiceError;
use crate::pool::{ConnectionPool, PooledConnection};

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

/// One queued write: its SQL, and the channel its owner waits on.
trait Job: Send {
    /// Runs the SQL inside the batch transaction; returns what to answer once
    /// the batch's COMMIT has succeeded or failed.
    fn run(self: Box<Self>, c: &Connection) -> Box<dyn FnOnce(Result<(), String>) + Send>;
    /// The batch could not start: answer with why.
    fn fail(self: Box<Self>, error: String);
}

type WriteJob = Box<dyn Job>;

struct TypedJob<R, F> {
    f: F,
    answer: oneshot::Sender<Result<R, ServiceError>>,
}

impl<R, F> Job for TypedJob<R, F>
where
    F: FnOnce(&Connection) -> Result<R, ServiceError> + Send + 'static,
    R: Send + 'static,
{
    fn run(self: Box<Self>, c: &Connection) -> Box<dyn FnOnce(Result<(), String>) + Send> {
        let outcome = in_savepoint(c, self.f);
        let answer = self.answer;
        Box::new(move |committed| {
            let _ = answer.send(match (outcome, committed) {
                (Err(e), _) => Err(e),
                (Ok(r), Ok(())) => Ok(r),
                (Ok(_), Err(e)) => Err(batch_error(e)),
            });
        })
    }

    fn fail(self: Box<Self>, error: String) {
        let _ = self.answer.send(Err(batch_error(error)));
    }
}

fn batch_error(e: String) -> ServiceError {
    ServiceError::WriteBatch(e)
}

/// Writes waiting for a leader.
struct WriteQueue {
    /// Held only to push or take jobs, never across an `.await`.
    jobs: Mutex<Vec<(u64, WriteJob)>>,
    /// Whoever holds the one permit runs the next batch.
    gate: Semaphore,
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
}

impl Store {
    /// A store over `pool`.
    pub fn new(pool: Arc<ConnectionPool>) -> Self {
        let faults = &pool.config().faults;
        let racy_schema = faults.is_on(Bug::RacySchema).then(Arc::default);
        let writes = (!faults.is_on(Bug::LockedDb) && !faults.is_on(Bug::RacySchema)).then(|| {
            Arc::new(WriteQueue {
                jobs: Mutex::new(Vec::new()),
                gate: Semaphore::new(1),
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
        Ok(self.pool.acquire().await?)
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
        Ok(conn
            .call(move |c| {
                if let Some(racy) = &racy {
                    racy.ensure_tables(c)?;
                }
                f(c)
            })
            .await?)
    }

    /// Runs `f` as one atomic write: all of it is committed, or none of it.
    /// Returns only after the commit.
    pub async fn write<R, F>(&self, f: F) -> Result<R, ServiceError>
    where
        F: FnOnce(&Connection) -> Result<R, ServiceError> + Send + 'static,
        R: Send + 'static,
    {
        match &self.writes {
            Some(queue) => self.group_write(queue, f).await,
            None => self.solo_write(f).await,
        }
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

    async fn group_write<R, F>(&self, queue: &WriteQueue, f: F) -> Result<R, ServiceError>
    where
        F: FnOnce(&Connection) -> Result<R, ServiceError> + Send + 'static,
        R: Send + 'static,
    {
        let (answer, mut rx) = oneshot::channel::<Result<R, ServiceError>>();
        let job: WriteJob = Box::new(TypedJob { f, answer });
        let id = queue.next_id.fetch_add(1, Ordering::Relaxed);
        queue.lock().push((id, job));
        loop {
            tokio::select! {
                biased;
                answer = &mut rx => return answer.unwrap_or(Err(ServiceError::ConnectionClosed)),
                permit = queue.gate.acquire() => {
                    let Ok(_permit) = permit else { return Err(ServiceError::ConnectionClosed) };
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
                    let batch: Vec<WriteJob> = std::mem::take(&mut *queue.lock()).into_iter().map(|(_, j)| j).collect();
                    if batch.is_empty() {
                        continue; // ours was in an earlier batch: its answer is on the way
                    }
                    let size = batch.len() as u64;
                    queue.batches.fetch_add(1, Ordering::Relaxed);
                    queue.batched_jobs.fetch_add(size, Ordering::Relaxed);
                    queue.largest_batch.fetch_max(size, Ordering::Relaxed);
                    // The closure owns the jobs and answers each of them, even
                    // if this future is dropped while it runs.
                    let ran = conn.call(move |c| {
                        run_batch(c, batch);
                        Ok::<(), rusqlite::Error>(())
                    }).await;
                    if let Err(e) = ran {
                        // The connection's thread is gone: the jobs' answers
                        // were dropped with them, which their owners see.
                        tracing::warn!(error = %e, "a write batch could not run");
                    }
                }
            }
        }
    }
}

/// Runs `f` inside a savepoint: kept if it succeeds, rolled back if not.
fn in_savepoint<R, F>(c: &Connection, f: F) -> Result<R, ServiceError>
where
    F: FnOnce(&Connection) -> Result<R, ServiceError>,
{
    // Every job runs these: prepared once per connection, not parsed per job.
    let run = |sql: &str| c.prepare_cached(sql).and_then(|mut st| st.execute([]));
    run("SAVEPOINT job")?;
    match f(c) {
        Ok(r) => {
            run("RELEASE job")?;
            Ok(r)
        }
        Err(e) => {
            run("ROLLBACK TO job")?;
            run("RELEASE job")?;
            Err(e)
        }
    }
}

/// One transaction for the whole batch; every job answered after the COMMIT.
fn run_batch(c: &Connection, batch: Vec<WriteJob>) {
    let run = |sql: &str| c.prepare_cached(sql).and_then(|mut st| st.execute([]));
    if let Err(e) = run("BEGIN IMMEDIATE") {
        tracing::warn!(error = %e, jobs = batch.len(), "a write batch could not begin");
        for job in batch {
            job.fail(e.to_string());
        }
        return;
    }
    let finishers: Vec<_> = batch.into_iter().map(|job| job.run(c)).collect();
    let committed = run("COMMIT").map(drop).map_err(|e| e.to_string());
    if committed.is_err() {
        let _ = run("ROLLBACK");
    }
    for finish in finishers {
        finish(committed.clone());
    }
}
