//! Model threads driving the pool's production machine
//! (`pool/src/machine.rs`, compiled here with loom's types). Nothing here
//! decides: every step — who builds, who waits, who gets which connection,
//! who is woken, what a close, a give-up and a release do — is a call into
//! the production code. What is left is what production's async layer does
//! between those calls: waiting. Where production awaits a `Notified`, a
//! model thread waits on a [`NotifyModel`]; where a task returns `Pending`
//! and is woken through the `Waker` in its mailbox, a model thread waits on
//! its own parker, which its [`ThreadWaker`] wakes.

use loom::sync::Arc;

use crate::init::InitGuard;
use crate::machine::{self, Cell, Step, Wake};
use crate::mailbox::{Mailbox, Opened};
use crate::notify::NotifyModel;
use crate::slots::{Lease, Queue, TryAcquire};

/// One build of the model pool: production's instance, with model threads
/// as its queued callers and nothing beside it.
pub type Instance<C> = machine::Instance<C, ThreadWaker, ()>;

/// A model thread's `Waker`: it unparks that thread (unless deaf: the
/// mutation of a wake that reaches nobody).
#[derive(Clone)]
pub struct ThreadWaker {
    parker: Arc<loom::sync::Notify>,
    deaf: bool,
}

impl Wake for ThreadWaker {
    fn wake(self) {
        if !self.deaf {
            self.parker.notify();
        }
    }
}

/// Why getting a connection failed.
#[derive(Debug, PartialEq, Eq)]
pub enum Failed {
    /// The pool is closed (`PoolError::Closed`).
    Closed,
    /// This caller's build failed (`PoolError::Open`).
    Build,
    /// The caller's wait expired, or it gave up (`PoolError::Timeout`).
    TimedOut,
}

/// The model pool: production's cell, the cell-changed signal, and each
/// model thread's parker.
pub struct Pool<C> {
    /// The production cell.
    pub cell: Cell<C, ThreadWaker, ()>,
    /// `cell_changed`.
    pub changed: NotifyModel,
    parkers: Vec<Arc<loom::sync::Notify>>,
    deaf: bool,
}

impl<C> Pool<C> {
    /// An unbuilt pool for `threads` model threads.
    pub fn new(threads: usize) -> Self {
        Self::with_guard(threads, InitGuard::On)
    }

    /// The same, with the init guard as given (`Off` is the
    /// `unguarded-init` bug).
    pub fn with_guard(threads: usize, guard: InitGuard) -> Self {
        Self {
            cell: Cell::new(guard),
            changed: NotifyModel::new(threads),
            parkers: (0..threads)
                .map(|_| Arc::new(loom::sync::Notify::new()))
                .collect(),
            deaf: false,
        }
    }

    /// The mutation: every wake a queued caller is owed reaches nobody.
    pub fn with_deaf_wakers(threads: usize) -> Self {
        Self {
            deaf: true,
            ..Self::new(threads)
        }
    }

    fn waker(&self, me: usize) -> ThreadWaker {
        ThreadWaker {
            parker: Arc::clone(&self.parkers[me]),
            deaf: self.deaf,
        }
    }

    /// `Pool::instance`: the instance for `generation`, built by this caller
    /// (`build`, which may fail with `None`) if the machine says so; what
    /// the machine hands back to close goes to `close`.
    pub fn instance(
        &self,
        me: usize,
        generation: u64,
        build: &mut dyn FnMut() -> Option<Vec<C>>,
        close: &dyn Fn(C),
    ) -> Result<Arc<Instance<C>>, Failed> {
        loop {
            // Interest first, then the look (production: `enable()`).
            self.changed.register(me);
            let result = match machine::step(&self.cell, generation, &self.changed) {
                Step::Ready(instance) => Ok(instance),
                Step::Closed => Err(Failed::Closed),
                Step::Wait => {
                    self.changed.wait(me);
                    continue;
                }
                Step::Build {
                    build: claim,
                    retired,
                } => {
                    retired.into_iter().for_each(close);
                    match build() {
                        None => {
                            drop(claim);
                            Err(Failed::Build)
                        }
                        Some(conns) => {
                            let instance = Instance::new(conns.len().max(1), ());
                            conns
                                .into_iter()
                                .filter_map(|c| instance.add(c))
                                .for_each(close);
                            claim.complete(instance).map_err(|unpublished| {
                                unpublished.conns.into_iter().for_each(close);
                                Failed::Closed
                            })
                        }
                    }
                }
            };
            self.changed.deregister(me);
            return result;
        }
    }

    /// `Pool::acquire`, waiting to the end.
    pub fn acquire(
        &self,
        me: usize,
        generation: u64,
        build: &mut dyn FnMut() -> Option<Vec<C>>,
        close: &dyn Fn(C),
    ) -> Result<(Arc<Instance<C>>, Lease<C>), Failed> {
        self.acquire_or_give_up(me, generation, build, close, false)
    }

    /// The same, but a caller that has to queue gives up right after
    /// queueing (its acquire future dropped: `Queued`'s drop), racing
    /// whatever a release does meanwhile. Gives up with
    /// [`Failed::TimedOut`].
    pub fn acquire_or_give_up(
        &self,
        me: usize,
        generation: u64,
        build: &mut dyn FnMut() -> Option<Vec<C>>,
        close: &dyn Fn(C),
        give_up: bool,
    ) -> Result<(Arc<Instance<C>>, Lease<C>), Failed> {
        let mut ready = self.cell.ready(generation);
        if let Some(instance) = &ready {
            if let TryAcquire::Acquired(conn) = instance.slots.try_acquire() {
                return Ok((Arc::clone(instance), conn));
            }
        }
        loop {
            let instance = match ready.take() {
                Some(instance) => instance,
                None => self.instance(me, generation, build, close)?,
            };
            // `Queued::poll`, first poll.
            let mailbox = Arc::new(Mailbox::new(self.waker(me)));
            match instance.lend_or_queue(&mailbox) {
                Queue::Acquired(conn) => return Ok((instance, conn)),
                // Shut: ask the cell again.
                Queue::Closed => continue,
                Queue::Queued => {}
            }
            if give_up {
                // `Queued::drop`.
                instance.cancel(&mailbox).into_iter().for_each(close);
                return Err(Failed::TimedOut);
            }
            // `Pending` until woken, then `Queued::poll` again.
            loop {
                self.parkers[me].wait();
                match mailbox.open(|_| {}) {
                    Opened::Waiting => continue,
                    Opened::Acquired(conn) => return Ok((instance, conn)),
                    Opened::TimedOut => return Err(Failed::TimedOut),
                    Opened::Closed => break,
                }
            }
        }
    }

    /// `Pooled`'s drop.
    pub fn release(&self, instance: &Instance<C>, conn: Lease<C>, close: &dyn Fn(C)) {
        instance.release(conn).into_iter().for_each(close);
    }

    /// One look of the deadline thread at which every queued caller is due.
    pub fn expire_all(&self, instance: &Instance<C>) {
        instance.expire(|_| true);
    }

    /// `Pool::close`.
    pub fn close(&self, close: &dyn Fn(C)) {
        machine::close(&self.cell, &self.changed)
            .into_iter()
            .for_each(close);
    }

    /// `Pool::reopen`.
    pub fn reopen(&self) {
        self.cell.reopen();
    }
}
