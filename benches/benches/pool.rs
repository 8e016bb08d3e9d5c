//! Acquire/release under contention: `w{workers}s{size}` — W tasks on a
//! 2-thread runtime share a pool of S connections, each acquiring, yielding
//! once while holding the connection, and releasing; 1024 cycles per
//! iteration. The same workload on deadpool, with the same connections, sits
//! beside ours so the ratio is visible, and the same tasks and yields with no
//! pool (`no-pool`) show the floor both stand on: deadpool's time over the
//! floor's is the most any pool could gain on it in that cell.
//!
//! `cargo bench -p racegate-benches --bench pool`. Criterion measures one
//! contender after the other; for ratios that drift less with the machine's
//! load, `cargo run --release -p racegate-benches --bin pool-ab` interleaves
//! them round by round.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use racegate_benches::pools::Contender;

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
        let contenders = rt.block_on(Contender::all(dir.path(), size));
        for workers in [1usize, 4, 16, 64, 256] {
            let id = format!("w{workers}s{size}");
            for contender in &contenders {
                group.bench_function(BenchmarkId::new(contender.name(), &id), |b| {
                    b.to_async(&rt).iter(|| contender.run(workers, CYCLES));
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, pool);
criterion_main!(benches);
