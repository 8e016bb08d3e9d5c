//! [`NotifyModel`]: tokio's `Notify` as the pool uses it, in loom terms.

struct NotifyState {
    /// Registered waiters.
    queue: Vec<usize>,
    /// Per thread: woken and not yet consumed.
    woken: Vec<bool>,
}

/// A model of `tokio::sync::Notify` exactly as the pool's async layer uses it
/// for `cell_changed` (`pool/src/pool.rs`): a waiter registers interest
/// *before* it looks at the cell (`notified()` + `enable()`), then waits only
/// if it must; a finished build or a close wakes **all** registered waiters
/// (`notify_waiters`, which keeps nothing for later ones). A waiter that
/// leaves without waiting (it found what it wanted) deregisters.
///
/// A wake-up the protocol can lose leaves a model thread blocked forever,
/// which loom reports as a deadlock.
pub struct NotifyModel {
    state: loom::sync::Mutex<NotifyState>,
    parkers: Vec<loom::sync::Notify>,
}

impl NotifyModel {
    /// For `threads` model threads, numbered from 0.
    pub fn new(threads: usize) -> Self {
        Self {
            state: loom::sync::Mutex::new(NotifyState {
                queue: Vec::new(),
                woken: vec![false; threads],
            }),
            parkers: (0..threads).map(|_| loom::sync::Notify::new()).collect(),
        }
    }

    fn state(&self) -> loom::sync::MutexGuard<'_, NotifyState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `notified()` + `enable()`: thread `me` registers interest.
    pub fn register(&self, me: usize) {
        self.state().queue.push(me);
    }

    /// Awaiting the registered future: blocks until thread `me` is woken.
    pub fn wait(&self, me: usize) {
        loop {
            {
                let mut s = self.state();
                if std::mem::take(&mut s.woken[me]) {
                    return;
                }
            }
            self.parkers[me].wait();
        }
    }

    /// Dropping the registered future without awaiting it.
    pub fn deregister(&self, me: usize) {
        let mut s = self.state();
        s.queue.retain(|&w| w != me);
        s.woken[me] = false;
    }

    /// `notify_waiters`: wakes every registered waiter; keeps nothing.
    fn notify_all(&self) {
        let mut s = self.state();
        for w in std::mem::take(&mut s.queue) {
            s.woken[w] = true;
            self.parkers[w].notify();
        }
    }
}

impl crate::machine::Signal for NotifyModel {
    fn notify_waiters(&self) {
        self.notify_all();
    }
}
