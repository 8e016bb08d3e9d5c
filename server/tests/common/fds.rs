//! What the operating system says is open: this process's file descriptors
//! on a database file and its `-wal` / `-shm` companions, read from
//! `/proc/self/fd`. "Nothing left open" is checked against this, not only
//! against the pool's own counter (which drops when a handle drops, before
//! SQLite has closed the file).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Descriptors this process holds on `db`, `db-wal` or `db-shm`.
pub fn open_on(db: &Path) -> Vec<PathBuf> {
    let names: Vec<PathBuf> = ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        })
        .collect();
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|target| names.contains(target))
        .collect()
}

/// Waits, at most `within`, until nothing is open on `db`; returns what is
/// still open then (empty when all closed). Connections dropped rather than
/// closed end on their own thread, a moment later.
pub fn wait_closed(db: &Path, within: Duration) -> Vec<PathBuf> {
    let deadline = Instant::now() + within;
    loop {
        let open = open_on(db);
        if open.is_empty() || Instant::now() >= deadline {
            return open;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
