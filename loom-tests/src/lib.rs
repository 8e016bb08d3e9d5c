//! loom models of the connection pool, on its production source.
//!
//! Every decision of `racegate-pool` — who builds and who waits
//! ([`init::InitCell`] through [`machine::step`] and [`machine::Build`]), who
//! gets which connection and who is woken ([`slots::Slots`],
//! [`mailbox::Mailbox`], [`machine::Instance`]), what close, a give-up and a
//! release do — is synchronous code in `pool/src/{machine,init,slots,lease,head,mailbox,sync}.rs`,
//! compiled here by path with `cfg(racegate_loom)`, so its `Mutex`, `Arc`,
//! atomics and `UnsafeCell` are loom's and loom tries every interleaving of
//! 2–3 threads (an idle connection sits in an `UnsafeCell` that only its
//! cell's owner reaches: loom fails a model if two accesses to it are not
//! ordered). [`driver`] is the glue: model threads that call those
//! functions and wait where production's async layer awaits. No copy of the
//! logic lives here. Each claim of the seed's fix has a model:
//!
//! | model file | claim |
//! |---|---|
//! | `tests/loom_init.rs` | concurrent first callers: the initialiser runs exactly once and all share the instance; a failed initialiser lets a later caller retry, and nobody waits forever |
//! | `tests/loom_generation.rs` | a re-initialisation racing callers of the old and the new generation: no caller uses a closed connection, and the old one is closed exactly once |
//! | `tests/loom_slots.rs` | concurrent adds never exceed the bound; close turns every waiter away with an error and nothing is lent after it; the lock-free idle stack never lends one connection to two callers (without the head's tag, loom finds the ABA swap that does; with its compare-and-swap `Relaxed`, loom finds the unordered accesses to a cell's connection) |
//! | `tests/loom_wake.rs` | acquire/release with the connection handed to the first queued caller and one wake per release: nobody waits forever, connections are conserved; without the wake, loom finds the lost wake-up; a caller giving up while a connection is handed to it passes it on; a wait expiring while a release serves it ends one way only |
//! | `tests/loom_close.rs` | close racing a first build (the `Published::No` path) and a reopen after close: every instance built is closed exactly once and at most one is ever published |
//! | `tests/loom_unguarded.rs` | the bug side: with the guard off (the `unguarded-init` catalogue entry) loom must find the double initialisation, so the models are known to bite |
//!
//! Waiting is modelled with production's rules ([`driver`]). For a connection: a caller
//! that finds none idle queues a mailbox naming its thread (production: its
//! task's `Waker`), and waits on its own parker, which keeps a wake-up that
//! comes before the wait as a task's waker does; a release delivers into the
//! first mailbox and wakes that thread; a close, or the deadline thread's
//! expiry, empties the queue and wakes whom it took out. For a build
//! ([`NotifyModel`]): a caller registers interest before it looks at the
//! cell, a finished build or a close wakes all, and a waiter that leaves
//! without waiting passes on a wake-up it received. A wake-up the protocol
//! could lose leaves a thread blocked forever, which loom reports as a
//! deadlock — so "nobody waits forever" is checked for the code's rules, not
//! friendlier ones (`tests/loom_wake.rs` shows that dropping the wake on
//! release is caught). Not modelled: tokio's `Notify` and `Waker` internals,
//! timers and clocks (the deadline thread's sleep is modelled as an expiry
//! at any moment).
//!
//! Run: `cargo test -p racegate-loom --release` (CI does this). The
//! preemption bound is `LOOM_MAX_PREEMPTIONS` if set, else
//! [`DEFAULT_PREEMPTIONS`]; raise it for a deeper search, e.g.
//! `LOOM_MAX_PREEMPTIONS=4 cargo test -p racegate-loom --release`.

#[path = "../../pool/src/sync.rs"]
mod sync;

/// The pool's lazily built shared instance, compiled against loom.
#[path = "../../pool/src/init.rs"]
pub mod init;

/// The idle stack's head word and cells, compiled against loom.
#[path = "../../pool/src/head.rs"]
mod head;

/// What the slots hand out and back, compiled against loom.
#[path = "../../pool/src/lease.rs"]
pub mod lease;

/// The pool's connection slots and hand-off queue, compiled against loom.
#[path = "../../pool/src/slots.rs"]
pub mod slots;

/// A queued caller's mailbox, compiled against loom.
#[path = "../../pool/src/mailbox.rs"]
pub mod mailbox;

/// Every decision of the pool's async layer, compiled against loom.
#[path = "../../pool/src/machine.rs"]
pub mod machine;

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

pub mod driver;
pub mod notify;

pub use notify::NotifyModel;
