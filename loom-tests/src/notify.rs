//! [`NotifyModel`]: tokio's `Notify` as the pool uses it, in loom terms.

/// How a waiter was woken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Woken {
    /// By `notify_one`: if the waiter leaves without using it, it is passed on.
    One,
    /// By `notify_waiters`.
    All,
}

struct NotifyState {
    /// A `notify_one` that found nobody waiting, kept for the next waiter.
    permit: bool,
    /// Registered waiters, first come first woken.
    queue: std::collections::VecDeque<usize>,
    /// Per thread: woken and not yet consumed.
    woken: Vec<Option<Woken>>,
}

/// A model of `tokio::sync::Notify` exactly as the pool's async layer uses it
/// (`server/src/pool/mod.rs`): a waiter registers interest *before* it looks
/// at the state (`notified()` + `enable()`), then waits only if it must;
/// a release wakes **one** waiter (`notify_one`, which keeps one permit when
/// nobody waits), a close or a finished build wakes **all** registered
/// waiters (`notify_waiters`, which keeps nothing). A waiter that leaves
/// without waiting (it found what it wanted) deregisters, and passes on a
/// `notify_one` it had received, as tokio's `Notified` does on drop.
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
                permit: false,
                queue: std::collections::VecDeque::new(),
                woken: vec![None; threads],
            }),
            parkers: (0..threads).map(|_| loom::sync::Notify::new()).collect(),
        }
    }

    fn state(&self) -> loom::sync::MutexGuard<'_, NotifyState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `notified()` + `enable()`: thread `me` registers interest; a kept
    /// permit is consumed at once.
    pub fn register(&self, me: usize) {
        let mut s = self.state();
        if s.permit {
            s.permit = false;
            s.woken[me] = Some(Woken::One);
        } else {
            s.queue.push_back(me);
        }
    }

    /// Awaiting the registered future: blocks until thread `me` is woken.
    pub fn wait(&self, me: usize) {
        loop {
            {
                let mut s = self.state();
                if s.woken[me].take().is_some() {
                    return;
                }
            }
            self.parkers[me].wait();
        }
    }

    /// Dropping the registered future without awaiting it.
    pub fn deregister(&self, me: usize) {
        let mut s = self.state();
        if let Some(at) = s.queue.iter().position(|&w| w == me) {
            s.queue.remove(at);
        } else if s.woken[me].take() == Some(Woken::One) {
            self.notify_one_locked(&mut s);
        }
    }

    /// `notify_one`: wakes the first waiter, or keeps one permit.
    pub fn notify_one(&self) {
        let mut s = self.state();
        self.notify_one_locked(&mut s);
    }

    fn notify_one_locked(&self, s: &mut NotifyState) {
        match s.queue.pop_front() {
            Some(w) => {
                s.woken[w] = Some(Woken::One);
                self.parkers[w].notify();
            }
            None => s.permit = true,
        }
    }

    /// `notify_waiters`: wakes every registered waiter; keeps nothing.
    pub fn notify_waiters(&self) {
        let mut s = self.state();
        while let Some(w) = s.queue.pop_front() {
            s.woken[w] = Some(Woken::All);
            self.parkers[w].notify();
        }
    }
}
