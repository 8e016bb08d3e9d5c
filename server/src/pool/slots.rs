//! The pool's concurrency core, part two: bounded connection slots with a
//! first-come-first-served hand-off queue ([`Slots`], [`Mailbox`]).
//!
//! Like [`super::core`], this is free of async and of anything bound to a
//! runtime and uses only the types from [`crate::sync`], so the
//! `racegate-loom` crate compiles this same file against loom's types. Nothing
//! here waits: each method takes a lock, makes one decision and returns what
//! the caller must wake, and the async layer in [`super`] does the waiting.
//!
//! A caller that finds no idle connection queues a [`Mailbox`] holding its
//! `W` (a `Waker` with a deadline in production, a thread's number in the
//! models). A release takes the first mailbox out of the queue and delivers
//! the connection into it; the caller takes it from its own mailbox without
//! touching the slots' lock. The connection never goes back to idle while
//! someone waits, so nobody can take it from under the caller woken for it,
//! and no wake-up is wasted. A caller that gives up (timed out, cancelled)
//! while a connection is on its way passes it on.

use std::collections::VecDeque;

use crate::sync::{lock, Arc, Mutex};

/// A bounded set of connections: at most `capacity` exist, each one either
/// idle here or lent out; once closed, nothing is lent again.
pub struct Slots<C, W> {
    state: Mutex<SlotState<C, W>>,
    capacity: usize,
}

struct SlotState<C, W> {
    idle: Vec<C>,
    /// Lent out, including those on their way to a queued caller.
    lent: usize,
    closed: bool,
    /// Waiting callers, oldest first. Never non-empty while `idle` is not.
    queue: VecDeque<Arc<Mailbox<C, W>>>,
}

impl<C, W> SlotState<C, W> {
    /// Lends an idle connection, if there is one.
    fn lend_idle(&mut self) -> Option<C> {
        let conn = self.idle.pop()?;
        self.lent += 1;
        Some(conn)
    }
}

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

enum Letter<C> {
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
    fn fill(&self, letter: Letter<C>) -> Result<Option<W>, Letter<C>> {
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
    fn abandon(&self) -> Option<C> {
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

    /// Whether `due` says this still-waiting caller's time is up.
    fn is_due(&self, due: &impl Fn(&W) -> bool) -> bool {
        let mail = lock(&self.state);
        matches!(mail.letter, Letter::Waiting) && mail.waker.as_ref().is_some_and(due)
    }
}

/// The result of [`Slots::try_acquire`].
pub enum TryAcquire<C> {
    /// A connection, now lent to the caller.
    Acquired(C),
    /// All connections are lent out: wait for a release.
    Empty,
    /// The slots are closed.
    Closed,
}

/// The result of [`Slots::acquire_or_queue`].
pub enum Queue<C> {
    /// A connection, now lent to the caller.
    Acquired(C),
    /// The caller's mailbox is queued: it waits to be woken, then opens it.
    Queued,
    /// The slots are closed.
    Closed,
}

/// The result of [`Slots::release`] and [`Slots::cancel`].
pub enum Release<C, W> {
    /// Back among the idle connections (or, for a cancel, nothing to pass on).
    Returned,
    /// Delivered to a queued caller: the releaser wakes it with this.
    HandedOff(W),
    /// The slots were closed meanwhile: the caller closes the connection.
    Closed(C),
}

/// A snapshot of the slots, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotStats {
    /// Idle connections.
    pub idle: usize,
    /// Connections lent out.
    pub in_use: usize,
    /// The bound.
    pub capacity: usize,
    /// Whether the slots are closed.
    pub closed: bool,
    /// Callers queued for a connection.
    pub queued: usize,
}

/// What [`Slots::close`] hands back, once.
pub struct Closing<C, W> {
    /// The idle connections: the caller closes them.
    pub conns: Vec<C>,
    /// Every caller that was queued: the caller wakes them, and they find
    /// the slots closed.
    pub wake: Vec<W>,
}

/// Returned by [`Slots::add`] when the bound would be exceeded or the slots
/// are closed; carries the connection back.
#[derive(Debug)]
pub struct Rejected<C>(pub C);

impl<C, W> Slots<C, W> {
    /// Empty slots holding at most `capacity` connections.
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(SlotState {
                idle: Vec::with_capacity(capacity),
                lent: 0,
                closed: false,
                queue: VecDeque::new(),
            }),
            capacity,
        }
    }

    /// Adds a freshly opened connection as idle, unless that would exceed the
    /// bound or the slots are closed.
    pub fn add(&self, conn: C) -> Result<(), Rejected<C>> {
        let mut state = lock(&self.state);
        if state.closed || state.idle.len() + state.lent >= self.capacity {
            return Err(Rejected(conn));
        }
        state.idle.push(conn);
        Ok(())
    }

    /// Lends an idle connection, if there is one.
    pub fn try_acquire(&self) -> TryAcquire<C> {
        let mut state = lock(&self.state);
        if state.closed {
            return TryAcquire::Closed;
        }
        match state.lend_idle() {
            Some(conn) => TryAcquire::Acquired(conn),
            None => TryAcquire::Empty,
        }
    }

    /// Lends an idle connection, or queues `mailbox` (made before the lock is
    /// taken, to keep the critical section short; unused if a connection was
    /// idle).
    pub fn acquire_or_queue(&self, mailbox: &Arc<Mailbox<C, W>>) -> Queue<C> {
        let mut state = lock(&self.state);
        if state.closed {
            return Queue::Closed;
        }
        if let Some(conn) = state.lend_idle() {
            return Queue::Acquired(conn);
        }
        state.queue.push_back(Arc::clone(mailbox));
        Queue::Queued
    }

    /// Takes back a lent connection: into the first queued caller's mailbox
    /// if anyone waits, else among the idle ones.
    pub fn release(&self, mut conn: C) -> Release<C, W> {
        loop {
            let next = {
                let mut state = lock(&self.state);
                if state.closed {
                    state.lent = state.lent.saturating_sub(1);
                    return Release::Closed(conn);
                }
                match state.queue.pop_front() {
                    Some(mailbox) => mailbox,
                    None => {
                        state.lent = state.lent.saturating_sub(1);
                        state.idle.push(conn);
                        return Release::Returned;
                    }
                }
            };
            // Still lent: it moves from the releaser to the queued caller,
            // unless that caller gave up meanwhile; then try the next one.
            match next.fill(Letter::Delivered(conn)) {
                Ok(Some(waker)) => return Release::HandedOff(waker),
                Ok(None) => return Release::Returned,
                Err(Letter::Delivered(back)) => conn = back,
                Err(_) => unreachable!("fill returns the letter it was given"),
            }
        }
    }

    /// A queued caller gives up (its wait was cancelled). If a connection is
    /// in its mailbox, or on its way there, it is passed on as by
    /// [`release`](Self::release); the result says whom to wake.
    pub fn cancel(&self, mailbox: &Arc<Mailbox<C, W>>) -> Release<C, W> {
        {
            let mut state = lock(&self.state);
            if let Some(at) = state.queue.iter().position(|m| Arc::ptr_eq(m, mailbox)) {
                state.queue.remove(at);
                return Release::Returned;
            }
        }
        // Out of the queue: a release, an expiry or a close took it out. A
        // release still on its way finds the mailbox abandoned and passes the
        // connection on itself.
        match mailbox.abandon() {
            Some(conn) => self.release(conn),
            None => Release::Returned,
        }
    }

    /// Takes out of the queue every caller whose `W` is `due` (its deadline
    /// has passed) and returns their `W`s, for the caller to wake; each then
    /// finds [`Opened::TimedOut`]. A caller already handed a connection is
    /// not in the queue, so it keeps the connection: a wait either expires
    /// or is served, never both.
    pub fn expire(&self, due: impl Fn(&W) -> bool) -> Vec<W> {
        let mut state = lock(&self.state);
        if !state.queue.iter().any(|m| m.is_due(&due)) {
            return Vec::new();
        }
        let mut woken = Vec::new();
        let queue = std::mem::take(&mut state.queue);
        for mailbox in queue {
            if mailbox.is_due(&due) {
                if let Ok(Some(waker)) = mailbox.fill(Letter::TimedOut) {
                    woken.push(waker);
                }
            } else {
                state.queue.push_back(mailbox);
            }
        }
        woken
    }

    /// The least `key` over the queued callers (the next deadline), if any
    /// caller is queued.
    pub fn earliest<K: Ord>(&self, key: impl Fn(&W) -> K) -> Option<K> {
        let state = lock(&self.state);
        state
            .queue
            .iter()
            .filter_map(|m| lock(&m.state).waker.as_ref().map(&key))
            .min()
    }

    /// Closes the slots. The first call returns the idle connections for the
    /// caller to close, and the queued callers to wake; later calls return
    /// `None`. Lent connections come back through [`release`](Self::release)
    /// as [`Release::Closed`].
    pub fn close(&self) -> Option<Closing<C, W>> {
        let mut state = lock(&self.state);
        if state.closed {
            return None;
        }
        state.closed = true;
        let conns = std::mem::take(&mut state.idle);
        let wake = state
            .queue
            .drain(..)
            .filter_map(|m| m.fill(Letter::Closed).ok().flatten())
            .collect();
        Some(Closing { conns, wake })
    }

    /// A consistent snapshot.
    pub fn stats(&self) -> SlotStats {
        let state = lock(&self.state);
        SlotStats {
            idle: state.idle.len(),
            in_use: state.lent,
            capacity: self.capacity,
            closed: state.closed,
            queued: state.queue.len(),
        }
    }
}
