//! Group commit: concurrent writes share one transaction, but each is atomic
//! on its own — a write that fails after it changed rows rolls back alone,
//! and every write that reported success is stored.

mod common;

use std::sync::Arc;

use common::TempDb;
use racegate_server::error::ServiceError;
use racegate_server::pool::{ConnectionPool, PoolConfig};
use racegate_server::store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_write_rolls_back_alone_and_its_batch_mates_commit() {
    let db = TempDb::new();
    let pool = ConnectionPool::new(PoolConfig::new(db.path(), 1));
    let store = Store::new(Arc::clone(&pool));
    // Hold the only connection so every write queues behind one leader:
    // when it is released, they run as one batch.
    let held = pool.acquire().await.unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .write(move |c| {
                        c.execute(
                            "INSERT INTO settings (key, value) VALUES (?1, '1')",
                            [format!("k{i}")],
                        )?;
                        if i % 5 == 0 {
                            // Fails after writing: its row must not survive.
                            return Err(ServiceError::UnknownSetting(format!("k{i}")));
                        }
                        Ok(i)
                    })
                    .await
            })
        })
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.write_stats().queued < 200 {
        assert!(std::time::Instant::now() < deadline, "writes never queued");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    drop(held);
    let mut committed = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(i) => committed.push(i),
            Err(ServiceError::UnknownSetting(_)) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(committed.len(), 160);
    // Batching really happened: the failing writes shared a transaction with
    // the others, so "rolls back alone" is about a savepoint, not luck.
    let stats = store.write_stats();
    assert_eq!(stats.jobs, 200, "{stats:?}");
    assert_eq!(
        stats.batches, 1,
        "all 200 writes ran in one batch: {stats:?}"
    );
    assert_eq!(stats.largest_batch, 200);
    let stored: Vec<String> = store
        .read(|c| {
            let mut stmt = c.prepare("SELECT key FROM settings ORDER BY key")?;
            let keys = stmt
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(keys)
        })
        .await
        .unwrap();
    let mut want: Vec<String> = committed.iter().map(|i| format!("k{i}")).collect();
    want.sort();
    assert_eq!(stored, want, "exactly the successful writes are stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_times_out_waiting_for_a_connection_is_not_applied() {
    let db = TempDb::new();
    let mut config = PoolConfig::new(db.path(), 1);
    config.acquire_timeout = std::time::Duration::from_millis(100);
    let pool = ConnectionPool::new(config);
    let store = Store::new(Arc::clone(&pool));
    let held = pool.acquire().await.unwrap();
    let result = store
        .write(|c| Ok(c.execute("INSERT INTO settings (key, value) VALUES ('late', '1')", [])?))
        .await;
    assert!(matches!(result, Err(ServiceError::Pool(_))), "{result:?}");
    drop(held);
    // The next write leads a batch; the timed-out one was withdrawn, not queued.
    store
        .write(|c| Ok(c.execute("INSERT INTO settings (key, value) VALUES ('next', '1')", [])?))
        .await
        .unwrap();
    let keys: Vec<String> = store
        .read(|c| {
            Ok(c.prepare("SELECT key FROM settings")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?)
        })
        .await
        .unwrap();
    assert_eq!(keys, ["next"]);
}
