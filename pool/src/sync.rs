//! The synchronisation types the pool's concurrency core is written against.
//!
//! Normal builds get `std`'s types. Under `--cfg racegate_loom` the same names
//! are loom's instrumented types, and loom explores every interleaving of the
//! code that uses them. That cfg is set only by the `racegate-loom` crate's
//! build script, which compiles this file and the machine beside it (by
//! path) — so the models check the production code, and no dependency that
//! reads `cfg(loom)` is switched into loom mode.

#[cfg(racegate_loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicU64, Ordering},
    Arc, Mutex, MutexGuard,
};

#[cfg(not(racegate_loom))]
pub(crate) use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc, Mutex, MutexGuard,
};

#[cfg(racegate_loom)]
pub(crate) use loom::cell::UnsafeCell;

/// `std`'s `UnsafeCell` behind loom's interface: the code reaches the value
/// only through [`with_mut`](Self::with_mut), which under loom records each
/// access, so a model fails if two threads could touch the value without one
/// access happening before the other.
#[cfg(not(racegate_loom))]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(racegate_loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    /// Calls `f` with a pointer to the value; dereferencing it is the
    /// caller's `unsafe`.
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Locks `mutex`, recovering the data if a previous holder panicked.
///
/// Every critical section in the pool core leaves the state consistent before
/// it can panic, so a poisoned lock carries no torn state worth refusing.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}
