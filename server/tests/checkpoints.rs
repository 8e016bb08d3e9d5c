//! WAL checkpoints run on the pool's checkpoint thread, off the writer's path
//! (the pool's connections never checkpoint): the WAL is still copied back
//! into the database file, its length stays bounded under a stream of
//! writes, and the thread's connection closes with the pool.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TempDb;
use racegate_server::checkpoint::Schedule;
use racegate_server::pool::{ConnectionPool, PoolConfig};
use racegate_server::store::Store;

fn len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn wal(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// Writes `count` values of `bytes` each into `settings`, from `tasks`
/// tasks back to back, over `keys` keys (so the database file stays small
/// while the WAL takes every write).
async fn write_blobs(store: &Store, tasks: usize, count: usize, bytes: i64, keys: usize) {
    let writers: Vec<_> = (0..tasks)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in (t..count).step_by(tasks) {
                    store
                        .write(move |c| {
                            Ok(c.execute(
                                "INSERT INTO settings (key, value) VALUES (?1, zeroblob(?2))
                                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                                (format!("blob{}", i % keys), bytes),
                            )?)
                        })
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_is_copied_back_without_the_writers_checkpointing() {
    let db = TempDb::new();
    let pool = ConnectionPool::new(PoolConfig::new(db.path(), 2));
    let store = Store::new(Arc::clone(&pool));
    write_blobs(&store, 1, 8, 256 * 1024, 8).await;
    // 2 MiB went to the WAL; the checkpoint thread copies it into the file.
    let deadline = Instant::now() + Duration::from_secs(10);
    while len(&db.path()) < 2 * 1024 * 1024 {
        assert!(
            Instant::now() < deadline,
            "the database file is still {} bytes, the WAL {}",
            len(&db.path()),
            len(&wal(&db.path()))
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    pool.close().await;
    let open = common::fds::wait_closed(&db.path(), Duration::from_secs(5));
    assert!(open.is_empty(), "still open after close: {open:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_stays_bounded_under_a_stream_of_writes() {
    let db = TempDb::new();
    let mut config = PoolConfig::new(db.path(), 8);
    // Due past 1 MiB; the thread's own RESTART kept out of the way.
    config.checkpoints = Schedule {
        period: Duration::from_millis(10),
        restart_frames: 256,
        backstop: Duration::from_secs(60),
    };
    let pool = ConnectionPool::new(config);
    let store = Store::new(Arc::clone(&pool));
    // 64 clients writing back to back, as /api/chat under load: the queue
    // never empties for long, so the writer begins each transaction before a
    // PASSIVE pass has caught up with it, and the WAL never starts over by
    // itself (without the writer's checkpoints it grew to 22-23 MiB; with them, 3-5).
    write_blobs(&store, 64, 4096, 4096, 4096).await;
    // The WAL file keeps its high-water length.
    let peak = len(&wal(&db.path()));
    assert!(peak < 12 * 1024 * 1024, "the WAL grew to {peak} bytes");
    let stored: i64 = store
        .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM settings", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(stored, 4096);
}
