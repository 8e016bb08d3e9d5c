//! The services on a real temporary SQLite file: one chat turn (read
//! history, store message and reply) and one settings merge.
//!
//! `cargo bench -p racegate-benches --bench services`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use racegate_server::memory::MemoryService;
use racegate_server::pool::{ConnectionPool, PoolConfig};
use racegate_server::settings::SettingsService;
use racegate_server::store::Store;

fn services(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pool = ConnectionPool::new(PoolConfig::new(dir.path().join("services.db"), 4));
    let store = Store::new(Arc::clone(&pool));
    let memory = MemoryService::new(store.clone(), Duration::ZERO);
    let settings = SettingsService::new(store);
    let conversation = rt
        .block_on(memory.chat(None, "start".into()))
        .unwrap()
        .conversation_id;
    let mut group = c.benchmark_group("services");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(3));
    group.bench_function("chat_turn", |b| {
        b.to_async(&rt)
            .iter(|| memory.chat(Some(conversation.clone()), "how are you today?".into()))
    });
    let n = AtomicU64::new(0);
    group.bench_function("settings_merge_3_keys", |b| {
        b.to_async(&rt).iter(|| {
            let i = n.fetch_add(1, Ordering::Relaxed) % 1000;
            let patch = serde_json::json!({ format!("a{i}"): i, format!("b{i}"): "x", format!("c{i}"): [i] });
            let serde_json::Value::Object(patch) = patch else { unreachable!() };
            settings.merge(patch)
        })
    });
    group.finish();
}

criterion_group!(benches, services);
criterion_main!(benches);
