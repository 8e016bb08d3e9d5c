//! How many requests per second the racegate engine alone generates, with
//! the JSON field check on, against a minimal in-process server.
//!
//! `cargo bench -p racegate-benches --bench engine`

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use racegate::Fire;

const REQUESTS: u64 = 20_000;

fn engine(c: &mut Criterion) {
    let addr = racegate_benches::minimal_server();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(REQUESTS));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    for concurrency in [1usize, 64] {
        let fire = Fire::get(format!("http://{addr}/"))
            .expect_json_field("response")
            .concurrency(concurrency)
            .requests(REQUESTS);
        group.bench_function(
            BenchmarkId::new("json_check", format!("c{concurrency}")),
            |b| b.iter_custom(|iters| racegate_benches::time_runs(&rt, &fire, iters)),
        );
    }
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
