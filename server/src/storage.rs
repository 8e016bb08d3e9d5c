//! Storage faults: what SQLite's errors say about the disk, told apart
//! ([`StorageFault`]), and the server's storage health ([`StorageHealth`]):
//! the condition now, counts by code for `/metrics`, and a log that says
//! when a condition starts, how it goes on, and when it clears — not one
//! line per failed request.
//!
//! SQLite rolls a failed transaction back and keeps the database
//! consistent; a full disk, a read-only filesystem or a vanished file is an
//! operational condition a client should back off from (503 with
//! `Retry-After`), and most of them clear by themselves.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rusqlite::ffi;

/// What is wrong with the storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StorageFault {
    /// No space left (`SQLITE_FULL`, or the `--max-db-bytes` cap).
    DiskFull,
    /// The database or its filesystem is read-only.
    ReadOnly,
    /// An I/O error the filesystem does not explain.
    Io,
    /// The database file vanished or was replaced under the server.
    Missing,
    /// The database stayed locked past the busy timeout.
    Busy,
    /// The file is not a sound database; this does not heal by itself.
    Corrupt,
}

impl StorageFault {
    /// Every fault, in the order `/metrics` lists them.
    pub const ALL: [StorageFault; 6] = [
        StorageFault::DiskFull,
        StorageFault::ReadOnly,
        StorageFault::Io,
        StorageFault::Missing,
        StorageFault::Busy,
        StorageFault::Corrupt,
    ];

    /// The error code clients see.
    pub fn code(self) -> &'static str {
        match self {
            StorageFault::DiskFull => "disk_full",
            StorageFault::ReadOnly => "database_readonly",
            StorageFault::Io => "database_io",
            StorageFault::Missing => "database_missing",
            StorageFault::Busy => "database_busy",
            StorageFault::Corrupt => "database_corrupt",
        }
    }

    /// Which storage fault SQLite's error `e` is, on the database at
    /// `path`, if it is one. An I/O error is told apart by looking at the
    /// filesystem: read-only, full, or the file gone.
    pub fn of(e: &ffi::Error, path: &Path) -> Option<Self> {
        use rusqlite::ErrorCode as C;
        let fault = match e.code {
            C::DiskFull => StorageFault::DiskFull,
            C::ReadOnly if e.extended_code == ffi::SQLITE_READONLY_DBMOVED => StorageFault::Missing,
            C::ReadOnly => StorageFault::ReadOnly,
            C::DatabaseBusy | C::DatabaseLocked => StorageFault::Busy,
            C::DatabaseCorrupt | C::NotADatabase => StorageFault::Corrupt,
            C::SystemIoFailure | C::CannotOpen => Self::explained(path),
            _ => return None,
        };
        Some(fault)
    }

    /// An I/O error or a failed open, explained by the filesystem.
    fn explained(path: &Path) -> Self {
        if !path.exists() {
            return StorageFault::Missing;
        }
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        match nix::sys::statvfs::statvfs(dir) {
            Ok(fs) if fs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) => {
                StorageFault::ReadOnly
            }
            Ok(fs) if fs.blocks_available() == 0 => StorageFault::DiskFull,
            _ => StorageFault::Io,
        }
    }
}

/// How often, at most, a condition that goes on is summed up in the log.
const SUMMARY_EVERY: Duration = Duration::from_secs(10);

/// How often, at most, `/healthz` tries a write while a condition holds.
pub const PROBE_EVERY: Duration = Duration::from_millis(250);

/// The storage's health as the server's requests and probes find it.
#[derive(Default)]
pub struct StorageHealth {
    /// Whether a condition holds: read on every success, so the common case
    /// takes no lock.
    faulty: AtomicBool,
    condition: Mutex<Option<Condition>>,
    last_probe: Mutex<Option<Instant>>,
    last_recycle: Mutex<Option<Instant>>,
    /// Failed operations by fault, in [`StorageFault::ALL`]'s order.
    counts: [AtomicU64; 6],
}

struct Condition {
    fault: StorageFault,
    message: String,
    since: Instant,
    failures: u64,
    last_failure: Instant,
    /// A probe write succeeded since the last failure: ready again; the
    /// condition is logged as over after [`QUIET`] without failures.
    writable: bool,
    summed_up: Instant,
    summed_failures: u64,
}

/// How long without failures before a condition is logged as over.
const QUIET: Duration = Duration::from_secs(1);

impl StorageHealth {
    /// An operation failed with `fault`: counted, and logged if a new
    /// condition starts or it is time for a summary.
    pub fn failed(&self, fault: StorageFault, message: &str) {
        let i = StorageFault::ALL
            .iter()
            .position(|f| *f == fault)
            .unwrap_or(0);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let mut c = crate::sync::lock(&self.condition);
        match &mut *c {
            Some(c) if c.fault == fault => {
                c.failures += 1;
                c.last_failure = now;
                c.writable = false;
                c.message = message.to_owned();
                if now.duration_since(c.summed_up) >= SUMMARY_EVERY {
                    tracing::warn!(
                        code = fault.code(),
                        failures = c.failures - c.summed_failures,
                        over_s = now.duration_since(c.summed_up).as_secs(),
                        since_s = now.duration_since(c.since).as_secs(),
                        "storage condition goes on"
                    );
                    (c.summed_up, c.summed_failures) = (now, c.failures);
                }
            }
            slot => {
                if let Some(old) = slot.take() {
                    log_cleared(&old, now);
                }
                tracing::error!(
                    code = fault.code(),
                    error = message,
                    "storage condition started: requests that need it get 503 until it clears"
                );
                *slot = Some(Condition {
                    fault,
                    message: message.to_owned(),
                    since: now,
                    failures: 1,
                    last_failure: now,
                    writable: false,
                    summed_up: now,
                    summed_failures: 0,
                });
                self.faulty.store(true, Ordering::Release);
            }
        }
    }

    /// A write succeeded: once [`QUIET`] has passed without a failure, the
    /// condition is over (and logged so). A small write can slip through
    /// a nearly full disk between failures, so one success alone does not
    /// make the server ready again; a probe's does ([`Self::probed`]).
    pub fn succeeded(&self) {
        if !self.faulty.load(Ordering::Acquire) {
            return;
        }
        let now = Instant::now();
        let mut slot = crate::sync::lock(&self.condition);
        if slot
            .as_ref()
            .is_some_and(|c| now.duration_since(c.last_failure) >= QUIET)
        {
            if let Some(c) = slot.take() {
                log_cleared(&c, now);
            }
            self.faulty.store(false, Ordering::Release);
        }
    }

    /// `/healthz`'s probe write succeeded: ready again (until the next
    /// failure), whether or not the condition is over yet.
    pub fn probed(&self) {
        if let Some(c) = crate::sync::lock(&self.condition).as_mut() {
            c.writable = true;
        }
        self.succeeded();
    }

    /// The condition now, with the last error's message.
    pub fn current(&self) -> Option<(StorageFault, String)> {
        if !self.faulty.load(Ordering::Acquire) {
            return None;
        }
        crate::sync::lock(&self.condition)
            .as_ref()
            .filter(|c| !c.writable)
            .map(|c| (c.fault, c.message.clone()))
    }

    /// Whether a probe may run now (at most one per [`PROBE_EVERY`]); if so,
    /// it is counted as run.
    pub fn probe_due(&self) -> bool {
        due(&self.last_probe)
    }

    /// Whether the pool's connections may be replaced now (at most once
    /// per [`PROBE_EVERY`]); if so, it is counted as done.
    pub fn recycle_due(&self) -> bool {
        due(&self.last_recycle)
    }

    /// Failed operations by fault, for `/metrics`.
    pub fn counts(&self) -> [(StorageFault, u64); 6] {
        std::array::from_fn(|i| (StorageFault::ALL[i], self.counts[i].load(Ordering::Relaxed)))
    }
}

/// Whether [`PROBE_EVERY`] has passed since `last`; if so, `last` is now.
fn due(last: &Mutex<Option<Instant>>) -> bool {
    let now = Instant::now();
    let mut last = crate::sync::lock(last);
    match *last {
        Some(t) if now.duration_since(t) < PROBE_EVERY => false,
        _ => {
            *last = Some(now);
            true
        }
    }
}

fn log_cleared(c: &Condition, now: Instant) {
    tracing::warn!(
        code = c.fault.code(),
        failures = c.failures,
        after_ms = now.duration_since(c.since).as_millis() as u64,
        "storage condition cleared"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: i32) -> ffi::Error {
        ffi::Error::new(code)
    }

    #[test]
    fn sqlite_errors_map_to_their_codes() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        std::fs::write(&db, b"").unwrap();
        let of = |code| StorageFault::of(&err(code), &db).map(StorageFault::code);
        assert_eq!(of(ffi::SQLITE_FULL), Some("disk_full"));
        assert_eq!(of(ffi::SQLITE_READONLY), Some("database_readonly"));
        assert_eq!(of(ffi::SQLITE_READONLY_DBMOVED), Some("database_missing"));
        assert_eq!(of(ffi::SQLITE_BUSY), Some("database_busy"));
        assert_eq!(of(ffi::SQLITE_CORRUPT), Some("database_corrupt"));
        assert_eq!(of(ffi::SQLITE_NOTADB), Some("database_corrupt"));
        assert_eq!(of(ffi::SQLITE_IOERR_WRITE), Some("database_io"));
        assert_eq!(of(ffi::SQLITE_CONSTRAINT), None);
        std::fs::remove_file(&db).unwrap();
        assert_eq!(of(ffi::SQLITE_IOERR_WRITE), Some("database_missing"));
        assert_eq!(of(ffi::SQLITE_CANTOPEN), Some("database_missing"));
    }

    #[test]
    fn a_condition_starts_once_counts_every_failure_and_a_probe_makes_it_ready() {
        let h = StorageHealth::default();
        assert!(h.current().is_none());
        h.succeeded();
        for _ in 0..3 {
            h.failed(StorageFault::DiskFull, "database or disk is full");
        }
        assert_eq!(h.current().map(|c| c.0), Some(StorageFault::DiskFull));
        h.failed(
            StorageFault::ReadOnly,
            "attempt to write a readonly database",
        );
        assert_eq!(h.current().map(|c| c.0), Some(StorageFault::ReadOnly));
        // A write slipping through does not make it ready; a probe does.
        h.succeeded();
        assert_eq!(h.current().map(|c| c.0), Some(StorageFault::ReadOnly));
        h.probed();
        assert!(h.current().is_none());
        h.failed(
            StorageFault::ReadOnly,
            "attempt to write a readonly database",
        );
        assert!(
            h.current().is_some(),
            "a failure after the probe: not ready"
        );
        let counts = h.counts();
        assert_eq!(counts[0], (StorageFault::DiskFull, 3));
        assert_eq!(counts[1], (StorageFault::ReadOnly, 2));
        assert!(h.probe_due() && !h.probe_due(), "one probe per period");
    }
}
