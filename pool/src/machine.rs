//! The pool's decisions, made by synchronous code (the sans-IO shape): who
//! builds and who waits for a build, what a finished, failed or cancelled
//! build does, who is handed which connection, who is woken, and what close
//! and a drop do. The async layer ([`crate::pool`], [`crate::waiting`],
//! [`crate::lent`]) only awaits — a build's connections, a wake-up, a
//! connection's close — and calls these.
//!
//! Like [`crate::init`] and [`crate::slots`], this file uses only
//! [`crate::sync`]'s types, so the `racegate-loom` crate compiles it as it
//! is against loom's, and drives it from model threads: a change here is a
//! change to what loom checks. Waking is abstracted twice: a queued caller's
//! `W` is [`Wake`] (a task's `Waker` in production, a model thread's parker
//! under loom), and the "the cell changed" broadcast is [`Signal`] (tokio's
//! `Notify`, or loom's model of it).

use crate::init::{Begin, InitCell, InitTicket, Published};
use crate::mailbox::Mailbox;
use crate::slots::{Lease, Queue, Release, Slots};
use crate::sync::Arc;

/// How a queued caller is woken.
pub trait Wake {
    /// Wakes the caller: it then looks in its mailbox.
    fn wake(self);
}

/// "The cell changed" (built, failed, closed): wakes every caller waiting
/// for a build. A caller registers its interest before it looks at the
/// cell, so a change between the look and the wait is not lost.
pub trait Signal {
    /// Wakes every caller that registered interest.
    fn notify_waiters(&self);
}

/// What an instance runs beside its connections: stopped when the instance
/// is shut, told when a connection goes back idle.
pub trait Sidecar {
    /// The instance is shut: stop.
    fn stop(&self);
    /// A connection went back idle (nobody was queued for it).
    fn idle_again(&self) {}
}

impl Sidecar for () {
    fn stop(&self) {}
}

/// One build of the pool: its connections, lent and queued for, and what
/// runs beside them.
pub struct Instance<C, W, X> {
    /// The connections and the callers queued for them.
    pub slots: Slots<C, W>,
    /// What runs beside them.
    pub sidecar: X,
}

impl<C, W: Wake, X: Sidecar> Instance<C, W, X> {
    /// An instance with room for `size` connections.
    pub fn new(size: usize, sidecar: X) -> Self {
        Self {
            slots: Slots::new(size),
            sidecar,
        }
    }

    /// Adds a connection opened for this build: it goes idle, or to a
    /// caller that queued meanwhile (woken). `Some` if it does not fit (the
    /// instance was shut meanwhile): the caller closes it.
    pub fn add(&self, conn: C) -> Option<C> {
        match self.slots.add(conn) {
            Ok(None) => None,
            Ok(Some(waiter)) => {
                waiter.wake();
                None
            }
            Err(rejected) => Some(rejected.0),
        }
    }

    /// Lends an idle connection, or queues `mailbox`; see
    /// [`Slots::acquire_or_queue`].
    pub fn lend_or_queue(&self, mailbox: &Arc<Mailbox<Lease<C>, W>>) -> Queue<C> {
        self.slots.acquire_or_queue(mailbox)
    }

    /// A lent connection comes back: to the first queued caller (woken),
    /// else idle. `Some` if the instance was shut meanwhile: the caller
    /// closes it.
    pub fn release(&self, lease: Lease<C>) -> Option<C> {
        let released = self.slots.release(lease);
        if let Release::Returned = released {
            self.sidecar.idle_again();
        }
        self.settle(released)
    }

    /// A queued caller gives up (its future was dropped): it leaves the
    /// queue, and a connection handed to it meanwhile is passed on. `Some`
    /// if that connection must be closed instead.
    pub fn cancel(&self, mailbox: &Arc<Mailbox<Lease<C>, W>>) -> Option<C> {
        let released = self.slots.cancel(mailbox);
        self.settle(released)
    }

    /// Wakes whom a release names; hands back what must be closed.
    fn settle(&self, released: Release<C, W>) -> Option<C> {
        match released {
            Release::Returned => None,
            Release::HandedOff(next) => {
                next.wake();
                None
            }
            Release::Closed(conn) => Some(conn),
        }
    }

    /// Times out every queued caller `due` says is due, and wakes it; see
    /// [`Slots::expire`].
    pub fn expire(&self, due: impl FnMut(&mut W) -> bool) {
        for waiter in self.slots.expire(due) {
            waiter.wake();
        }
    }

    /// Shuts the instance, once: its sidecar stops, every queued caller is
    /// woken (to find it closed), and its idle connections are returned for
    /// the caller to close; lent ones come back through
    /// [`release`](Self::release). Later calls return nothing.
    pub fn shut(&self) -> Vec<C> {
        // Closed first: a sidecar that wakes waiters of its own as it stops
        // (the `runtime-bound-pool` dispatch) must have them find the slots
        // closed, not empty and waiting again.
        let closing = self.slots.close();
        self.sidecar.stop();
        let Some(closing) = closing else {
            return Vec::new();
        };
        for waiter in closing.wake {
            waiter.wake();
        }
        closing.conns
    }
}

/// The pool's shared instance and its change signal.
pub type Cell<C, W, X> = InitCell<Instance<C, W, X>>;

/// What a caller that needs the instance does next ([`step`]).
pub enum Step<'a, C, W: Wake, X: Sidecar, S: Signal> {
    /// The instance is built: use it.
    Ready(Arc<Instance<C, W, X>>),
    /// This caller builds it: open the connections, then
    /// [`Build::complete`]. The instance it replaces is shut already; close
    /// `retired`, its idle connections.
    Build {
        /// The claim, released (and waiters woken) however the build ends.
        build: Build<'a, C, W, X, S>,
        /// The replaced instance's idle connections, to close.
        retired: Vec<C>,
    },
    /// Another caller is building it: wait for the signal (interest
    /// registered before this step), then step again.
    Wait,
    /// The pool is closed.
    Closed,
}

/// Decides what a caller that needs generation `generation` does. Call it
/// with interest in `changed` already registered.
pub fn step<'a, C, W: Wake, X: Sidecar, S: Signal>(
    cell: &'a Cell<C, W, X>,
    generation: u64,
    changed: &'a S,
) -> Step<'a, C, W, X, S> {
    match cell.begin(generation) {
        Begin::Ready(instance) => Step::Ready(instance),
        Begin::Wait => Step::Wait,
        Begin::Closed => Step::Closed,
        Begin::Init(mut ticket) => {
            // The instance this build replaces is shut now, once: its
            // waiters move on, its connections close.
            let retired = ticket
                .take_retired()
                .map(|old| old.shut())
                .unwrap_or_default();
            Step::Build {
                build: Build {
                    ticket: Some(ticket),
                    changed,
                },
                retired,
            }
        }
    }
}

/// A build in progress: holds the claim and, however the build ends, first
/// releases the claim (if it was not completed) and then wakes the callers
/// waiting for the cell. The order matters: woken first, a waiter would find
/// the claim still held, wait again, and never be woken when it is released
/// (loom: `loom_init.rs`).
pub struct Build<'a, C, W: Wake, X: Sidecar, S: Signal> {
    ticket: Option<InitTicket<'a, Instance<C, W, X>>>,
    changed: &'a S,
}

/// How [`Build::complete`] ended when the instance was not published.
pub struct Unpublished<C> {
    /// The built instance's idle connections, to close: the pool was closed
    /// while the build ran.
    pub conns: Vec<C>,
}

impl<C, W: Wake, X: Sidecar, S: Signal> Build<'_, C, W, X, S> {
    /// Publishes the built instance for every caller. If the pool was closed
    /// (and perhaps reopened and claimed by another build) while this build
    /// ran, the instance is shut instead and its connections are returned
    /// for the caller to close.
    pub fn complete(
        mut self,
        instance: Instance<C, W, X>,
    ) -> Result<Arc<Instance<C, W, X>>, Unpublished<C>> {
        let Some(ticket) = self.ticket.take() else {
            unreachable!("a build holds its claim until it completes")
        };
        let (instance, published) = ticket.complete(instance);
        match published {
            Published::Yes => Ok(instance),
            Published::No => Err(Unpublished {
                conns: instance.shut(),
            }),
        }
    }
}

impl<C, W: Wake, X: Sidecar, S: Signal> Drop for Build<'_, C, W, X, S> {
    fn drop(&mut self) {
        drop(self.ticket.take());
        self.changed.notify_waiters();
    }
}

/// Closes the pool: later steps find it closed, callers waiting for a build
/// are woken, and the current instance is shut; its idle connections are
/// returned for the caller to close.
pub fn close<C, W: Wake, X: Sidecar>(cell: &Cell<C, W, X>, changed: &impl Signal) -> Vec<C> {
    let current = cell.close();
    changed.notify_waiters();
    current.map(|instance| instance.shut()).unwrap_or_default()
}
