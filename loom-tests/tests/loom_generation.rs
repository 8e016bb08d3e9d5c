//! A re-initialisation (new generation) races a caller still on the old one.
//! The builder retires the old instance and closes its slots; the old
//! caller's connection stays valid until it is given back, then closes; no
//! caller ever holds a closed connection; every connection closes once.

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use racegate_loom::core::{Begin, InitCell, InitGuard, Release, Slots, TryAcquire};
use racegate_loom::Wakers;

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

type Pool = Slots<std::sync::Arc<Conn>>;

fn pool_with(conn: &std::sync::Arc<Conn>) -> Pool {
    let slots = Slots::new(1);
    assert!(slots.add(conn.clone()).is_ok());
    slots
}

/// What the async pool does: get the current instance for `generation`,
/// building it (and closing the retired one) if needed, then borrow a
/// connection, use it, give it back.
fn use_pool(
    cell: &InitCell<Pool>,
    wakers: &Wakers,
    me: usize,
    generation: u64,
    fresh: &std::sync::Arc<Conn>,
) {
    loop {
        let instance = match cell.begin(generation) {
            Begin::Ready(i) => i,
            Begin::Wait => {
                wakers.wait(me);
                continue;
            }
            Begin::Closed => panic!("never closed"),
            Begin::Init(mut ticket) => {
                if let Some(old) = ticket.take_retired() {
                    for conn in old.close().into_iter().flatten() {
                        conn.close();
                    }
                }
                let instance = ticket.complete(pool_with(fresh)).0;
                wakers.wake_all();
                instance
            }
        };
        match instance.try_acquire() {
            TryAcquire::Acquired(conn) => {
                assert!(
                    !conn.closed.load(Ordering::SeqCst),
                    "a caller was lent a closed connection"
                );
                thread::yield_now(); // use it while others run
                assert!(
                    !conn.closed.load(Ordering::SeqCst),
                    "a connection was closed while lent out"
                );
                if let Release::Closed(conn) = instance.release(conn) {
                    conn.close();
                }
                wakers.wake_all();
                return;
            }
            TryAcquire::Empty => wakers.wait(me),
            TryAcquire::Closed => {} // retired under us: ask the cell again
        }
    }
}

#[test]
fn generation_switch_never_lends_a_closed_connection_and_closes_the_old_once() {
    racegate_loom::check("generation/switch", || {
        let old_conn = Conn::new();
        let new_conn = Conn::new();
        let cell = Arc::new(InitCell::new(InitGuard::On));
        match cell.begin(1) {
            Begin::Init(ticket) => drop(ticket.complete(pool_with(&old_conn))),
            _ => unreachable!("an empty cell hands out an init ticket"),
        }
        let wakers = Arc::new(Wakers::new(2));
        let old_caller = {
            let (cell, fresh, wakers) = (cell.clone(), new_conn.clone(), wakers.clone());
            thread::spawn(move || use_pool(&cell, &wakers, 1, 1, &fresh))
        };
        use_pool(&cell, &wakers, 0, 2, &new_conn);
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
        let current = cell.get().expect("the new generation is published");
        let stats = current.stats();
        assert_eq!((stats.idle, stats.in_use, stats.closed), (1, 0, false));
    });
}
