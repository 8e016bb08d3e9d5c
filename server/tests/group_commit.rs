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

/// Polls `done` every 5 ms for up to 10 s.
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} never happened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_reruns_its_batch_in_savepoints_and_answers_come_from_the_last_run() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let db = TempDb::new();
    let pool = ConnectionPool::new(PoolConfig::new(db.path(), 1));
    let store = Store::new(Arc::clone(&pool));
    let runs = Arc::new(AtomicUsize::new(0));
    let held = pool.acquire().await.unwrap();
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let store = store.clone();
            let runs = Arc::clone(&runs);
            tokio::spawn(async move {
                store
                    .write(move |c| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        c.execute(
                            "INSERT INTO settings (key, value) VALUES (?1, '1')",
                            [format!("k{i}")],
                        )?;
                        if i == 20 {
                            return Err(ServiceError::UnknownSetting("k20".into()));
                        }
                        Ok((i, c.last_insert_rowid()))
                    })
                    .await
            })
        })
        .collect();
    wait_until("40 queued writes", || store.write_stats().queued == 40).await;
    drop(held);
    let mut answers = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(answer) => answers.push(answer),
            Err(ServiceError::UnknownSetting(_)) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(answers.len(), 39);
    assert_eq!(store.write_stats().batches, 1);
    // The batch ran bare until the failing write (21 runs, in queue order or
    // not: at least the failing one), was rolled back, then ran all 40 again
    // in savepoints. One savepoint per write from the start would be 40 runs.
    let runs = runs.load(Ordering::SeqCst);
    assert!((41..=80).contains(&runs), "{runs} runs");
    // Every answer is from the run that was committed: its rowid is the row
    // stored under its key, and the failed write left nothing.
    let stored: std::collections::HashMap<String, i64> = store
        .read(|c| {
            let mut stmt = c.prepare("SELECT key, rowid FROM settings")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 39);
    for (i, rowid) in answers {
        assert_eq!(stored.get(&format!("k{i}")), Some(&rowid), "write {i}");
    }
}

/// Starts a write whose SQL holds its connection's thread until `release` is
/// set; returns once it runs.
async fn slow_write(
    store: &Store,
    release: &Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<Result<usize, ServiceError>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let started = Arc::new(AtomicBool::new(false));
    let task = {
        let (store, release, started) = (store.clone(), Arc::clone(release), Arc::clone(&started));
        tokio::spawn(async move {
            store
                .write(move |c| {
                    started.store(true, Ordering::SeqCst);
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                    while !release.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    Ok(c.execute("INSERT INTO settings (key, value) VALUES ('slow', '1')", [])?)
                })
                .await
        })
    };
    wait_until("the slow write to start", || started.load(Ordering::SeqCst)).await;
    task
}

fn queue_writes(
    store: &Store,
    n: usize,
) -> Vec<tokio::task::JoinHandle<Result<usize, ServiceError>>> {
    (0..n)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .write(move |c| {
                        Ok(c.execute(
                            "INSERT INTO settings (key, value) VALUES (?1, '1')",
                            [format!("q{i}")],
                        )?)
                    })
                    .await
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_queued_during_a_batch_run_next_on_the_same_connection_lease() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let db = TempDb::new();
    let pool = ConnectionPool::new(PoolConfig::new(db.path(), 2));
    let store = Store::new(Arc::clone(&pool));
    pool.warm_up().await.unwrap();
    let acquires_before = pool.stats().acquires;
    let release = Arc::new(AtomicBool::new(false));
    let slow = slow_write(&store, &release).await;
    let queued = queue_writes(&store, 20);
    wait_until("20 queued writes", || store.write_stats().queued == 20).await;
    release.store(true, Ordering::SeqCst);
    slow.await.unwrap().unwrap();
    for t in queued {
        t.await.unwrap().unwrap();
    }
    let stats = store.write_stats();
    assert_eq!(
        (stats.batches, stats.jobs, stats.largest_batch),
        (2, 21, 20),
        "{stats:?}"
    );
    // One leader borrowed one connection for both batches: the second began
    // on the connection's thread as soon as the first had answered.
    assert_eq!(
        pool.stats().acquires - acquires_before,
        1,
        "{:?}",
        pool.stats()
    );
    wait_until("the lease to end", || pool.stats().in_use == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_dropped_mid_batch_still_commits_and_its_followers_are_answered() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let db = TempDb::new();
    let pool = ConnectionPool::new(PoolConfig::new(db.path(), 1));
    let store = Store::new(Arc::clone(&pool));
    let release = Arc::new(AtomicBool::new(false));
    let slow = slow_write(&store, &release).await;
    let queued = queue_writes(&store, 10);
    wait_until("10 queued writes", || store.write_stats().queued == 10).await;
    slow.abort();
    assert!(slow.await.unwrap_err().is_cancelled());
    release.store(true, Ordering::SeqCst);
    for t in queued {
        t.await.unwrap().unwrap();
    }
    // The connection and the gate came back: the only connection serves a
    // read, and a new write leads a batch of its own.
    wait_until("the lease to end", || pool.stats().in_use == 0).await;
    store
        .write(|c| {
            Ok(c.execute(
                "INSERT INTO settings (key, value) VALUES ('after', '1')",
                [],
            )?)
        })
        .await
        .unwrap();
    let n: i64 = store
        .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM settings", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(
        n, 12,
        "the dropped leader's write, its 10 followers and the last"
    );
}
