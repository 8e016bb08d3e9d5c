//! The pool's lock-free idle stack and its hand-off queue under a storm, on
//! a real SQLite file and both threads of a real runtime: 64 tasks share 8
//! connections, taking the stack's fast path and the queue's slow path in
//! turn. Each connection carries its own name in a TEMP table (visible to
//! that connection only), so the test sees which connection it was lent:
//! no connection is ever lent to two tasks at once, every acquire is served
//! within the timeout, and afterwards every connection is idle again.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::TempDb;
use racegate_server::pool::{ConnectionPool, PoolConfig, PooledConnection};

const SIZE: usize = 8;
const TASKS: usize = 64;
const ROUNDS: usize = 100;

/// The name the connection was given.
async fn name(conn: &PooledConnection) -> usize {
    conn.call(|c| c.query_row("SELECT id FROM temp.me", [], |r| r.get::<_, i64>(0)))
        .await
        .map(|id| usize::try_from(id).expect("a small id"))
        .expect("every connection was named")
}

#[test]
fn a_storm_never_lends_one_connection_twice_and_leaves_all_idle() {
    let rt = common::two_thread_runtime();
    let db = TempDb::new();
    rt.block_on(async {
        let mut config = PoolConfig::new(db.path(), SIZE);
        config.acquire_timeout = Duration::from_secs(10);
        let pool = ConnectionPool::new(config);

        // Hold all of them at once to name each.
        let mut all = Vec::new();
        for id in 0..SIZE {
            let conn = pool.acquire().await.unwrap();
            let id = i64::try_from(id).unwrap();
            conn.call(move |c| {
                c.execute_batch("CREATE TEMP TABLE me(id INTEGER)")?;
                c.execute("INSERT INTO temp.me VALUES (?1)", [id])
            })
            .await
            .unwrap();
            all.push(conn);
        }
        drop(all);

        let lent: Arc<[AtomicBool; SIZE]> = Arc::default();
        let served = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (pool, lent, served) =
                    (Arc::clone(&pool), Arc::clone(&lent), Arc::clone(&served));
                tokio::spawn(async move {
                    for _ in 0..ROUNDS {
                        let conn = pool.acquire().await.expect("served within the timeout");
                        let me = name(&conn).await;
                        assert!(
                            !lent[me].swap(true, Ordering::SeqCst),
                            "connection {me} lent to two tasks at once"
                        );
                        tokio::task::yield_now().await;
                        lent[me].store(false, Ordering::SeqCst);
                        drop(conn);
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(60), t)
                .await
                .expect("the storm ends")
                .unwrap();
        }
        assert_eq!(served.load(Ordering::Relaxed), TASKS * ROUNDS);
        let stats = pool.stats();
        assert_eq!(
            (stats.idle, stats.in_use, stats.waiters),
            (SIZE, 0, 0),
            "every connection idle again, nobody queued: {stats:?}"
        );
        assert_eq!(
            stats.acquires,
            (TASKS * ROUNDS + SIZE) as u64,
            "every acquire counted once"
        );
        pool.close().await;
    });
}
