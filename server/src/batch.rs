//! One write batch on a connection's thread: the queued jobs run in one
//! transaction and are answered after its COMMIT; if one fails, the batch
//! runs again with a savepoint around each job, so the failure is undone
//! alone ([`run_batch`]). [`crate::store`] queues the jobs and picks the
//! leader.

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::ServiceError;

/// One queued write: its SQL, what it came to, and the channel its owner
/// waits on. A batch runs its jobs bare first and, only if one of them fails,
/// rolls everything back and runs them again, each inside its own savepoint
/// (see [`run_batch`]): so a job may run twice, and only its last run counts.
pub(crate) trait Job: Send {
    /// Runs the SQL in the batch's transaction, keeping the outcome; false if
    /// it failed (it may have left some of its changes behind).
    fn attempt(&mut self, c: &Connection) -> bool;
    /// Runs the SQL inside a savepoint: kept if it succeeds, rolled back alone
    /// if it fails.
    fn attempt_alone(&mut self, c: &Connection);
    /// Answers the owner once the batch's COMMIT has succeeded or failed.
    fn answer(self: Box<Self>, committed: Result<(), String>);
}

pub(crate) type WriteJob = Box<dyn Job>;

pub(crate) struct TypedJob<R, F> {
    pub(crate) f: F,
    pub(crate) outcome: Option<Result<R, ServiceError>>,
    pub(crate) answer: oneshot::Sender<Result<R, ServiceError>>,
}

impl<R, F> Job for TypedJob<R, F>
where
    F: Fn(&Connection) -> Result<R, ServiceError> + Send + 'static,
    R: Send + 'static,
{
    fn attempt(&mut self, c: &Connection) -> bool {
        let outcome = (self.f)(c);
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn attempt_alone(&mut self, c: &Connection) {
        self.outcome = Some(in_savepoint(c, &self.f));
    }

    fn answer(self: Box<Self>, committed: Result<(), String>) {
        let outcome = self
            .outcome
            .unwrap_or_else(|| Err(batch_error("the write never ran".into())));
        let _ = self.answer.send(match (outcome, committed) {
            (Err(e), _) => Err(e),
            (Ok(r), Ok(())) => Ok(r),
            (Ok(_), Err(e)) => Err(batch_error(e)),
        });
    }
}

fn batch_error(e: String) -> ServiceError {
    ServiceError::WriteBatch(e)
}

/// Runs one statement that takes no parameters. Every job or batch runs
/// these, so they are prepared once per connection, not parsed each time.
fn exec(c: &Connection, sql: &str) -> rusqlite::Result<usize> {
    c.prepare_cached(sql).and_then(|mut st| st.execute([]))
}

/// Runs `f` inside a savepoint: kept if it succeeds, rolled back if not.
fn in_savepoint<R, F>(c: &Connection, f: &F) -> Result<R, ServiceError>
where
    F: Fn(&Connection) -> Result<R, ServiceError>,
{
    exec(c, "SAVEPOINT job")?;
    match f(c) {
        Ok(r) => {
            exec(c, "RELEASE job")?;
            Ok(r)
        }
        Err(e) => {
            exec(c, "ROLLBACK TO job")?;
            exec(c, "RELEASE job")?;
            Err(e)
        }
    }
}

/// A batch that has committed or failed, its jobs not yet answered.
pub(crate) struct Ran {
    jobs: Vec<WriteJob>,
    committed: Result<(), String>,
}

impl Ran {
    pub(crate) fn answer(self) {
        for job in self.jobs {
            job.answer(self.committed.clone());
        }
    }
}

/// One transaction for the whole batch; every job answered after the COMMIT.
///
/// The jobs run bare: a savepoint around each would cost two more statements
/// per job and copy every page a job first touches into the statement
/// journal. If one fails, the transaction is rolled back and the batch runs
/// again with a savepoint around each job, so the failure is undone alone and
/// its batch mates still commit.
pub(crate) fn run_batch(c: &Connection, mut jobs: Vec<WriteJob>) -> Ran {
    let begin = || {
        exec(c, "BEGIN IMMEDIATE")
            .map(drop)
            .map_err(|e| e.to_string())
    };
    let mut started = begin();
    if started.is_ok() && !jobs.iter_mut().all(|job| job.attempt(c)) {
        started = exec(c, "ROLLBACK")
            .map_err(|e| e.to_string())
            .and_then(|_| begin());
        if started.is_ok() {
            for job in &mut jobs {
                job.attempt_alone(c);
            }
        }
    }
    let committed = started.and_then(|()| exec(c, "COMMIT").map(drop).map_err(|e| e.to_string()));
    if let Err(e) = &committed {
        tracing::warn!(error = %e, jobs = jobs.len(), "a write batch failed");
        if !c.is_autocommit() {
            let _ = exec(c, "ROLLBACK");
        }
    }
    Ran { jobs, committed }
}
