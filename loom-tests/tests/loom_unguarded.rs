//! The bug side: the same core with the init guard off (the `unguarded-init`
//! catalogue entry). loom must find the interleaving in which two first
//! callers both build — proof that the models can fail.

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use racegate_loom::driver::Pool;
use racegate_loom::init::InitGuard;

fn first_callers_build_once(guard: InitGuard) {
    let pool = Arc::new(Pool::<usize>::with_guard(2, guard));
    let builds = Arc::new(AtomicUsize::new(0));
    let get = |pool: &Pool<usize>, builds: &AtomicUsize, me: usize| {
        let mut build = || Some(vec![builds.fetch_add(1, Ordering::SeqCst)]);
        pool.instance(me, 1, &mut build, &|_| {}).expect("built");
    };
    let other = {
        let (pool, builds) = (pool.clone(), builds.clone());
        thread::spawn(move || get(&pool, &builds, 1))
    };
    get(&pool, &builds, 0);
    other.join().unwrap();
    assert_eq!(builds.load(Ordering::SeqCst), 1, "double initialisation");
}

#[test]
fn loom_catches_the_double_initialisation_without_the_guard() {
    let caught = std::panic::catch_unwind(|| {
        racegate_loom::check("unguarded/double-init", || {
            first_callers_build_once(InitGuard::Off)
        });
    });
    let message = caught.expect_err("loom must find two builds when the guard is off");
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| message.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(
        text.contains("double initialisation"),
        "unexpected failure: {text}"
    );
}

#[test]
fn the_same_model_passes_with_the_guard_on() {
    racegate_loom::check("unguarded/guard-on", || {
        first_callers_build_once(InitGuard::On)
    });
}
