//! A manager whose connections are numbers, for tests of the pool's own
//! behaviour: what it opens, lends, queues and closes, on real runtimes,
//! with no database in the way (the reference server's tests run it over
//! SQLite).
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use racegate_pool::{Manager, Pool, PoolConfig};

/// Connections numbered in opening order; counts closes.
#[derive(Default)]
pub struct Numbers {
    opened: AtomicUsize,
    pub closed: Arc<AtomicUsize>,
}

impl Manager for Numbers {
    type Connection = usize;
    type Error = String;
    type Companion = ();

    async fn open(&self, _index: usize) -> Result<usize, String> {
        Ok(self.opened.fetch_add(1, Ordering::SeqCst))
    }

    async fn close(&self, _conn: usize) {
        self.closed.fetch_add(1, Ordering::SeqCst);
    }

    async fn companion(&self) -> Result<(), String> {
        Ok(())
    }

    fn stop(_companion: &()) {}
}

/// A pool of `size` numbered connections whose acquires wait `timeout`.
pub fn pool(size: usize, timeout: Duration) -> Arc<Pool<Numbers>> {
    let mut config = PoolConfig::new(size);
    config.acquire_timeout = timeout;
    Pool::new(Numbers::default(), config)
}

/// A multi-thread runtime with two workers, as the server runs.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Waits (bounded) until `pool` has `n` callers queued.
pub async fn queued(pool: &Pool<Numbers>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pool.stats().waiters != n {
        assert!(Instant::now() < deadline, "never saw {n} callers queued");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
