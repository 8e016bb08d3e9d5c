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
    fn answer(self: Box<Self>, committed: Result<(), BatchFailure>);
    /// Why its last run failed, as the batch's failure, if it failed.
    fn failure(&self) -> Option<BatchFailure>;
}

pub(crate) type WriteJob = Box<dyn Job>;

/// Why a batch did not commit: SQLite's message and code, for every job.
#[derive(Clone, Debug)]
pub(crate) struct BatchFailure {
    message: String,
    sqlite: Option<rusqlite::ffi::Error>,
}

impl From<rusqlite::Error> for BatchFailure {
    fn from(e: rusqlite::Error) -> Self {
        let sqlite = match &e {
            rusqlite::Error::SqliteFailure(f, _) => Some(*f),
            _ => None,
        };
        Self {
            message: e.to_string(),
            sqlite,
        }
    }
}

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

    fn failure(&self) -> Option<BatchFailure> {
        let e = self.outcome.as_ref()?.as_ref().err()?;
        Some(BatchFailure {
            message: e.to_string(),
            sqlite: e.sqlite(),
        })
    }

    fn answer(self: Box<Self>, committed: Result<(), BatchFailure>) {
        let failed = |f: BatchFailure| ServiceError::WriteBatch {
            message: f.message,
            sqlite: f.sqlite,
        };
        let _ = self.answer.send(match (self.outcome, committed) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(r)), Ok(())) => Ok(r),
            (_, Err(f)) => Err(failed(f)),
            (None, Ok(())) => Err(failed(BatchFailure {
                message: "the write never ran".into(),
                sqlite: None,
            })),
        });
    }
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
        // SQLite rolled the whole transaction back itself (a full disk
        // can): there is no savepoint left to roll back to.
        Err(e) if c.is_autocommit() => Err(e),
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
    committed: Result<(), BatchFailure>,
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
    // In WAL mode SQLite keeps writing to a database file that was removed
    // or replaced (its unlinked inode), and the writes vanish with it.
    if crate::db::file_moved(c) {
        let committed = Err(BatchFailure {
            message: "the database file was removed or replaced since it was opened".into(),
            sqlite: Some(rusqlite::ffi::Error::new(
                rusqlite::ffi::SQLITE_READONLY_DBMOVED,
            )),
        });
        return Ran { jobs, committed };
    }
    let begin = || {
        exec(c, "BEGIN IMMEDIATE")
            .map(drop)
            .map_err(BatchFailure::from)
    };
    let mut started = begin();
    if started.is_ok() && !jobs.iter_mut().all(|job| job.attempt(c)) {
        // SQLite may have rolled the transaction back itself already (a
        // full disk can); otherwise undo it, and run each job alone.
        let undone = match c.is_autocommit() {
            true => Ok(0),
            false => exec(c, "ROLLBACK"),
        };
        started = undone.map_err(BatchFailure::from).and_then(|_| begin());
        if started.is_ok() {
            for job in &mut jobs {
                job.attempt_alone(c);
                if c.is_autocommit() {
                    // The whole transaction went with this job's failure:
                    // what ran before it is undone too, so every job fails
                    // as it did.
                    started = Err(job.failure().unwrap_or_else(|| BatchFailure {
                        message: "the transaction was rolled back".into(),
                        sqlite: None,
                    }));
                    break;
                }
            }
        }
    }
    let committed = started.and_then(|()| exec(c, "COMMIT").map(drop).map_err(BatchFailure::from));
    if let Err(e) = &committed {
        // A storage condition is logged where it starts and ends.
        if e.sqlite.is_none() {
            tracing::warn!(error = %e.message, jobs = jobs.len(), "a write batch failed");
        }
        if !c.is_autocommit() {
            let _ = exec(c, "ROLLBACK");
        }
    }
    Ran { jobs, committed }
}
