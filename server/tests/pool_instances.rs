//! Which instance an acquire uses, when its thread remembers another.
//!
//! An acquire's fast path uses the instance its thread last got from the
//! pool's init cell, without the cell's lock. These checks run on one
//! thread (a current-thread runtime), so every acquire after the first finds
//! something remembered, and hold a connection of the old instance so that
//! it stays alive: after a close and reopen, and after a recycle, the next
//! acquire still gets a connection of the new build; and two pools used by
//! turns on one thread each lend their own connections.
//!
//! The thread also keeps references to the instance it remembers, so that
//! an acquire writes no shared reference count; a pool dropped without a
//! close must still close its files, though the thread keeps its instance.

mod common;

use std::time::Duration;

use common::TempDb;
use racegate_server::pool::{ConnectionPool, PoolConfig, PoolError};

fn one_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn pool(db: &TempDb, size: usize) -> std::sync::Arc<ConnectionPool> {
    let mut config = PoolConfig::new(db.path(), size);
    config.acquire_timeout = Duration::from_secs(5);
    ConnectionPool::new(config)
}

/// Builds `pool` and has this thread remember its instance: the acquire
/// that builds it gets the instance from the build, the next from the cell.
async fn remembered(pool: &ConnectionPool) {
    for _ in 0..2 {
        drop(pool.acquire().await.expect("the pool lends"));
    }
}

/// With every connection back, the next acquire is served without a third
/// build; then the pool closes.
async fn the_second_build_serves_on(pool: &ConnectionPool) {
    drop(pool.acquire().await.expect("the second build again"));
    assert_eq!(pool.stats().builds, 2, "no third build");
    pool.close().await;
}

#[test]
fn after_a_close_and_reopen_an_acquire_uses_the_new_build() {
    let db = TempDb::new();
    one_thread().block_on(async {
        let pool = pool(&db, 2);
        remembered(&pool).await;
        let old = pool.acquire().await.expect("the first build");
        pool.close().await;
        assert!(
            matches!(pool.acquire().await, Err(PoolError::Closed)),
            "a closed pool lends nothing, though this thread remembers its instance"
        );
        pool.reopen();
        let new = pool.acquire().await.expect("a second build");
        let stats = pool.stats();
        assert_eq!(stats.builds, 2, "the reopened pool was built again");
        assert_eq!(
            (stats.in_use, stats.idle),
            (1, 1),
            "the connection came from the new build"
        );
        // Both builds' connections are open until the old one comes back.
        assert_eq!(stats.connections_open, 3);
        drop(old);
        assert_eq!(
            pool.stats().connections_open,
            2,
            "the old build's connection closed on its return"
        );
        drop(new);
        the_second_build_serves_on(&pool).await;
    });
}

#[test]
fn after_a_recycle_an_acquire_uses_the_new_build() {
    let db = TempDb::new();
    one_thread().block_on(async {
        let pool = pool(&db, 1);
        remembered(&pool).await;
        let old = pool.acquire().await.expect("the first build");
        pool.recycle();
        // The only connection of the old build is lent: an acquire served
        // by the old build would wait out the timeout.
        let new = tokio::time::timeout(Duration::from_secs(2), pool.acquire())
            .await
            .expect("served by the new build, not queued on the old one")
            .expect("a second build");
        assert_eq!(pool.stats().builds, 2);
        drop(old);
        drop(new);
        the_second_build_serves_on(&pool).await;
    });
}

#[test]
fn two_pools_on_one_thread_each_lend_their_own() {
    let (db_a, db_b) = (TempDb::new(), TempDb::new());
    one_thread().block_on(async {
        let (a, b) = (pool(&db_a, 1), pool(&db_b, 1));
        remembered(&a).await;
        for _ in 0..3 {
            let from_a = a.acquire().await.expect("a lends");
            assert_eq!((a.stats().in_use, b.stats().in_use), (1, 0));
            let from_b = b.acquire().await.expect("b lends");
            assert_eq!((a.stats().in_use, b.stats().in_use), (1, 1));
            drop((from_a, from_b));
        }
        assert_eq!((a.stats().builds, b.stats().builds), (1, 1));
        a.close().await;
        b.close().await;
    });
}

#[test]
fn a_pool_dropped_without_a_close_closes_its_files_though_a_thread_keeps_its_instance() {
    let db = TempDb::new();
    one_thread().block_on(async {
        let pool = pool(&db, 2);
        remembered(&pool).await;
        let lent = pool.acquire().await.expect("the pool lends");
        assert!(!common::fds::open_on(&db.path()).is_empty());
        drop(pool);
        // The lent connection closes when it comes back; the idle one at
        // the drop.
        drop(lent);
    });
    let open = common::fds::wait_closed(&db.path(), Duration::from_secs(5));
    assert!(
        open.is_empty(),
        "still open after the pool's drop: {open:?}"
    );
}
