//! racegate-pool: a runtime-safe async connection pool.
//!
//! What the seed's pool got wrong, done right:
//! - **lazy**: nothing is opened until the first [`Pool::acquire`], which
//!   runs inside whatever runtime is using the pool;
//! - **guarded**: concurrent first callers build it exactly once; a failed
//!   or cancelled build lets the next caller retry;
//! - **runtime-agnostic**: queued callers are woken through their task's
//!   `Waker`, builders through a `tokio::sync::Notify`, and one std thread
//!   per build times queued callers out; no task, runtime timer or `Handle`
//!   is stored, so the pool serves any runtime, including ones created after
//!   it and ones that replace a runtime that was shut down;
//! - **bounded and fair**: at most `size` connections; a caller that finds
//!   none idle queues, and a release hands its connection straight to the
//!   longest-waiting caller;
//! - **timeouts**: an acquire waits `acquire_timeout`, then fails with
//!   [`PoolError::Timeout`]: never sooner, and no later than a thirty-second
//!   of the timeout (at most 100 ms) after it;
//! - **closable**: [`Pool::close`] wakes every waiter with
//!   [`PoolError::Closed`] and closes each connection once it is idle.
//!
//! Modules, top to bottom; each imports only below it:
//!
//! - [`pool`]: the async layer ([`Pool`]): it awaits, and asks the machine.
//! - `lent`, `waiting`, `instance`: a lent connection ([`Pooled`]), a queued
//!   acquire's future and the deadline thread, one production build.
//! - [`manager`]: what is pooled ([`Manager`]), [`PoolConfig`], [`PoolError`].
//! - [`machine`]: **every decision**, in synchronous code: who builds, who
//!   waits, who gets which connection, who is woken, what close and drop do.
//! - [`init`], [`slots`], [`lease`], [`mailbox`]: the machine's parts: the
//!   lazily built shared instance, the bounded slots with their hand-off
//!   queue and what they hand out, a queued caller's mailbox.
//! - `sync`: `std`'s types, or loom's under `cfg(racegate_loom)`. The
//!   `racegate-loom` crate compiles `machine`, `init`, `slots`, `mailbox` and
//!   `sync` from this crate's source with loom's types: loom checks the pool
//!   as written.
//! - `recent`, `tracked`, `stamp`, `bug`: each thread's last instance (the
//!   fast path's lookup), counters, cheap timestamps for the wait metric,
//!   and the seed's bug on demand.

#![deny(clippy::undocumented_unsafe_blocks)]

mod bug;
mod head;
pub mod init;
mod instance;
pub mod lease;
mod lent;
pub mod machine;
pub mod mailbox;
pub mod manager;
pub mod pool;
mod recent;
pub mod slots;
mod stamp;
mod sync;
mod tracked;
mod waiting;

pub use bug::DispatchGone;
pub use init::InitGuard;
pub use lent::Pooled;
pub use manager::{Manager, PoolConfig, PoolError, PoolStats};
pub use pool::Pool;
