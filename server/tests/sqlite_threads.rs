//! Each pooled SQLite connection runs on a thread named `racegate-sqlite`,
//! so `top -H` and `/proc/<pid>/task/*/comm` tell SQLite's time apart.
//!
//! A file of its own: it counts this process's threads.

mod common;

use common::TempDb;
use racegate_server::pool::{ConnectionPool, PoolConfig};

/// This process's threads named `name` (Linux cuts names to 15 bytes).
fn threads_named(name: &str) -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

#[test]
#[cfg(target_os = "linux")]
fn each_connection_runs_on_a_thread_named_for_it() {
    let db = TempDb::new();
    common::two_thread_runtime().block_on(async {
        let pool = ConnectionPool::new(PoolConfig::new(db.path(), 2));
        let held = pool.acquire().await.expect("the pool opens");
        assert_eq!(threads_named("racegate-sqlite"), 2, "one per connection");
        drop(held);
        pool.close().await;
    });
}
