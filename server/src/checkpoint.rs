//! [`Checkpointer`]: WAL checkpoints off the writer's path.
//!
//! SQLite's default is to checkpoint inside the COMMIT that takes the WAL past
//! 1000 pages: that one commit copies every page back into the database file
//! and, with `synchronous=NORMAL`, fsyncs both files, while every write queued
//! behind it waits. On `/api/chat` at 64 clients the WAL grows ~95 MB/s, so
//! that was a stall every ~40 ms: the machine sat 3-4 % in iowait.
//!
//! Here the pool's connections never checkpoint (`wal_autocheckpoint = 0`,
//! set in [`ConnectionSettings::apply`](crate::db::ConnectionSettings::apply)),
//! and one thread per pool build does it on a connection of its own:
//!
//! - every period (50 ms by default, see [`Schedule`]), a PASSIVE
//!   checkpoint: it copies what is in the WAL while writers go on appending,
//!   and never blocks them;
//! - when a pass finds more than 4096 frames (16 MiB) in the WAL, it marks a
//!   checkpoint *due* for the writer. Passes alone do not let the WAL start
//!   over while writes keep coming: the writer rewinds the WAL only if every
//!   frame has been copied when it begins, and a pass lags the writer by what
//!   it appended meanwhile (at 64 clients the WAL grew past 120 MB in 8 s).
//!   The group-commit writer (crate::store) looks between batches and, when
//!   one is due, runs a PASSIVE checkpoint itself: it copies the little the
//!   passes left, and its next transaction starts the WAL from the beginning.
//!   The WAL stays near 16-25 MB, and the writer pauses once per ~16 MB of
//!   writes, for a few pages, instead of once per 4 MB for all of them.
//! - if nobody takes a due checkpoint for a second (writes that do not go
//!   through group commit: the `locked-db` and `racy-schema` bugs), the
//!   thread runs a RESTART checkpoint itself, which waits for the write lock.
//!
//! Durability is unchanged: a commit is in the WAL (and, with
//! `synchronous=FULL`, on disk) before it is acknowledged, checkpointed or
//! not. The thread ends when its pool build is dropped or closed, closing its
//! connection.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::db::ConnectionSettings;

/// When the WAL is copied back ([`PoolConfig::checkpoints`](crate::pool::PoolConfig::checkpoints)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// How often the thread runs a PASSIVE checkpoint.
    pub period: Duration,
    /// WAL frames (pages) past which a checkpoint is due for the writer.
    pub restart_frames: i64,
    /// How long a due checkpoint waits for the writer before the thread runs
    /// a RESTART itself.
    pub backstop: Duration,
}

impl Default for Schedule {
    /// Every 50 ms; due past 4096 frames of 4 KiB (16 MiB); backstop 1 s.
    fn default() -> Self {
        Self {
            period: Duration::from_millis(50),
            restart_frames: 4096,
            backstop: Duration::from_secs(1),
        }
    }
}

/// The checkpoint thread of one pool build; stopping it on drop.
pub struct Checkpointer {
    shared: Arc<Shared>,
    thread: std::thread::Thread,
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// The WAL is long: the writer should checkpoint between batches.
    due: AtomicBool,
}

/// Runs `PRAGMA wal_checkpoint(mode)` on `c`; returns how many frames the
/// WAL holds (-1 when the database is not in WAL mode).
pub fn checkpoint(c: &Connection, mode: &str) -> rusqlite::Result<i64> {
    c.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get(1))
}

impl Checkpointer {
    /// Opens a connection on `path` and starts checkpointing with it; returns
    /// once the connection is open, or why it could not be.
    pub async fn start(
        path: PathBuf,
        settings: ConnectionSettings,
        schedule: Schedule,
    ) -> Result<Self, String> {
        let shared = Arc::new(Shared::default());
        let (opened, open) = oneshot::channel::<Result<(), String>>();
        let mine = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("racegate-checkpoint".into())
            .spawn(move || {
                let conn = match Connection::open(&path).and_then(|c| {
                    settings.apply(&c)?;
                    Ok(c)
                }) {
                    Ok(conn) => conn,
                    Err(e) => {
                        let _ = opened.send(Err(e.to_string()));
                        return;
                    }
                };
                if opened.send(Ok(())).is_ok() {
                    run(&conn, &mine, schedule);
                }
            })
            .map_err(|e| format!("cannot start the checkpoint thread: {e}"))?;
        let checkpointer = Self {
            shared,
            thread: handle.thread().clone(),
        };
        match open.await {
            Ok(Ok(())) => Ok(checkpointer),
            Ok(Err(e)) => Err(format!("the checkpoint connection cannot open: {e}")),
            Err(_) => Err("the checkpoint thread ended while opening".to_owned()),
        }
    }

    /// Stops the thread; it closes its connection as it ends.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.thread.unpark();
    }

    /// Whether a checkpoint is due, clearing it: the caller runs one.
    pub fn take_due(&self) -> bool {
        self.shared.due.load(Ordering::Relaxed) && self.shared.due.swap(false, Ordering::SeqCst)
    }
}

fn run(conn: &Connection, shared: &Shared, schedule: Schedule) {
    let backstop = (schedule.backstop.as_millis() / schedule.period.as_millis().max(1)).max(1);
    let mut due_for = 0;
    // While checkpoints fail (a full disk, say): since when, how many, and
    // when it was last said; one line as it starts, one every ten seconds,
    // one as it ends.
    let mut failing: Option<(std::time::Instant, u64, std::time::Instant)> = None;
    loop {
        std::thread::park_timeout(schedule.period);
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let pass = checkpoint(conn, "PASSIVE").and_then(|wal_frames| {
            if wal_frames <= schedule.restart_frames {
                due_for = 0;
                shared.due.store(false, Ordering::SeqCst);
                return Ok(());
            }
            shared.due.store(true, Ordering::SeqCst);
            due_for += 1;
            if due_for >= backstop {
                due_for = 0;
                checkpoint(conn, "RESTART")?;
            }
            Ok(())
        });
        let now = std::time::Instant::now();
        match (pass, &mut failing) {
            (Ok(()), None) => {}
            (Ok(()), Some((since, n, _))) => {
                tracing::warn!(
                    failures = *n,
                    after_ms = now.duration_since(*since).as_millis() as u64,
                    "WAL checkpoints succeed again"
                );
                failing = None;
            }
            (Err(e), None) => {
                tracing::warn!(error = %e, "a WAL checkpoint failed; retrying every period, summed up every 10 s");
                failing = Some((now, 1, now));
            }
            (Err(e), Some((since, n, said))) => {
                *n += 1;
                if now.duration_since(*said) >= std::time::Duration::from_secs(10) {
                    tracing::warn!(error = %e, failures = *n, since_s = now.duration_since(*since).as_secs(), "WAL checkpoints still fail");
                    *said = now;
                }
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}
