//! An acquire dropped while queued (its request cancelled, or timed out by
//! its caller) leaves the queue and strands nothing: the next waiter still
//! gets the connection, and a connection handed to a caller that gave up is
//! passed on.

mod common;

use std::sync::Arc;
use std::time::Duration;

#[test]
fn a_dropped_acquire_leaves_the_queue_and_the_next_waiter_is_served() {
    common::runtime().block_on(async {
        let pool = common::pool(1, Duration::from_secs(5));
        let held = pool.acquire().await.expect("the one connection");
        let dropped = tokio::time::timeout(Duration::from_millis(20), pool.acquire()).await;
        assert!(dropped.is_err(), "nothing was idle");
        assert_eq!(pool.stats().waiters, 0, "the dropped caller left the queue");
        let next = tokio::spawn({
            let pool = Arc::clone(&pool);
            async move { pool.acquire().await.map(drop) }
        });
        common::queued(&pool, 1).await;
        drop(held);
        next.await
            .expect("the waiter's task")
            .expect("the next waiter is served");
        let stats = pool.stats();
        assert_eq!((stats.in_use, stats.idle, stats.waiters), (0, 1, 0));
    });
}

#[test]
fn many_callers_cancelled_mid_wait_leave_every_connection_idle() {
    common::runtime().block_on(async {
        let pool = common::pool(2, Duration::from_secs(5));
        for round in 0..50u64 {
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let pool = Arc::clone(&pool);
                    tokio::spawn(async move {
                        let conn = pool.acquire().await.expect("served");
                        tokio::task::yield_now().await;
                        drop(conn);
                    })
                })
                .collect();
            // Cancel some of them wherever they are: queued, handed a
            // connection, or holding one.
            for (i, t) in tasks.iter().enumerate() {
                if (i as u64 + round) % 3 == 0 {
                    t.abort();
                }
            }
            for t in tasks {
                let _ = t.await;
            }
        }
        let stats = pool.stats();
        assert_eq!(
            (stats.in_use, stats.idle, stats.waiters),
            (0, 2, 0),
            "every connection came back idle"
        );
    });
}
