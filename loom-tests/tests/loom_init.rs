//! Concurrent first callers of the pool (the production `InitCell` through
//! the async layer's protocol): the build runs exactly once and everyone
//! shares the instance; a failed build lets a later caller retry, and the
//! callers waiting for it are woken to do so — nobody waits forever.

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use racegate_loom::driver::{Failed, Instance, Pool};

struct Model {
    pool: Pool<usize>,
    builds: AtomicUsize,
    /// The first build fails.
    fail_first: bool,
}

impl Model {
    fn new(threads: usize, fail_first: bool) -> Arc<Self> {
        Arc::new(Self {
            pool: Pool::new(threads),
            builds: AtomicUsize::new(0),
            fail_first,
        })
    }

    /// Thread `me` gets the instance, building it if first. A caller whose
    /// build failed gets the error and leaves, as its request would (a 500);
    /// it does not come back to rescue the others.
    fn get(&self, me: usize) -> Option<Arc<Instance<usize>>> {
        let mut build = || {
            let n = self.builds.fetch_add(1, Ordering::SeqCst);
            (!(self.fail_first && n == 0)).then(|| vec![100 + n])
        };
        match self.pool.instance(me, 1, &mut build, &|_| {}) {
            Ok(instance) => Some(instance),
            Err(Failed::Build) => None,
            Err(Failed::Closed) => panic!("the pool was never closed"),
            Err(Failed::TimedOut) => unreachable!("no wait expires here"),
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
        let mine = model.get(0).expect("built");
        for h in handles {
            let theirs = h.join().unwrap().expect("built");
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
fn a_failed_initialiser_lets_a_waiting_caller_build() {
    racegate_loom::check("init/retry-after-failure", || {
        let model = Model::new(2, true);
        let other = {
            let model = model.clone();
            thread::spawn(move || model.get(1))
        };
        let mine = model.get(0);
        let theirs = other.join().unwrap();
        // One caller's build failed; the other, even if it was waiting for
        // that build, was woken and built the pool itself.
        let built: Vec<_> = [mine, theirs].into_iter().flatten().collect();
        assert_eq!(built.len(), 1, "exactly one caller failed");
        assert_eq!(model.builds.load(Ordering::SeqCst), 2);
        assert_eq!(built[0].slots.stats().idle, 1);
    });
}
