//! The pool bench's workload, shared by the criterion bench
//! (`benches/pool.rs`) and the interleaved A/B runner (`pool-ab`): W tasks
//! on the caller's runtime share a pool of S connections, each acquiring,
//! yielding once while holding the connection, and releasing.

use std::path::Path;
use std::sync::Arc;

use crate::SqliteManager;

/// What runs the cycles: our pool, deadpool on the same connections, or
/// no pool at all (the same tasks and yields: the floor both stand on).
#[derive(Clone)]
pub enum Contender {
    /// `racegate_pool::Pool` over the same `tokio_rusqlite` connections.
    Racegate(Arc<racegate_pool::Pool<SqliteManager>>),
    /// `deadpool::managed::Pool` over the same `tokio_rusqlite` connections.
    Deadpool(deadpool::managed::Pool<SqliteManager>),
    /// Tasks that only yield.
    NoPool,
    /// `bb8::Pool` over the same `tokio_rusqlite` connections.
    Bb8(bb8::Pool<SqliteManager>),
}

impl Contender {
    /// The name the benches report it under.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Racegate(_) => "racegate",
            Self::Deadpool(_) => "deadpool",
            Self::NoPool => "no-pool",
            Self::Bb8(_) => "bb8",
        }
    }

    /// Our pool and deadpool with `size` connections in `dir`, every
    /// connection opened up front, the floor, and bb8 (in that order; the
    /// first three are what `pool-ab`'s older builds ran). Call inside a
    /// runtime.
    pub async fn all(dir: &Path, size: usize) -> [Self; 4] {
        let ours = racegate_pool::Pool::new(
            SqliteManager {
                path: dir.join(format!("ours{size}.db")),
            },
            racegate_pool::PoolConfig::new(size),
        );
        ours.warm_up().await.expect("our pool opens");
        let theirs = deadpool::managed::Pool::builder(SqliteManager {
            path: dir.join(format!("dp{size}.db")),
        })
        .max_size(size)
        .build()
        .expect("deadpool builds");
        // Open every connection up front, as ours does: hold `size` at once.
        let mut all = Vec::new();
        for _ in 0..size {
            all.push(theirs.get().await.expect("deadpool opens"));
        }
        drop(all);
        let bb8 = bb8::Pool::builder()
            .max_size(u32::try_from(size).expect("a pool size fits u32"))
            .min_idle(Some(u32::try_from(size).expect("a pool size fits u32")))
            .build(SqliteManager {
                path: dir.join(format!("bb8-{size}.db")),
            })
            .await
            .expect("bb8 builds");
        [
            Self::Racegate(ours),
            Self::Deadpool(theirs),
            Self::NoPool,
            Self::Bb8(bb8),
        ]
    }

    /// `workers` tasks share `cycles` acquire–yield–release cycles; returns
    /// when all are done.
    pub async fn run(&self, workers: usize, cycles: usize) {
        let per_worker = cycles.div_ceil(workers);
        let tasks: Vec<_> = (0..workers)
            .map(|_| {
                let me = self.clone();
                tokio::spawn(async move {
                    for _ in 0..per_worker {
                        me.cycle().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("a bench task panicked");
        }
    }

    async fn cycle(&self) {
        match self {
            Self::Racegate(pool) => {
                let conn = pool.acquire().await.expect("acquire");
                tokio::task::yield_now().await;
                drop(conn);
            }
            Self::Deadpool(pool) => {
                let conn = pool.get().await.expect("get");
                tokio::task::yield_now().await;
                drop(conn);
            }
            Self::NoPool => tokio::task::yield_now().await,
            Self::Bb8(pool) => {
                let conn = pool.get().await.expect("get");
                tokio::task::yield_now().await;
                drop(conn);
            }
        }
    }
}

/// Connections that are plain numbers: the pool's own cost, with no
/// database behind it.
#[derive(Default)]
pub struct Numbers(std::sync::atomic::AtomicUsize);

impl racegate_pool::Manager for Numbers {
    type Connection = usize;
    type Error = String;
    type Companion = ();

    async fn open(&self, _index: usize) -> Result<usize, String> {
        Ok(self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    async fn close(&self, _conn: usize) {}

    async fn companion(&self) -> Result<(), String> {
        Ok(())
    }

    fn stop(_companion: &()) {}
}

/// A `racegate_pool::Pool` of `size` numbered connections.
pub fn numbered_pool(size: usize) -> Arc<racegate_pool::Pool<Numbers>> {
    racegate_pool::Pool::new(Numbers::default(), racegate_pool::PoolConfig::new(size))
}
