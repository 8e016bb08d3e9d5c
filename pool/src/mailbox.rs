//! Where one queued caller of [`super::slots::Slots`] receives its
//! connection (a `C`: the slots deliver a lease), or learns that its wait
//! expired or the slots closed. Part of the loom-checked core, like the
//! slots: only [`crate::sync`]'s types.

use crate::sync::{lock, Mutex};

/// Where one queued caller receives its connection, or learns that its
/// wait expired or the slots closed.
pub struct Mailbox<C, W> {
    state: Mutex<Mail<C, W>>,
}

struct Mail<C, W> {
    letter: Letter<C>,
    /// Taken by whoever fills the letter, to wake the caller.
    waker: Option<W>,
}

pub(super) enum Letter<C> {
    /// Queued, nothing yet.
    Waiting,
    /// A release handed this connection over.
    Delivered(C),
    /// The caller took its connection.
    Taken,
    /// [`Slots::expire`] took the caller out of the queue.
    TimedOut,
    /// [`Slots::close`] took the caller out of the queue.
    Closed,
    /// The caller gave up; a connection delivered now is passed on.
    Abandoned,
}

/// What a queued caller finds in its [`Mailbox`].
pub enum Opened<C> {
    /// Its connection, now lent to it.
    Acquired(C),
    /// Nothing yet: still queued, or a connection is on its way.
    Waiting,
    /// Its wait expired; it is out of the queue.
    TimedOut,
    /// The slots closed; it is out of the queue.
    Closed,
}

impl<C, W> Mailbox<C, W> {
    /// An empty mailbox that wakes `waker` when filled.
    pub fn new(waker: W) -> Self {
        Self {
            state: Mutex::new(Mail {
                letter: Letter::Waiting,
                waker: Some(waker),
            }),
        }
    }

    /// Empties a mailbox nobody else holds, for another caller: waiting
    /// again, waking `waker`. A connection still in it would be dropped
    /// without going back to the slots, so it must hold none: a delivered
    /// one is taken by [`open`](Self::open) or passed on after
    /// `abandon`.
    pub fn reset(&mut self, waker: Option<W>) {
        let mail = match self.state.get_mut() {
            Ok(mail) => mail,
            Err(poisoned) => poisoned.into_inner(),
        };
        debug_assert!(
            !matches!(mail.letter, Letter::Delivered(_)),
            "a mailbox is reset with a connection in it"
        );
        mail.letter = Letter::Waiting;
        mail.waker = waker;
    }

    /// What the caller finds. While nothing is there, `rewake` may replace
    /// its `W` (a task polled with another waker).
    pub fn open(&self, rewake: impl FnOnce(&mut W)) -> Opened<C> {
        let mut mail = lock(&self.state);
        match std::mem::replace(&mut mail.letter, Letter::Taken) {
            Letter::Delivered(conn) => Opened::Acquired(conn),
            Letter::TimedOut => {
                mail.letter = Letter::TimedOut;
                Opened::TimedOut
            }
            Letter::Closed => {
                mail.letter = Letter::Closed;
                Opened::Closed
            }
            other => {
                mail.letter = other;
                if let Some(waker) = mail.waker.as_mut() {
                    rewake(waker);
                }
                Opened::Waiting
            }
        }
    }

    /// Fills a waiting mailbox with `letter`; returns the `W` to wake, or
    /// the letter back if the caller gave up.
    pub(super) fn fill(&self, letter: Letter<C>) -> Result<Option<W>, Letter<C>> {
        let mut mail = lock(&self.state);
        match mail.letter {
            Letter::Waiting => {
                mail.letter = letter;
                Ok(mail.waker.take())
            }
            _ => Err(letter),
        }
    }

    /// The caller gives up. Returns a connection that was delivered and not
    /// taken, for the caller to pass on.
    pub(super) fn abandon(&self) -> Option<C> {
        let mut mail = lock(&self.state);
        match std::mem::replace(&mut mail.letter, Letter::Abandoned) {
            Letter::Delivered(conn) => Some(conn),
            Letter::Waiting => None,
            other => {
                // Taken, timed out or closed: nothing is on its way.
                mail.letter = other;
                None
            }
        }
    }

    /// `key` of the caller's `W`, while it has one.
    pub(super) fn key<K>(&self, key: impl Fn(&W) -> K) -> Option<K> {
        lock(&self.state).waker.as_ref().map(key)
    }

    /// Whether `due` says this still-waiting caller's time is up (it may
    /// change the caller's `W`: give it a deadline).
    pub(super) fn is_due(&self, due: &mut impl FnMut(&mut W) -> bool) -> bool {
        let mut mail = lock(&self.state);
        matches!(mail.letter, Letter::Waiting) && mail.waker.as_mut().is_some_and(due)
    }
}
