//! The reference server in-process, driven by the racegate library, at
//! concurrency 1, 16, 64 and 256: `/api/chat` (two rows written per turn)
//! and `/livez` (the server's own ceiling: no database). Throughput is in
//! requests; each iteration is one racegate run whose pass rate must be 100 %.
//!
//! `cargo bench -p racegate-benches --bench server`

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use racegate::Fire;
use racegate_server::{RunningServer, ServerConfig};

const REQUESTS: u64 = 2000;

fn server(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().join("bench.db"));
    config.workers = Some(1);
    let server = RunningServer::start(config).unwrap();
    // One thread for the load, one for the server: the machine has two cores.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("server");
    group.throughput(Throughput::Elements(REQUESTS));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for concurrency in [1usize, 16, 64, 256] {
        let routes = [
            (
                "livez",
                Fire::get(server.url("/livez")).expect_json_field("status"),
            ),
            (
                "chat",
                Fire::post(server.url("/api/chat"), r#"{"message": "bench {i}"}"#)
                    .expect_json_field("response"),
            ),
        ];
        for (name, fire) in routes {
            let fire = fire.concurrency(concurrency).requests(REQUESTS);
            group.bench_function(BenchmarkId::new(name, format!("c{concurrency}")), |b| {
                b.iter_custom(|iters| racegate_benches::time_runs(&rt, &fire, iters))
            });
        }
    }
    group.finish();
    drop(server);
}

criterion_group!(benches, server);
criterion_main!(benches);
