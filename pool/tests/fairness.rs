//! Queued acquires are served in arrival order: a released connection goes
//! straight to the longest-waiting caller, never to a newcomer.

mod common;

use std::sync::Arc;
use std::time::Duration;

#[test]
fn waiters_are_served_in_arrival_order() {
    common::runtime().block_on(async {
        let pool = common::pool(1, Duration::from_secs(5));
        let held = pool.acquire().await.expect("the one connection");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut waiters = Vec::new();
        for who in 0..4 {
            let (shared, tx) = (Arc::clone(&pool), tx.clone());
            waiters.push(tokio::spawn(async move {
                let conn = shared.acquire().await.expect("served within the timeout");
                tx.send(who).expect("the test listens");
                drop(conn);
            }));
            // Each waiter queues before the next one starts.
            common::queued(&pool, who + 1).await;
        }
        drop(held);
        let mut order = Vec::new();
        for _ in 0..4 {
            order.push(rx.recv().await.expect("a waiter was served"));
        }
        assert_eq!(order, [0, 1, 2, 3], "served in arrival order");
        for w in waiters {
            w.await.expect("a waiter's task");
        }
        let stats = pool.stats();
        assert_eq!((stats.in_use, stats.idle, stats.waiters), (0, 1, 0));
    });
}
