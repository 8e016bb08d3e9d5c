//! A re-initialisation (new generation) races a caller still on the old one.
//! The builder retires the old instance and closes its slots; the old
//! caller's connection stays valid until it is given back, then closes; no
//! caller ever holds a closed connection; every connection closes once.

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use racegate_loom::driver::Pool;

/// A connection that records being closed.
struct Conn {
    closed: AtomicBool,
    closes: AtomicUsize,
}

impl Conn {
    fn new() -> std::sync::Arc<Conn> {
        std::sync::Arc::new(Conn {
            closed: AtomicBool::new(false),
            closes: AtomicUsize::new(0),
        })
    }

    fn close(&self) {
        self.closes.fetch_add(1, Ordering::SeqCst);
        self.closed.store(true, Ordering::SeqCst);
    }
}

type ModelPool = Pool<std::sync::Arc<Conn>>;

/// A request on generation `generation`: get a connection through the
/// pool's protocol (building the new generation and retiring the old one if
/// first), use it while others run, give it back.
fn use_pool(pool: &ModelPool, me: usize, generation: u64, fresh: &std::sync::Arc<Conn>) {
    let close = |c: std::sync::Arc<Conn>| c.close();
    let mut build = || Some(vec![fresh.clone()]);
    let (instance, conn) = pool
        .acquire(me, generation, &mut build, &close)
        .expect("never closed");
    assert!(
        !conn.closed.load(Ordering::SeqCst),
        "a caller was lent a closed connection"
    );
    thread::yield_now(); // use it while others run
    assert!(
        !conn.closed.load(Ordering::SeqCst),
        "a connection was closed while lent out"
    );
    pool.release(&instance, conn, &close);
}

#[test]
fn generation_switch_never_lends_a_closed_connection_and_closes_the_old_once() {
    racegate_loom::check("generation/switch", || {
        let old_conn = Conn::new();
        let new_conn = Conn::new();
        let pool = Arc::new(ModelPool::new(2));
        let mut first = || Some(vec![old_conn.clone()]);
        pool.instance(0, 1, &mut first, &|c| c.close())
            .expect("generation 1 built");
        let old_caller = {
            let (pool, fresh) = (pool.clone(), new_conn.clone());
            thread::spawn(move || use_pool(&pool, 1, 1, &fresh))
        };
        use_pool(&pool, 0, 2, &new_conn);
        old_caller.join().unwrap();

        assert_eq!(
            old_conn.closes.load(Ordering::SeqCst),
            1,
            "the old connection closes exactly once"
        );
        assert_eq!(
            new_conn.closes.load(Ordering::SeqCst),
            0,
            "the current connection stays open"
        );
        let current = pool.cell.get().expect("the new generation is published");
        let stats = current.slots.stats();
        assert_eq!((stats.idle, stats.in_use, stats.closed), (1, 0, false));
    });
}
