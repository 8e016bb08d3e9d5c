//! The pool's hand-off queue on a real SQLite file and a real runtime:
//! waiters are served in arrival order, and the wait metric counts their
//! wait; a queued acquire times out on time
//! (through the pool's deadline thread, not a timer of its own); an acquire
//! dropped while queued leaves the queue and strands nothing; the deadline
//! thread ends with the pool; and the connection's own thread is named for
//! it.
//!
//! One test, because its checks count this process's threads.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TempDb;
use racegate_server::pool::{ConnectionPool, PoolConfig, PoolError};

/// Waits (bounded) until `pool` has `n` callers queued.
async fn queued(pool: &ConnectionPool, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pool.stats().waiters != n {
        assert!(Instant::now() < deadline, "never saw {n} callers queued");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// This process's threads named `name` (Linux cuts thread names to 15
/// bytes).
fn threads_named(name: &str) -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

/// This process's threads named like the pool's deadline thread.
fn deadline_threads() -> usize {
    threads_named("racegate-pool-d")
}

#[test]
fn queued_acquires_are_fair_bounded_and_leave_nothing_behind() {
    let rt = common::two_thread_runtime();
    let db = TempDb::new();
    let before = deadline_threads();
    rt.block_on(async {
        let mut config = PoolConfig::new(db.path(), 1);
        config.acquire_timeout = Duration::from_millis(300);
        let pool = ConnectionPool::new(config);

        // Arrival order: each waiter queues before the next one starts.
        let held = pool.acquire().await.unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(
                threads_named("racegate-sqlite"),
                1,
                "the pool's one connection runs on a thread named for it"
            );
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for who in 0..4 {
            let (shared, tx) = (Arc::clone(&pool), tx.clone());
            tokio::spawn(async move {
                let conn = shared.acquire().await.expect("served within the timeout");
                tx.send(who).unwrap();
                drop(conn);
            });
            queued(&pool, who + 1).await;
        }
        drop(held);
        let mut order = Vec::new();
        for _ in 0..4 {
            order.push(rx.recv().await.unwrap());
        }
        assert_eq!(order, [0, 1, 2, 3], "served in arrival order");

        // The wait metric counts how long a queued caller waited (its
        // clock is the CPU's tick counter, converted when read).
        let held = pool.acquire().await.unwrap();
        let wait_before = pool.stats().acquire_wait_micros;
        let waiter = tokio::spawn({
            let pool = Arc::clone(&pool);
            async move { pool.acquire().await.map(drop) }
        });
        let queued_at = Instant::now();
        queued(&pool, 1).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        drop(held);
        waiter.await.unwrap().expect("served");
        let at_most = queued_at.elapsed();
        let counted = Duration::from_micros(pool.stats().acquire_wait_micros - wait_before);
        assert!(
            counted >= Duration::from_millis(145) && counted <= at_most + Duration::from_millis(5),
            "a wait of 150 ms to {at_most:?} counted as {counted:?}"
        );

        // A queued acquire times out after the timeout, not long after.
        let held = pool.acquire().await.unwrap();
        let started = Instant::now();
        let outcome = tokio::time::timeout(Duration::from_secs(10), pool.acquire())
            .await
            .expect("the pool's own timeout fires");
        match outcome {
            Err(PoolError::Timeout(_)) => {}
            other => panic!("expected a timeout, got {:?}", other.map(|_| ())),
        }
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(300) && waited < Duration::from_millis(1300),
            "timed out after {waited:?} for a 300 ms timeout"
        );
        assert_eq!(
            pool.stats().waiters,
            0,
            "the timed-out caller left the queue"
        );

        // An acquire dropped while queued leaves the queue; the next waiter
        // still gets the connection.
        let dropped = tokio::time::timeout(Duration::from_millis(20), pool.acquire()).await;
        assert!(dropped.is_err(), "nothing was idle");
        assert_eq!(pool.stats().waiters, 0, "the dropped caller left the queue");
        let next = tokio::spawn({
            let pool = Arc::clone(&pool);
            async move { pool.acquire().await.map(drop) }
        });
        queued(&pool, 1).await;
        drop(held);
        next.await.unwrap().expect("the next waiter is served");
        let stats = pool.stats();
        assert_eq!((stats.in_use, stats.idle, stats.waiters), (0, 1, 0));
        assert!(
            deadline_threads() > before,
            "the pool runs a deadline thread"
        );
        pool.close().await;
    });
    // The pool is gone (closed, dropped with the block): so is its thread.
    let deadline = Instant::now() + Duration::from_secs(5);
    while deadline_threads() > before {
        assert!(
            Instant::now() < deadline,
            "the deadline thread outlived its pool"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
