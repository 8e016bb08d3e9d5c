//! loom models of the connection pool's concurrency core.
//!
//! The pool's core — lazy guarded initialisation with generations
//! ([`core::InitCell`]) and bounded slots with close ([`core::Slots`]) — is the
//! server's own source (`server/src/pool/core.rs` and `server/src/sync.rs`),
//! compiled here by path with `cfg(racegate_loom)`, so its `Mutex` and `Arc`
//! are loom's and loom tries every interleaving of 2–3 threads. No copy of the
//! logic lives in the tests. Each claim of the seed's fix has a model:
//!
//! | model file | claim |
//! |---|---|
//! | `tests/loom_init.rs` | concurrent first callers: the initialiser runs exactly once and all share the instance; a failed initialiser lets a later caller retry, and nobody waits forever |
//! | `tests/loom_generation.rs` | a re-initialisation racing callers of the old and the new generation: no caller uses a closed connection, and the old one is closed exactly once |
//! | `tests/loom_slots.rs` | acquire/release: permits are conserved and the bound never exceeded; close turns every waiter away with an error and nothing is lent after it |
//! | `tests/loom_unguarded.rs` | the bug side: with the guard off (the `unguarded-init` catalogue entry) loom must find the double initialisation, so the models are known to bite |
//!
//! Waiting is modelled the way the async layer does it: a caller told to wait
//! (`Begin::Wait`, `TryAcquire::Empty`) blocks on its own [`Wakers`] slot, and
//! every state change (a build completed or abandoned, a release, a close)
//! wakes all of them, which then look again. A wake-up the protocol could
//! lose leaves a thread blocked forever, which loom reports as a deadlock —
//! so "nobody waits forever" is checked, not assumed. Not modelled: tokio's
//! `Notify` and timers themselves (tokio checks those with loom).
//!
//! Run: `cargo test -p racegate-loom --release` (CI does this). The
//! preemption bound is `LOOM_MAX_PREEMPTIONS` if set, else
//! [`DEFAULT_PREEMPTIONS`]; raise it for a deeper search, e.g.
//! `LOOM_MAX_PREEMPTIONS=4 cargo test -p racegate-loom --release`.

#[path = "../../server/src/sync.rs"]
mod sync;

/// The server's pool core, compiled against loom.
#[path = "../../server/src/pool/core.rs"]
pub mod core;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The preemption bound when `LOOM_MAX_PREEMPTIONS` is not set.
pub const DEFAULT_PREEMPTIONS: usize = 3;

/// Runs `f` under loom with the project's bound and prints how many
/// interleavings were explored and how long it took.
pub fn check<F>(name: &str, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(DEFAULT_PREEMPTIONS);
    }
    let iterations = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&iterations);
    let started = Instant::now();
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        f();
    });
    eprintln!(
        "loom model {name}: {} interleavings in {:.2?} (preemption bound {:?})",
        iterations.load(Ordering::Relaxed),
        started.elapsed(),
        builder.preemption_bound
    );
}

/// One wake-up slot per model thread: a model's stand-in for
/// `tokio::sync::Notify::notify_waiters` with interest registered before the
/// state is checked (a notification sent before the wait is kept).
pub struct Wakers(Vec<loom::sync::Notify>);

impl Wakers {
    /// Slots for `threads` threads.
    pub fn new(threads: usize) -> Self {
        Self((0..threads).map(|_| loom::sync::Notify::new()).collect())
    }

    /// Thread `me` waits for the next state change.
    pub fn wait(&self, me: usize) {
        self.0[me].wait();
    }

    /// A state changed: every waiter looks again.
    pub fn wake_all(&self) {
        for n in &self.0 {
            n.notify();
        }
    }
}
