//! Each thread's most recently used pool instance, so that an acquire's
//! fast path finds the instance without the init cell's lock.
//!
//! Every acquire needs the current instance. Asking [`super::core::InitCell`]
//! takes its lock: two atomic read-modify-writes on one line that every
//! acquire on every runtime thread writes. The thread remembers instead what
//! the cell last gave it, weakly (a pool or instance dropped meanwhile is not
//! kept alive), keyed by the pool's number (unique in the process, unlike its
//! address) and by the generation asked for. A remembered instance serves an
//! acquire that asks for that generation or an older one; one that was closed
//! since says so when asked for a connection, and the acquire then asks the
//! cell, which replaces what this thread remembers. So the cache changes how
//! fast the instance is found, never which one: an instance the cell did not
//! give for the generation asked is never used.

use std::any::Any;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// What one thread remembers.
struct Entry {
    pool: u64,
    generation: u64,
    instance: Weak<dyn Any + Send + Sync>,
}

thread_local! {
    static LAST: RefCell<Option<Entry>> = const { RefCell::new(None) };
}

/// A number for a new pool, never given before in this process.
pub(super) fn pool_number() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The instance this thread last got from pool `pool` for `generation` or a
/// later one, if it is still alive. (Nothing while the thread's locals are
/// being destroyed.)
pub(super) fn get<T: Any + Send + Sync>(pool: u64, generation: u64) -> Option<Arc<T>> {
    LAST.try_with(|last| {
        let last = last.borrow();
        let entry = last.as_ref()?;
        if entry.pool != pool || entry.generation < generation {
            return None;
        }
        entry.instance.upgrade()?.downcast::<T>().ok()
    })
    .ok()
    .flatten()
}

/// Remembers that pool `pool`'s cell gave `instance` for `generation`.
pub(super) fn remember<T: Any + Send + Sync>(pool: u64, generation: u64, instance: &Arc<T>) {
    let instance: Weak<T> = Arc::downgrade(instance);
    let instance: Weak<dyn Any + Send + Sync> = instance;
    let entry = Entry {
        pool,
        generation,
        instance,
    };
    let _ = LAST.try_with(|last| last.replace(Some(entry)));
}
