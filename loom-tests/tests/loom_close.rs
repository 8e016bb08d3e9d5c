//! Close racing a first build, and a reopen after close: the paths where a
//! build completes into a cell that changed under it (`Published::No`). Every
//! connection a build opens is closed exactly once, whoever ends up owning
//! it, and nobody waits forever.

use loom::sync::atomic::{AtomicU32, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;
use racegate_loom::driver::{Failed, Pool};

/// Connections opened and closed, by id.
#[derive(Default)]
struct Ledger {
    next: AtomicU32,
    opened: Mutex<Vec<u32>>,
    closed: Mutex<Vec<u32>>,
}

impl Ledger {
    fn open(&self) -> Option<Vec<u32>> {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        self.opened.lock().unwrap().push(id);
        Some(vec![id])
    }

    fn close(&self, id: u32) {
        self.closed.lock().unwrap().push(id);
    }

    fn assert_each_closed_once(&self) {
        let mut opened = self.opened.lock().unwrap().clone();
        let mut closed = self.closed.lock().unwrap().clone();
        opened.sort_unstable();
        closed.sort_unstable();
        assert_eq!(
            opened, closed,
            "every connection opened is closed exactly once"
        );
    }
}

/// A request: get a connection (building the pool if first), use it, give
/// it back. A closed pool is an answer too.
fn request(pool: &Pool<u32>, ledger: &Ledger, me: usize) {
    let mut build = || ledger.open();
    let close = |id| ledger.close(id);
    match pool.acquire(me, 1, &mut build, &close) {
        Ok((instance, conn)) => pool.release(&instance, conn, &close),
        Err(Failed::Closed) => {}
        Err(Failed::Build) => unreachable!("builds do not fail here"),
        Err(Failed::TimedOut) => unreachable!("no wait expires here"),
    }
}

#[test]
fn close_racing_the_first_build_closes_everything_once() {
    racegate_loom::check("close/racing-first-build", || {
        let pool = Arc::new(Pool::<u32>::new(3));
        let ledger = Arc::new(Ledger::default());
        let callers: Vec<_> = (1..3)
            .map(|me| {
                let (pool, ledger) = (pool.clone(), ledger.clone());
                thread::spawn(move || request(&pool, &ledger, me))
            })
            .collect();
        pool.close(&|id| ledger.close(id));
        for c in callers {
            c.join().unwrap();
        }
        // Closed and not reopened: nothing more is built or lent.
        let mut build = || ledger.open();
        assert_eq!(
            pool.acquire(0, 1, &mut build, &|id| ledger.close(id)).err(),
            Some(Failed::Closed)
        );
        ledger.assert_each_closed_once();
    });
}

#[test]
fn a_reopen_racing_a_build_keeps_one_instance_and_closes_the_rest() {
    racegate_loom::check("close/reopen-racing-build", || {
        let pool = Arc::new(Pool::<u32>::new(3));
        let ledger = Arc::new(Ledger::default());
        let builder = {
            let (pool, ledger) = (pool.clone(), ledger.clone());
            thread::spawn(move || request(&pool, &ledger, 1))
        };
        let reopener = {
            let (pool, ledger) = (pool.clone(), ledger.clone());
            thread::spawn(move || {
                pool.close(&|id| ledger.close(id));
                pool.reopen();
                request(&pool, &ledger, 2);
            })
        };
        builder.join().unwrap();
        reopener.join().unwrap();
        // Shut down: whatever is published now is the only live instance.
        pool.close(&|id| ledger.close(id));
        ledger.assert_each_closed_once();
    });
}
