//! A queued acquire fails with `Timeout` once its timeout has passed — never
//! sooner — through the pool's deadline thread, and leaves the queue.

mod common;

use std::time::{Duration, Instant};

use racegate_pool::PoolError;

#[test]
fn a_queued_acquire_times_out_no_sooner_than_its_timeout_and_leaves_the_queue() {
    common::runtime().block_on(async {
        let pool = common::pool(1, Duration::from_millis(300));
        let _held = pool.acquire().await.expect("the one connection");
        let started = Instant::now();
        let outcome = tokio::time::timeout(Duration::from_secs(10), pool.acquire())
            .await
            .expect("the pool's own timeout fires, not this guard");
        match outcome {
            Err(PoolError::Timeout(t)) => assert_eq!(t, Duration::from_millis(300)),
            other => panic!("expected a timeout, got {:?}", other.map(|_| ())),
        }
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(300),
            "timed out after {waited:?}, before its 300 ms"
        );
        let stats = pool.stats();
        assert_eq!(stats.waiters, 0, "the timed-out caller left the queue");
        assert_eq!(stats.timeouts, 1);
    });
}
