//! How fast the history checker decides: linearizable histories of 10,000
//! and 100,000 operations over 64 keys from 16 overlapping clients (the
//! shape `racegate kv -c 16` records; targets ≤ 1 s and ≤ 10 s), and 10,000
//! on a single key, where all 16 clients overlap on it. `zones` is what
//! `check` uses for kv histories (distinct writes); `search` is the
//! Wing–Gong/Lowe search on the same histories. `cas-register` and `append`
//! are the other two models on histories of the same shape (a quarter of
//! the operations compare-and-sets, half of them failing; or half of them
//! appends), which only the search decides.
//!
//! `cargo bench -p racegate-benches --bench history`

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use racegate::history::{check_as, sim, Algorithm, Model, Verdict};

fn history(c: &mut Criterion) {
    let mut group = c.benchmark_group("history");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    let register = Model::Register;
    let cases = [
        (register, Algorithm::Auto, "zones", 10_000usize, 64usize),
        (register, Algorithm::Auto, "zones", 100_000, 64),
        (register, Algorithm::Auto, "zones", 10_000, 1),
        (register, Algorithm::Search, "search", 10_000, 64),
        (register, Algorithm::Search, "search", 100_000, 64),
        (
            Model::CasRegister,
            Algorithm::Auto,
            "cas-register",
            10_000,
            64,
        ),
        (
            Model::CasRegister,
            Algorithm::Auto,
            "cas-register",
            100_000,
            64,
        ),
        (Model::Append, Algorithm::Auto, "append", 10_000, 64),
        (Model::Append, Algorithm::Auto, "append", 100_000, 64),
    ];
    for (model, algorithm, name, ops, keys) in cases {
        let history = sim::linearizable_as(model, 42, ops, keys, 16);
        group.throughput(Throughput::Elements(ops as u64));
        group.bench_with_input(
            BenchmarkId::new(name, format!("ops{ops}_keys{keys}_c16")),
            &history,
            |b, h| {
                b.iter(|| {
                    let result = check_as(h, model, Duration::from_secs(60), algorithm).unwrap();
                    assert_eq!(result.verdict, Verdict::Linearizable);
                    result
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, history);
criterion_main!(benches);
