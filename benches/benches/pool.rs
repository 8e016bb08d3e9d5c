//! Acquire/release under contention: `w{workers}s{size}` — W tasks on a
//! 2-thread runtime share a pool of S connections, each acquiring, yielding
//! once while holding the connection, and releasing; 1024 cycles per
//! iteration. The same workload on deadpool, with the same connections, sits
//! beside ours so the ratio is visible, and the same tasks and yields with no
//! pool (`no-pool`) show the floor both stand on: deadpool's time over the
//! floor's is the most any pool could gain on it in that cell.
//!
//! `cargo bench -p racegate-benches --bench pool`

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use racegate_benches::SqliteManager;
use racegate_server::pool::{ConnectionPool, PoolConfig};

const CYCLES: usize = 1024;

fn pool(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("pool");
    group.throughput(Throughput::Elements(CYCLES as u64));
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for size in [4usize, 16] {
        let ours = ConnectionPool::new(PoolConfig::new(
            dir.path().join(format!("ours{size}.db")),
            size,
        ));
        rt.block_on(ours.warm_up()).unwrap();
        let theirs: deadpool::managed::Pool<SqliteManager> =
            deadpool::managed::Pool::builder(SqliteManager {
                path: dir.path().join(format!("dp{size}.db")),
            })
            .max_size(size)
            .build()
            .unwrap();
        rt.block_on(async {
            // Open every connection up front, as ours does: hold `size` at once.
            let mut all = Vec::new();
            for _ in 0..size {
                all.push(theirs.get().await.unwrap());
            }
        });
        for workers in [1usize, 4, 16, 64, 256] {
            let id = format!("w{workers}s{size}");
            let per_worker = CYCLES.div_ceil(workers);
            group.bench_function(BenchmarkId::new("racegate", &id), |b| {
                b.to_async(&rt).iter(|| {
                    let pool = Arc::clone(&ours);
                    async move {
                        let tasks: Vec<_> = (0..workers)
                            .map(|_| {
                                let pool = Arc::clone(&pool);
                                tokio::spawn(async move {
                                    for _ in 0..per_worker {
                                        let conn = pool.acquire().await.unwrap();
                                        tokio::task::yield_now().await;
                                        drop(conn);
                                    }
                                })
                            })
                            .collect();
                        for t in tasks {
                            t.await.unwrap();
                        }
                    }
                });
            });
            // The same tasks and yields with no pool at all: the floor any
            // pool's time sits on, so deadpool's time over this one is the
            // best ratio a pool with zero cost could reach.
            group.bench_function(BenchmarkId::new("no-pool", &id), |b| {
                b.to_async(&rt).iter(|| async move {
                    let tasks: Vec<_> = (0..workers)
                        .map(|_| {
                            tokio::spawn(async move {
                                for _ in 0..per_worker {
                                    tokio::task::yield_now().await;
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.unwrap();
                    }
                });
            });
            group.bench_function(BenchmarkId::new("deadpool", &id), |b| {
                b.to_async(&rt).iter(|| {
                    let pool = theirs.clone();
                    async move {
                        let tasks: Vec<_> = (0..workers)
                            .map(|_| {
                                let pool = pool.clone();
                                tokio::spawn(async move {
                                    for _ in 0..per_worker {
                                        let conn = pool.get().await.unwrap();
                                        tokio::task::yield_now().await;
                                        drop(conn);
                                    }
                                })
                            })
                            .collect();
                        for t in tasks {
                            t.await.unwrap();
                        }
                    }
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, pool);
criterion_main!(benches);
