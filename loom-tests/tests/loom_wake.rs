//! Production's hand-off rule: a release delivers the connection to the
//! first queued caller's mailbox and wakes that caller only; a close wakes
//! every queued caller. Three callers contend for one connection through the
//! pool's own acquire/release protocol; nobody may wait forever. The same
//! model with the wake on release dropped must deadlock, so the model is
//! known to catch a lost wake-up.
//!
//! Two races of the hand-off have models of their own: a queued caller that
//! gives up (its acquire dropped) while a release is handing it the
//! connection must pass the connection on, and a wait that expires while a
//! release serves it must end one way only — served or timed out.

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread::{self, JoinHandle};
use racegate_loom::driver::{Failed, Instance, Pool};

fn no_close(_: u32) {}

fn contend_for_one_connection(wake_on_release: bool) {
    // The mutation: every wake a release owes reaches nobody.
    let pool = Arc::new(if wake_on_release {
        Pool::<u32>::new(3)
    } else {
        Pool::<u32>::with_deaf_wakers(3)
    });
    let lent = Arc::new(AtomicUsize::new(0));
    // Built before the race, so the model is about acquire and release.
    let mut build = || Some(vec![7u32]);
    pool.instance(0, 1, &mut build, &no_close).expect("built");
    let caller = move |pool: Arc<Pool<u32>>, lent: Arc<AtomicUsize>, me: usize| {
        let mut never = || -> Option<Vec<u32>> { unreachable!("already built") };
        let (instance, conn) = pool.acquire(me, 1, &mut never, &no_close).expect("open");
        assert_eq!(
            lent.fetch_add(1, Ordering::SeqCst),
            0,
            "one connection lent twice"
        );
        lent.fetch_sub(1, Ordering::SeqCst);
        pool.release(&instance, conn, &no_close);
    };
    let others: Vec<_> = (1..3)
        .map(|me| {
            let (pool, lent) = (pool.clone(), lent.clone());
            thread::spawn(move || caller(pool, lent, me))
        })
        .collect();
    caller(pool.clone(), lent, 0);
    for t in others {
        t.join().unwrap();
    }
    let stats = pool.cell.get().expect("built").slots.stats();
    assert_eq!(
        (stats.idle, stats.in_use),
        (1, 0),
        "the connection came back"
    );
}

/// Thread `me` asks the built pool for a connection, giving up once queued
/// if `give_up`; gives back what it got. A wait that ends without a
/// connection must have timed out (or given up).
fn ask(pool: &Pool<u32>, me: usize, give_up: bool) {
    let mut never = || -> Option<Vec<u32>> { unreachable!("built") };
    match pool.acquire_or_give_up(me, 1, &mut never, &no_close, give_up) {
        Ok((instance, conn)) => pool.release(&instance, conn, &no_close),
        Err(e) => assert_eq!(e, Failed::TimedOut),
    }
}

/// Thread 0 holds the only connection while `others` run, then releases it
/// at any point of theirs; afterwards the connection must be back and
/// nobody left queued.
fn race_a_release(
    others: impl FnOnce(&Arc<Pool<u32>>, &Arc<Instance<u32>>) -> Vec<JoinHandle<()>>,
) {
    let pool = Arc::new(Pool::<u32>::new(3));
    let mut build = || Some(vec![7u32]);
    let (instance, held) = pool.acquire(0, 1, &mut build, &no_close).expect("built");
    let threads = others(&pool, &instance);
    pool.release(&instance, held, &no_close);
    for t in threads {
        t.join().unwrap();
    }
    let stats = instance.slots.stats();
    assert_eq!(
        (stats.idle, stats.in_use, stats.queued),
        (1, 0, 0),
        "the connection came back and nobody is left queued"
    );
}

/// Thread 1 queues for the connection and gives up (its acquire dropped) at
/// any point of thread 0's release; thread 2 waits for it to the end.
/// Whatever the order, thread 2 is served (it would block forever
/// otherwise): a connection handed to a caller that gave up is passed on,
/// not stranded in its mailbox.
#[test]
fn a_caller_that_gives_up_passes_on_a_connection_handed_to_it() {
    racegate_loom::check("wake/give-up", || {
        race_a_release(|pool, _| {
            let (quitter, waiter) = (pool.clone(), pool.clone());
            vec![
                thread::spawn(move || ask(&quitter, 1, true)),
                thread::spawn(move || {
                    let mut never = || -> Option<Vec<u32>> { unreachable!("built") };
                    let (instance, conn) =
                        waiter.acquire(2, 1, &mut never, &no_close).expect("served");
                    waiter.release(&instance, conn, &no_close);
                }),
            ]
        });
    });
}

/// Thread 1 waits for the connection; thread 2 is the deadline thread,
/// expiring every queued wait once, at any point of thread 0's release.
/// Thread 1 is either served or told it timed out, never left waiting.
#[test]
fn an_expiring_wait_is_served_or_timed_out_never_stranded() {
    racegate_loom::check("wake/expire", || {
        race_a_release(|pool, instance| {
            let (waiter, deadlines, instance) = (pool.clone(), pool.clone(), instance.clone());
            vec![
                thread::spawn(move || ask(&waiter, 1, false)),
                thread::spawn(move || deadlines.expire_all(&instance)),
            ]
        });
    });
}

#[test]
fn one_wake_per_release_leaves_nobody_waiting() {
    racegate_loom::check("wake/one-per-release", || contend_for_one_connection(true));
}

/// The mutation, run on its own: must fail. loom reports a deadlock by
/// panicking while threads are blocked, which cannot be caught in-process
/// (the unwinding panics again), so the test below runs this one in a
/// child process and reads its verdict.
#[test]
#[ignore = "a mutation that must deadlock; run by a_release_that_wakes_nobody_is_caught_as_a_deadlock"]
fn mutation_release_without_wake() {
    racegate_loom::check("wake/mutation-no-wake", || {
        contend_for_one_connection(false)
    });
}

#[test]
fn a_release_that_wakes_nobody_is_caught_as_a_deadlock() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "mutation_release_without_wake",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "loom must find the waiter nobody wakes:\n{stderr}"
    );
    assert!(stderr.contains("deadlock"), "unexpected failure: {stderr}");
}
