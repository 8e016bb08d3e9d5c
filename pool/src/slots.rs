//! The pool's concurrency core, part two: bounded connection slots with a
//! first-come-first-served hand-off queue ([`Slots`], [`Mailbox`]).
//!
//! Like [`crate::init`], this is free of async and of anything bound to a
//! runtime and uses only the types from [`crate::sync`], so the
//! `racegate-loom` crate compiles this same file against loom's types. Nothing
//! here waits: each method makes one decision and returns what the caller
//! must wake; [`crate::machine`] wakes them, and the async layer does the
//! waiting.
//!
//! **Idle connections** sit on a lock-free stack: each in a cell of its own,
//! linked from one atomic word ([`Head`]: the top cell, a `WAITERS` mark, a
//! `CLOSED` mark, and a tag every change bumps, so a stale compare-and-swap
//! fails: no ABA). Taking an idle connection, or giving one back that
//! nobody waits for, is one compare-and-swap on that word plus a move out of
//! or into the cell, which takes no lock: only the cell's owner, whom the
//! head word decides, reaches in (`Cell::swap` in [`crate::head`], where
//! the crate's `unsafe` for this lives).
//!
//! **Waiting callers** queue a [`Mailbox`] (holding their `W`: a `Waker` and
//! deadline in production, a model thread's parker in the models) under a lock,
//! and set `WAITERS` in the same compare-and-swap that finds the stack empty.
//! Nothing is pushed while the mark is set: a release that sees it delivers
//! its connection into the first mailbox instead. So a connection never goes
//! idle while someone waits, nobody can take it from under the caller woken
//! for it, and no wake-up is wasted. A caller that gives up while a
//! connection is on its way passes it on.

use std::collections::VecDeque;

use crate::head::{cell_of, Cell, Head, Line, CLOSED, NIL, WAITERS};
pub use crate::lease::{Closing, Lease, Queue, Rejected, Release, SlotStats, TryAcquire};
use crate::mailbox::Letter;
pub use crate::mailbox::{Mailbox, Opened};
use crate::sync::{lock, Arc, AtomicU64, Mutex, Ordering, UnsafeCell};

/// A bounded set of connections: at most `capacity` exist, each one either
/// idle here or lent out; once closed, nothing is lent again.
pub struct Slots<C, W> {
    /// The idle stack's head: top cell, `WAITERS`, `CLOSED`, tag.
    head: Line<AtomicU64>,
    /// One per connection, each on cache lines of its own.
    cells: Box<[Line<Cell<C>>]>,
    /// The queue and what only changes under it.
    state: Mutex<SlotState<C, W>>,
}

struct SlotState<C, W> {
    /// Cells given a connection so far.
    added: usize,
    /// After the close: connections still lent out.
    lent_at_close: usize,
    /// Waiting callers, oldest first. Non-empty exactly while the head
    /// carries `WAITERS` (both change only under this lock).
    queue: VecDeque<Arc<Mailbox<Lease<C>, W>>>,
}
impl<C, W> Slots<C, W> {
    /// Empty slots holding at most `capacity` connections.
    pub fn new(capacity: usize) -> Self {
        assert!(
            u64::try_from(capacity).is_ok_and(|c| c < NIL),
            "at most {NIL} connections"
        );
        Self {
            head: Line(AtomicU64::new(NIL)),
            cells: (0..capacity)
                .map(|_| {
                    Line(Cell {
                        below: AtomicU64::new(NIL),
                        conn: UnsafeCell::new(None),
                    })
                })
                .collect(),
            state: Mutex::new(SlotState {
                added: 0,
                lent_at_close: 0,
                queue: VecDeque::new(),
            }),
        }
    }

    fn head(&self) -> Head {
        Head(self.head.0.load(Ordering::Acquire))
    }

    /// Replaces `head` with `next` if it is still current; else the current
    /// head.
    fn swap_head(&self, head: Head, next: Head) -> Result<(), Head> {
        self.head
            .0
            .compare_exchange(head.0, next.0, Ordering::AcqRel, Ordering::Acquire)
            .map(drop)
            .map_err(Head)
    }

    /// Adds a freshly opened connection, unless that would exceed the bound
    /// or the slots are closed. It goes idle, or to a queued caller, whose
    /// `W` is returned for the caller to wake.
    pub fn add(&self, conn: C) -> Result<Option<W>, Rejected<C>> {
        let cell = {
            let mut state = lock(&self.state);
            if self.head().closed() || state.added >= self.cells.len() {
                return Err(Rejected(conn));
            }
            state.added += 1;
            state.added - 1
        };
        match self.release(Lease { cell, conn }) {
            Release::Returned => Ok(None),
            Release::HandedOff(waiter) => Ok(Some(waiter)),
            Release::Closed(conn) => Err(Rejected(conn)),
        }
    }

    /// Takes the top idle connection off the stack if `head` is still
    /// current; else the current head.
    fn pop(&self, head: Head, top: usize) -> Result<Lease<C>, Head> {
        let below = self.cells[top].0.below.load(Ordering::Acquire);
        self.swap_head(head, head.then(below, head.flags()))?;
        // SAFETY: the swap just took `top` off the stack: this thread owns it.
        #[allow(unsafe_code)]
        match unsafe { self.cells[top].0.swap(None) } {
            Some(conn) => Ok(Lease { cell: top, conn }),
            None => unreachable!("a cell on the idle stack holds its connection"),
        }
    }

    /// Lends an idle connection, if there is one. Never takes one while
    /// callers are queued (there is none then).
    pub fn try_acquire(&self) -> TryAcquire<C> {
        let mut head = self.head();
        loop {
            if head.closed() {
                return TryAcquire::Closed;
            }
            let Some(top) = head.top() else {
                return TryAcquire::Empty;
            };
            match self.pop(head, top) {
                Ok(lease) => return TryAcquire::Acquired(lease),
                Err(now) => head = now,
            }
        }
    }

    /// Lends an idle connection, or queues `mailbox` (made before the lock is
    /// taken, to keep the critical section short; unused if a connection was
    /// idle).
    pub fn acquire_or_queue(&self, mailbox: &Arc<Mailbox<Lease<C>, W>>) -> Queue<C> {
        let mut state = lock(&self.state);
        let mut head = self.head();
        loop {
            if head.closed() {
                return Queue::Closed;
            }
            let attempt = match head.top() {
                Some(top) => self.pop(head, top).map(Some),
                // Already marked, and it stays so while this lock is held:
                // nothing to write (releases keep reading the head word
                // without a miss).
                None if head.waiters() => Ok(None),
                // Empty: mark that callers wait in the same step that finds
                // it empty, so no release can push past this caller.
                None => self.swap_head(head, head.then(NIL, WAITERS)).map(|()| None),
            };
            match attempt {
                Ok(Some(lease)) => return Queue::Acquired(lease),
                Ok(None) => {
                    state.queue.push_back(Arc::clone(mailbox));
                    return Queue::Queued;
                }
                Err(now) => head = now,
            }
        }
    }

    /// Takes back a lent connection: into the first queued caller's mailbox
    /// if anyone waits, else onto the idle stack.
    pub fn release(&self, mut lease: Lease<C>) -> Release<C, W> {
        loop {
            let head = self.head();
            let attempt = if head.closed() {
                return self.returned_after_close(lease.conn);
            } else if head.waiters() {
                self.hand_off(lease)
            } else {
                self.push(lease, head).map(|()| Release::Returned)
            };
            match attempt {
                Ok(done) => return done,
                // Callers queued, the queue emptied, or the slots closed
                // meanwhile: look again.
                Err(back) => lease = back,
            }
        }
    }

    /// Puts the connection on the idle stack, unless callers wait or the
    /// slots closed; then it comes back.
    fn push(&self, lease: Lease<C>, mut head: Head) -> Result<(), Lease<C>> {
        let Lease { cell, conn } = lease;
        #[allow(unsafe_code)]
        // SAFETY: the lease holder owns its cell until the compare-and-swap
        // below puts the cell on the stack, and none has yet.
        let was = unsafe { self.cells[cell].0.swap(Some(conn)) };
        debug_assert!(was.is_none(), "a lent cell is empty");
        loop {
            if head.waiters() || head.closed() {
                #[allow(unsafe_code)]
                // SAFETY: every compare-and-swap that would have published
                // the cell failed or was not tried: the lease holder still
                // owns it.
                return match unsafe { self.cells[cell].0.swap(None) } {
                    Some(conn) => Err(Lease { cell, conn }),
                    None => unreachable!("a cell off the stack is its owner's alone"),
                };
            }
            self.cells[cell]
                .0
                .below
                .store(head.0 & NIL, Ordering::Release);
            let cell_link = u64::try_from(cell).unwrap_or(NIL);
            match self.swap_head(head, head.then(cell_link, head.flags())) {
                Ok(()) => return Ok(()),
                Err(now) => head = now,
            }
        }
    }

    /// Delivers the connection to the first queued caller. Gives it back if
    /// nobody is queued any more (the queue emptied, or a close drained it)
    /// or that caller gave up meanwhile.
    fn hand_off(&self, lease: Lease<C>) -> Result<Release<C, W>, Lease<C>> {
        let next = {
            let mut state = lock(&self.state);
            let next = state.queue.pop_front();
            self.mark_waiters(&state);
            next
        };
        let Some(next) = next else { return Err(lease) };
        // Still lent: it moves from the releaser to the queued caller.
        match next.fill(Letter::Delivered(lease)) {
            Ok(Some(waker)) => Ok(Release::HandedOff(waker)),
            Ok(None) => Ok(Release::Returned),
            Err(Letter::Delivered(back)) => Err(back),
            Err(_) => unreachable!("fill returns the letter it was given"),
        }
    }

    /// Makes the head's `WAITERS` mark say whether `state`'s queue is
    /// non-empty. Called under the state lock after the queue changed.
    fn mark_waiters(&self, state: &SlotState<C, W>) {
        let wanted = !state.queue.is_empty();
        let mut head = self.head();
        while head.waiters() != wanted && !head.closed() {
            // The stack is empty while the mark is set, and nothing is
            // pushed before it is cleared.
            let flags = if wanted { WAITERS } else { 0 };
            match self.swap_head(head, head.then(head.0 & NIL, flags)) {
                Ok(()) => return,
                Err(now) => head = now,
            }
        }
    }

    /// A lent connection came back after the close: the caller closes it.
    fn returned_after_close(&self, conn: C) -> Release<C, W> {
        let mut state = lock(&self.state);
        state.lent_at_close = state.lent_at_close.saturating_sub(1);
        Release::Closed(conn)
    }

    /// A queued caller gives up (its wait was cancelled). If a connection is
    /// in its mailbox, or on its way there, it is passed on as by
    /// [`release`](Self::release); the result says whom to wake.
    pub fn cancel(&self, mailbox: &Arc<Mailbox<Lease<C>, W>>) -> Release<C, W> {
        {
            let mut state = lock(&self.state);
            if let Some(at) = state.queue.iter().position(|m| Arc::ptr_eq(m, mailbox)) {
                state.queue.remove(at);
                self.mark_waiters(&state);
                return Release::Returned;
            }
        }
        // Out of the queue: a release, an expiry or a close took it out. A
        // release still on its way finds the mailbox abandoned and passes the
        // connection on itself.
        match mailbox.abandon() {
            Some(lease) => self.release(lease),
            None => Release::Returned,
        }
    }

    /// Takes out of the queue every caller whose `W` is `due` (its deadline
    /// has passed) and returns their `W`s, for the caller to wake; each then
    /// finds [`Opened::TimedOut`]. A caller already handed a connection is
    /// not in the queue, so it keeps the connection: a wait either expires
    /// or is served, never both.
    ///
    /// `due` sees every queued caller once, and may change its `W` (the
    /// deadline thread gives a caller it sees first its deadline).
    pub fn expire(&self, mut due: impl FnMut(&mut W) -> bool) -> Vec<W> {
        let mut state = lock(&self.state);
        let queued = state.queue.len();
        let mut woken = Vec::new();
        state.queue.retain(|mailbox| {
            if !mailbox.is_due(&mut due) {
                return true;
            }
            if let Ok(Some(waker)) = mailbox.fill(Letter::TimedOut) {
                woken.push(waker);
            }
            false
        });
        if state.queue.len() != queued {
            self.mark_waiters(&state);
        }
        woken
    }

    /// The least `key` over the queued callers (the next deadline), if any
    /// caller is queued.
    pub fn earliest<K: Ord>(&self, key: impl Fn(&W) -> K) -> Option<K> {
        let state = lock(&self.state);
        state.queue.iter().filter_map(|m| m.key(&key)).min()
    }

    /// Closes the slots. The first call returns the idle connections for the
    /// caller to close, and the queued callers to wake; later calls return
    /// `None`. Lent connections come back through [`release`](Self::release)
    /// as [`Release::Closed`].
    pub fn close(&self) -> Option<Closing<C, W>> {
        let mut state = lock(&self.state);
        // From here on every compare-and-swap on the head fails and nothing
        // pushes, pops or marks again: the stack below is the close's alone.
        let was = Head(self.head.0.swap(CLOSED | NIL, Ordering::AcqRel));
        if was.closed() {
            return None;
        }
        let conns: Vec<C> = self
            .stack(was, self.cells.len())
            .filter_map(|cell| {
                #[allow(unsafe_code)]
                // SAFETY: the swap above took these cells off the stack for
                // good: the close owns them.
                unsafe {
                    self.cells[cell].0.swap(None)
                }
            })
            .collect();
        state.lent_at_close = state.added.saturating_sub(conns.len());
        let wake = state
            .queue
            .drain(..)
            .filter_map(|m| m.fill(Letter::Closed).ok().flatten())
            .collect();
        Some(Closing { conns, wake })
    }

    /// The cells on the stack from `head` down, at most `limit` of them (so a
    /// stack changing under the walk cannot make it loop).
    fn stack(&self, head: Head, limit: usize) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(head.top(), |&cell| {
            cell_of(self.cells[cell].0.below.load(Ordering::Acquire))
        })
        .take(limit)
    }

    /// A snapshot: exact while no acquire or release is under way, within
    /// the in-flight ones otherwise (`idle + in_use` never exceeds the bound).
    pub fn stats(&self) -> SlotStats {
        let state = lock(&self.state);
        let head = self.head();
        let (idle, in_use) = if head.closed() {
            (0, state.lent_at_close)
        } else {
            let idle = self.stack(head, state.added).count();
            (idle, state.added - idle)
        };
        SlotStats {
            idle,
            in_use,
            capacity: self.cells.len(),
            closed: head.closed(),
            queued: state.queue.len(),
        }
    }
}
