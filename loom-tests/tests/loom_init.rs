//! Concurrent first callers of `InitCell::begin`: the initialiser runs exactly
//! once and everyone shares the instance; a failed initialiser lets a later
//! caller retry; nobody waits forever.

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use racegate_loom::core::{Begin, InitCell, InitGuard};
use racegate_loom::Wakers;

struct Model {
    cell: InitCell<usize>,
    builds: AtomicUsize,
    wakers: Wakers,
    /// The first build fails (its ticket is dropped unfinished).
    fail_first: bool,
}

impl Model {
    fn new(threads: usize, fail_first: bool) -> Arc<Self> {
        Arc::new(Self {
            cell: InitCell::new(InitGuard::On),
            builds: AtomicUsize::new(0),
            wakers: Wakers::new(threads),
            fail_first,
        })
    }

    /// Thread `me` gets the instance of generation 1, building it if first.
    fn get(&self, me: usize) -> Arc<usize> {
        loop {
            match self.cell.begin(1) {
                Begin::Ready(v) => return v,
                Begin::Init(ticket) => {
                    let n = self.builds.fetch_add(1, Ordering::SeqCst);
                    if self.fail_first && n == 0 {
                        drop(ticket); // the build failed: the claim is released
                        self.wakers.wake_all();
                        continue;
                    }
                    let (v, _) = ticket.complete(100 + n);
                    self.wakers.wake_all();
                    return v;
                }
                Begin::Wait => self.wakers.wait(me),
                Begin::Closed => panic!("the cell was never closed"),
            }
        }
    }
}

#[test]
fn initialiser_runs_once_and_everyone_shares_the_instance() {
    racegate_loom::check("init/once", || {
        let model = Model::new(3, false);
        let handles: Vec<_> = (1..3)
            .map(|me| {
                let model = model.clone();
                thread::spawn(move || model.get(me))
            })
            .collect();
        let mine = model.get(0);
        for h in handles {
            let theirs = h.join().unwrap();
            assert!(
                Arc::ptr_eq(&mine, &theirs),
                "two callers got different instances"
            );
        }
        assert_eq!(
            model.builds.load(Ordering::SeqCst),
            1,
            "the initialiser ran more than once"
        );
    });
}

#[test]
fn a_failed_initialiser_lets_a_later_caller_retry() {
    racegate_loom::check("init/retry-after-failure", || {
        let model = Model::new(2, true);
        let other = {
            let model = model.clone();
            thread::spawn(move || model.get(1))
        };
        let mine = model.get(0);
        let theirs = other.join().unwrap();
        assert!(Arc::ptr_eq(&mine, &theirs));
        // One failed build, then one that succeeded; everyone has the second.
        assert_eq!(model.builds.load(Ordering::SeqCst), 2);
        assert_eq!(*mine, 101);
    });
}
