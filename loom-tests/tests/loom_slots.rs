//! `Slots`: concurrent adds never exceed the bound (the check lives in `add`,
//! under the state lock: split it and two adds both succeed); close turns
//! every waiter away with an error, and nothing is lent after it.

use loom::sync::Arc;
use loom::thread;
use racegate_loom::driver::{Failed, Pool};
use racegate_loom::slots::{Release, Slots, TryAcquire};

#[test]
fn concurrent_adds_never_exceed_the_bound() {
    racegate_loom::check("slots/bound", || {
        let slots = Arc::new(Slots::<u32, usize>::new(2));
        assert!(slots.add(0u32).is_ok());
        let adders: Vec<_> = (1..3u32)
            .map(|c| {
                let slots = slots.clone();
                thread::spawn(move || slots.add(c).is_ok())
            })
            .collect();
        // A borrower racing the adds: what it sees never exceeds the bound.
        match slots.try_acquire() {
            TryAcquire::Acquired(c) => {
                let s = slots.stats();
                assert!(s.idle + s.in_use <= 2, "{s:?} for a bound of 2");
                assert!(matches!(slots.release(c), Release::Returned));
            }
            TryAcquire::Empty => {}
            TryAcquire::Closed => unreachable!("never closed"),
        }
        let added = adders
            .into_iter()
            .map(|a| a.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(added, 1, "two racing adds filled one free slot twice");
        let s = slots.stats();
        assert_eq!((s.idle, s.in_use), (2, 0), "every connection came back");
    });
}

#[test]
fn close_turns_every_waiter_away_and_lends_nothing_after() {
    racegate_loom::check("slots/close", || {
        let pool = Arc::new(Pool::<u32>::new(3));
        let mut build = || Some(vec![7u32]);
        let (instance, held) = pool.acquire(0, 1, &mut build, &|_| {}).expect("built");
        let waiters: Vec<_> = (1..3)
            .map(|me| {
                let pool = pool.clone();
                thread::spawn(move || {
                    let mut never = || -> Option<Vec<u32>> { unreachable!("built") };
                    match pool.acquire(me, 1, &mut never, &|_| {}) {
                        Err(Failed::Closed) => {}
                        Ok(_) => panic!("lent a connection after close"),
                        Err(e) => panic!("{e:?}"),
                    }
                })
            })
            .collect();
        pool.close(&|_| panic!("the only connection is lent, not idle"));
        assert!(instance.slots.close().is_none(), "close is handed out once");
        assert!(
            matches!(instance.slots.release(held), Release::Closed(7)),
            "a lent connection comes back to be closed"
        );
        assert!(
            instance.slots.add(8).is_err(),
            "nothing joins a closed pool"
        );
        for w in waiters {
            w.join().unwrap();
        }
    });
}

/// The idle stack is lock-free: a thread can read the top cell, be
/// preempted while others take that cell and the one below it and put the
/// first back, then swap the head to a cell that is lent. The tag every
/// change bumps makes that stale swap fail. Two connections, three threads
/// taking and giving back: no connection is ever lent to two at once, and
/// both are idle at the end.
#[test]
fn the_idle_stack_lends_each_connection_to_one_at_a_time() {
    racegate_loom::check("slots/stack", || {
        let slots = Arc::new(Slots::<usize, usize>::new(2));
        assert!(slots.add(0).is_ok());
        assert!(slots.add(1).is_ok());
        let lent: std::sync::Arc<[std::sync::atomic::AtomicBool; 2]> = std::sync::Arc::default();
        let borrower = |slots: Arc<Slots<usize, usize>>,
                        lent: std::sync::Arc<[std::sync::atomic::AtomicBool; 2]>,
                        rounds: usize| {
            for _ in 0..rounds {
                if let TryAcquire::Acquired(c) = slots.try_acquire() {
                    let flag = &lent[*c];
                    assert!(
                        !flag.swap(true, std::sync::atomic::Ordering::SeqCst),
                        "connection {} lent to two at once",
                        *c
                    );
                    flag.store(false, std::sync::atomic::Ordering::SeqCst);
                    assert!(matches!(slots.release(c), Release::Returned));
                }
            }
        };
        let others: Vec<_> = [1, 1]
            .into_iter()
            .map(|rounds| {
                let (slots, lent) = (slots.clone(), lent.clone());
                thread::spawn(move || borrower(slots, lent, rounds))
            })
            .collect();
        borrower(slots.clone(), lent, 2);
        for t in others {
            t.join().unwrap();
        }
        let s = slots.stats();
        assert_eq!((s.idle, s.in_use), (2, 0), "both connections came back");
    });
}
