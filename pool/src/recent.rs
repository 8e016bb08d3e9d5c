//! Each thread's most recently used pool instance, so that an acquire's
//! fast path finds the instance without the init cell's lock, and without
//! writing the instance's reference count.
//!
//! Every acquire needs the current instance. Asking [`crate::init::InitCell`]
//! takes its lock: two atomic read-modify-writes on one line that every
//! acquire on every runtime thread writes. The thread remembers instead what
//! the cell last gave it, keyed by the pool's number (unique in the process,
//! unlike its address) and by the generation asked for. A remembered
//! instance serves an acquire that asks for that generation or an older one;
//! one that was closed since says so when asked for a connection, and the
//! acquire then asks the cell, which replaces what this thread remembers. So
//! the cache changes how fast the instance is found, never which one: an
//! instance the cell did not give for the generation asked is never used.
//!
//! Each lent connection holds a strong reference to its instance. Taking
//! and dropping one per acquire wrote the reference count, on a line that
//! both runtime threads write, twice per cycle. So the thread keeps a few
//! references ready ([`SPARES`] at a time, cloned together while the line is
//! its own), an acquire takes one, and a connection given back on a thread
//! that remembers its instance leaves its reference there. The cost: a
//! thread keeps the instance it last used alive until it remembers another
//! (or ends), so a closed instance must hold nothing open, and does not
//! (`Instance::shut`, which a pool's drop runs too).
//!
//! A thread-local cannot be generic, so the instance is kept as `dyn Any`
//! and taken back with a downcast (one type-id comparison): a pool's number
//! names one pool, whose instances have one type.

use std::any::Any;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// An instance, its type erased.
type Erased = Arc<dyn Any + Send + Sync>;

/// How many references a thread takes at once when it has none ready.
const SPARES: usize = 16;
/// How many references a thread keeps at most; beyond, it drops half.
const MOST: usize = 4 * SPARES;

/// What one thread remembers.
struct Entry {
    pool: u64,
    generation: u64,
    /// The instance, to tell whether it is still alive once no reference is
    /// ready, and which instance a given-back reference belongs to.
    instance: Weak<dyn Any + Send + Sync>,
    /// References to it, ready for this thread's next acquires.
    ready: Vec<Erased>,
}

thread_local! {
    static LAST: RefCell<Option<Entry>> = const { RefCell::new(None) };
}

/// A number for a new pool, never given before in this process.
pub(crate) fn pool_number() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The instance this thread last got from pool `pool` for `generation` or a
/// later one, if it is still alive. (Nothing while the thread's locals are
/// being destroyed.)
pub(crate) fn get<T: Any + Send + Sync>(pool: u64, generation: u64) -> Option<Arc<T>> {
    let erased = LAST
        .try_with(|last| {
            let mut last = last.borrow_mut();
            let entry = last.as_mut()?;
            if entry.pool != pool || entry.generation < generation {
                return None;
            }
            entry.ready.pop().or_else(|| {
                let one = entry.instance.upgrade()?;
                entry.ready.extend((1..SPARES).map(|_| Arc::clone(&one)));
                Some(one)
            })
        })
        .ok()
        .flatten()?;
    erased.downcast().ok()
}

/// Takes back a reference [`get`] (or the cell) gave: kept ready if this
/// thread remembers that instance, else dropped.
pub(crate) fn give_back<T: Any + Send + Sync>(instance: Arc<T>) {
    let instance: Erased = instance;
    // What is not kept (the reference, or a surplus) is dropped after the
    // thread-local is released: the last reference's drop drops connections.
    let _dropped = LAST.try_with(|last| {
        let mut last = last.borrow_mut();
        match last.as_mut() {
            Some(entry) if std::ptr::addr_eq(entry.instance.as_ptr(), Arc::as_ptr(&instance)) => {
                let surplus = if entry.ready.len() >= MOST {
                    entry.ready.split_off(MOST / 2)
                } else {
                    Vec::new()
                };
                entry.ready.push(instance);
                (None, surplus)
            }
            _ => (Some(instance), Vec::new()),
        }
    });
}

/// Remembers that pool `pool`'s cell gave `instance` for `generation`.
pub(crate) fn remember<T: Any + Send + Sync>(pool: u64, generation: u64, instance: &Arc<T>) {
    let instance: Erased = Arc::<T>::clone(instance);
    let entry = Entry {
        pool,
        generation,
        instance: Arc::downgrade(&instance),
        ready: Vec::new(),
    };
    // The entry it replaces is dropped after the thread-local is released.
    let _replaced = LAST.try_with(|last| last.replace(Some(entry)));
}
