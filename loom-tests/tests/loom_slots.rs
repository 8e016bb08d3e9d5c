//! `Slots`: permits are conserved and the bound is never exceeded; close
//! turns every waiter away with an error, and nothing is lent after it.

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use racegate_loom::core::{Release, Slots, TryAcquire};
use racegate_loom::Wakers;

#[test]
fn permits_are_conserved_and_the_bound_holds() {
    racegate_loom::check("slots/bound", || {
        let slots = Arc::new(Slots::new(2));
        for c in 0..2u32 {
            assert!(slots.add(c).is_ok());
        }
        assert!(
            slots.add(99).is_err(),
            "a third connection would exceed the bound"
        );
        let lent = Arc::new(AtomicUsize::new(0));
        let wakers = Arc::new(Wakers::new(3));
        let worker =
            |slots: Arc<Slots<u32>>, lent: Arc<AtomicUsize>, wakers: Arc<Wakers>, me: usize| loop {
                match slots.try_acquire() {
                    TryAcquire::Acquired(c) => {
                        let now = lent.fetch_add(1, Ordering::SeqCst) + 1;
                        assert!(now <= 2, "{now} connections lent from a pool of 2");
                        lent.fetch_sub(1, Ordering::SeqCst);
                        assert!(matches!(slots.release(c), Release::Returned));
                        wakers.wake_all();
                        return;
                    }
                    TryAcquire::Empty => wakers.wait(me),
                    TryAcquire::Closed => panic!("never closed"),
                }
            };
        let handles: Vec<_> = (1..3)
            .map(|me| {
                let (s, l, w) = (slots.clone(), lent.clone(), wakers.clone());
                thread::spawn(move || worker(s, l, w, me))
            })
            .collect();
        worker(slots.clone(), lent.clone(), wakers.clone(), 0);
        for h in handles {
            h.join().unwrap();
        }
        let stats = slots.stats();
        assert_eq!((stats.idle, stats.in_use), (2, 0), "every permit came back");
    });
}

#[test]
fn close_turns_every_waiter_away_and_lends_nothing_after() {
    racegate_loom::check("slots/close", || {
        let slots = Arc::new(Slots::new(1));
        assert!(slots.add(7u32).is_ok());
        let held = match slots.try_acquire() {
            TryAcquire::Acquired(c) => c,
            _ => unreachable!("one idle connection"),
        };
        let wakers = Arc::new(Wakers::new(2));
        let waiters: Vec<_> = (0..2)
            .map(|me| {
                let (slots, wakers) = (slots.clone(), wakers.clone());
                thread::spawn(move || loop {
                    match slots.try_acquire() {
                        TryAcquire::Empty => wakers.wait(me),
                        TryAcquire::Closed => return,
                        TryAcquire::Acquired(_) => panic!("lent a connection after close"),
                    }
                })
            })
            .collect();
        let idle = slots
            .close()
            .expect("the first close hands out the idle connections");
        assert!(idle.is_empty());
        wakers.wake_all();
        assert!(slots.close().is_none(), "close is handed out once");
        assert!(
            matches!(slots.release(held), Release::Closed(7)),
            "a lent connection comes back to be closed"
        );
        assert!(slots.add(8).is_err(), "nothing joins a closed pool");
        for w in waiters {
            w.join().unwrap();
        }
    });
}
