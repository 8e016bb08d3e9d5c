//! A pool's life: nothing is opened before the first acquire; close fails
//! waiters and closes idle connections; reopen builds afresh; and the
//! deadline thread ends with the pool.
//!
//! One test per file where it counts this process's threads.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use racegate_pool::PoolError;

/// This process's threads named like the pool's deadline thread (Linux
/// cuts thread names to 15 bytes).
fn deadline_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == "racegate-pool-d")
        .count()
}

#[test]
fn lazy_closable_reopenable_and_its_thread_ends_with_it() {
    let before = deadline_threads();
    common::runtime().block_on(async {
        let pool = common::pool(2, Duration::from_secs(5));
        assert_eq!(pool.stats().builds, 0, "nothing opened before first use");
        let held = pool.acquire().await.expect("built on first use");
        let stats = pool.stats();
        assert_eq!((stats.builds, stats.connections_open), (1, 2));
        if cfg!(target_os = "linux") {
            // The thread names itself as it starts.
            let deadline = Instant::now() + Duration::from_secs(5);
            while deadline_threads() <= before {
                assert!(Instant::now() < deadline, "a build runs a deadline thread");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }

        // Close: a queued caller fails with Closed, later acquires too, and
        // the lent connections close when they come back.
        let _other = pool.acquire().await.expect("the second connection");
        let waiter = tokio::spawn({
            let pool = Arc::clone(&pool);
            async move { pool.acquire().await.map(drop) }
        });
        common::queued(&pool, 1).await;
        pool.close().await;
        assert!(matches!(
            waiter.await.expect("the waiter's task"),
            Err(PoolError::Closed)
        ));
        assert!(matches!(pool.acquire().await, Err(PoolError::Closed)));
        drop(held);
        drop(_other);
        assert_eq!(pool.stats().connections_open, 0, "all closed once back");

        // Reopen: the next acquire builds afresh.
        pool.reopen();
        drop(pool.acquire().await.expect("rebuilt"));
        assert_eq!(pool.stats().builds, 2);
        // The lent connections came back after the close: dropped, not
        // handed to the manager's close.
        assert_eq!(pool.manager().closed.load(Ordering::SeqCst), 0);
    });
    // The pool is gone (dropped with the block): so is its thread.
    let deadline = Instant::now() + Duration::from_secs(5);
    while deadline_threads() > before {
        assert!(
            Instant::now() < deadline,
            "the deadline thread outlived its pool"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
