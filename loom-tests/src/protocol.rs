//! The pool's async layer (`server/src/pool/mod.rs`), transcribed into
//! blocking model code step for step: where production awaits a `Notified`,
//! the model waits on a [`NotifyModel`]; where production drops one, the
//! model deregisters. Where production's `Queued` future returns `Pending`
//! and is woken through the `Waker` in its mailbox, the model thread waits
//! on its own parker, and a `W` (the thread's number) names whom to wake.
//! The core calls (`InitCell`, `Slots`, `Mailbox`) are the production ones.
//! Keep this in step with `pool/mod.rs`: each function names the production
//! function it follows.

use crate::core::{Begin, InitCell, InitTicket, Published};
use crate::notify::NotifyModel;
use crate::slots::{Lease, Mailbox, Opened, Queue, Release, Slots, TryAcquire};
use loom::sync::Arc;

/// A model thread's `Waker`: its number.
pub type Wake = usize;

/// One build of the pool (`Instance`): its slots.
pub struct Instance<C> {
    /// The connections and the callers queued for them.
    pub slots: Slots<C, Wake>,
}

impl<C> Instance<C> {
    /// An instance holding `conns`.
    pub fn new(conns: Vec<C>) -> Self {
        let slots = Slots::new(conns.len().max(1));
        for c in conns {
            assert!(slots.add(c).is_ok());
        }
        Self { slots }
    }
}

/// Why getting a connection failed.
#[derive(Debug, PartialEq, Eq)]
pub enum Failed {
    /// The pool is closed (`PoolError::Closed`).
    Closed,
    /// This caller's build failed (`PoolError::Open`).
    Build,
    /// The caller's wait expired (`PoolError::Timeout`).
    TimedOut,
}

/// The pool: its cell, the notification of cell changes, and each model
/// thread's parker (what a `Waker` reaches).
pub struct Pool<C> {
    /// The production `InitCell`.
    pub cell: InitCell<Instance<C>>,
    /// `cell_changed`.
    pub changed: NotifyModel,
    /// Per thread: woken (a permit kept until it waits) like a task.
    parkers: Vec<loom::sync::Notify>,
}

/// `Building` in production: owns the claim while a build runs and, however
/// the build ends, releases the claim *before* waking the waiters, so a woken
/// waiter never finds the claim still held by a builder that is gone.
struct Building<'a, C> {
    ticket: Option<InitTicket<'a, Instance<C>>>,
    changed: &'a NotifyModel,
}

impl<C> Drop for Building<'_, C> {
    fn drop(&mut self) {
        drop(self.ticket.take());
        self.changed.notify_waiters();
    }
}

impl<C> Pool<C> {
    /// An unbuilt pool for `threads` model threads.
    pub fn new(threads: usize) -> Self {
        Self::with_guard(threads, crate::core::InitGuard::On)
    }

    /// The same, with the init guard as given (`Off` is the
    /// `unguarded-init` bug).
    pub fn with_guard(threads: usize, guard: crate::core::InitGuard) -> Self {
        Self {
            cell: InitCell::new(guard),
            changed: NotifyModel::new(threads),
            parkers: (0..threads).map(|_| loom::sync::Notify::new()).collect(),
        }
    }

    /// `Waker::wake` for the model thread `w`.
    pub fn wake(&self, w: Wake) {
        self.parkers[w].notify();
    }

    /// `ConnectionPool::instance`: the current instance for `generation`,
    /// built by this caller (`build`, which may fail with `None`) if it is
    /// first; a retired instance and one built for a pool closed meanwhile
    /// go to `close_instance`.
    pub fn instance(
        &self,
        me: usize,
        generation: u64,
        build: &mut dyn FnMut() -> Option<Vec<C>>,
        close: &dyn Fn(C),
    ) -> Result<Arc<Instance<C>>, Failed> {
        if let Some(instance) = self.cell.ready(generation) {
            return Ok(instance);
        }
        loop {
            self.changed.register(me);
            match self.cell.begin(generation) {
                Begin::Ready(instance) => {
                    self.changed.deregister(me);
                    return Ok(instance);
                }
                Begin::Closed => {
                    self.changed.deregister(me);
                    return Err(Failed::Closed);
                }
                Begin::Wait => self.changed.wait(me),
                Begin::Init(ticket) => {
                    let mut building = Building {
                        ticket: Some(ticket),
                        changed: &self.changed,
                    };
                    let retired = building.ticket.as_mut().and_then(|t| t.take_retired());
                    if let Some(old) = retired {
                        self.close_instance(&old, close);
                    }
                    let result = match build() {
                        None => Err(Failed::Build),
                        Some(conns) => {
                            let ticket = building.ticket.take().expect("claimed");
                            let (instance, published) = ticket.complete(Instance::new(conns));
                            if published == Published::No {
                                self.close_instance(&instance, close);
                                Err(Failed::Closed)
                            } else {
                                Ok(instance)
                            }
                        }
                    };
                    drop(building);
                    self.changed.deregister(me);
                    return result;
                }
            }
        }
    }

    /// `ConnectionPool::acquire`: the fast path, then `acquire_inner` with
    /// the `Queued` future, waiting to the end.
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
    /// queueing (its acquire future dropped: cancelled, or timed out by
    /// tokio while waiting for a build): `Queued`'s drop, racing whatever a
    /// release does meanwhile. Gives up with [`Failed::TimedOut`].
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
            let mailbox = Arc::new(Mailbox::new(me));
            match instance.slots.acquire_or_queue(&mailbox) {
                Queue::Acquired(conn) => return Ok((instance, conn)),
                // Retired or closed: ask the cell again.
                Queue::Closed => continue,
                Queue::Queued => {}
            }
            if give_up {
                // `Queued::drop`.
                match instance.slots.cancel(&mailbox) {
                    Release::Returned => {}
                    Release::HandedOff(next) => self.wake(next),
                    Release::Closed(conn) => close(conn),
                }
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

    /// `PooledConnection::drop`: give the connection back and wake the
    /// caller it was handed to — unless `wake` is false, the mutation the
    /// models must catch.
    pub fn release(&self, instance: &Instance<C>, conn: Lease<C>, wake: bool, close: &dyn Fn(C)) {
        match instance.slots.release(conn) {
            Release::Returned => {}
            Release::HandedOff(next) => {
                if wake {
                    self.wake(next);
                }
            }
            Release::Closed(conn) => close(conn),
        }
    }

    /// One round of `DeadlineThread::run` in which every queued caller is
    /// due: expire them and wake them.
    pub fn expire_all(&self, instance: &Instance<C>) {
        for w in instance.slots.expire(|_| true) {
            self.wake(w);
        }
    }

    /// `ConnectionPool::close`.
    pub fn close(&self, close: &dyn Fn(C)) {
        let current = self.cell.close();
        self.changed.notify_waiters();
        if let Some(instance) = current {
            self.close_instance(&instance, close);
        }
    }

    /// `ConnectionPool::close_instance`.
    pub fn close_instance(&self, instance: &Instance<C>, close: &dyn Fn(C)) {
        if let Some(closing) = instance.slots.close() {
            for w in closing.wake {
                self.wake(w);
            }
            for conn in closing.conns {
                close(conn);
            }
        }
    }

    /// `ConnectionPool::reopen`.
    pub fn reopen(&self) {
        self.cell.reopen();
    }
}
