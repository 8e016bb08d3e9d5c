//! Production's wake-up rule: a release wakes **one** waiter (`notify_one`),
//! a close wakes all. Three callers contend for one connection through the
//! pool's own acquire/release protocol; nobody may wait forever. The same
//! model with the wake on release dropped must deadlock, so the model is
//! known to catch a lost wake-up.

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use racegate_loom::protocol::Pool;

fn no_close(_: u32) {}

fn contend_for_one_connection(wake_on_release: bool) {
    let pool = Arc::new(Pool::<u32>::new(3));
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
        pool.release(&instance, conn, wake_on_release, &no_close);
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
