//! The pool's async layer (`server/src/pool/mod.rs`), transcribed into
//! blocking model code step for step: where production awaits a `Notified`,
//! the model waits on a [`NotifyModel`]; where production drops one, the
//! model deregisters. The core calls (`InitCell`, `Slots`) are the
//! production ones. Keep this in step with `pool/mod.rs`: each function
//! names the production function it follows.

use crate::core::{Begin, InitCell, InitTicket, Published, Release, Slots, TryAcquire};
use crate::notify::NotifyModel;
use loom::sync::Arc;

/// One build of the pool (`Instance`): its slots and its release
/// notification.
pub struct Instance<C> {
    /// The connections.
    pub slots: Slots<C>,
    /// Notified once per release, for all on close.
    pub released: NotifyModel,
}

impl<C> Instance<C> {
    /// An instance holding `conns`, for `threads` model threads.
    pub fn new(conns: Vec<C>, threads: usize) -> Self {
        let slots = Slots::new(conns.len().max(1));
        for c in conns {
            assert!(slots.add(c).is_ok());
        }
        Self {
            slots,
            released: NotifyModel::new(threads),
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
}

/// The pool: its cell and the notification of cell changes.
pub struct Pool<C> {
    /// The production `InitCell`.
    pub cell: InitCell<Instance<C>>,
    /// `cell_changed`.
    pub changed: NotifyModel,
    threads: usize,
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
            threads,
        }
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
                            let (instance, published) =
                                ticket.complete(Instance::new(conns, self.threads));
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

    /// `ConnectionPool::acquire` (fast path, then `acquire_unbounded`).
    pub fn acquire(
        &self,
        me: usize,
        generation: u64,
        build: &mut dyn FnMut() -> Option<Vec<C>>,
        close: &dyn Fn(C),
    ) -> Result<(Arc<Instance<C>>, C), Failed> {
        if let Some(instance) = self.cell.ready(generation) {
            if let TryAcquire::Acquired(conn) = instance.slots.try_acquire() {
                return Ok((instance, conn));
            }
        }
        loop {
            let instance = self.instance(me, generation, build, close)?;
            loop {
                instance.released.register(me);
                match instance.slots.try_acquire() {
                    TryAcquire::Acquired(conn) => {
                        instance.released.deregister(me);
                        return Ok((instance, conn));
                    }
                    TryAcquire::Closed => {
                        instance.released.deregister(me);
                        break;
                    }
                    TryAcquire::Empty => instance.released.wait(me),
                }
            }
        }
    }

    /// `PooledConnection::drop`: give the connection back and wake one
    /// waiter — unless `wake` is false, the mutation the models must catch.
    pub fn release(&self, instance: &Instance<C>, conn: C, wake: bool, close: &dyn Fn(C)) {
        match instance.slots.release(conn) {
            Release::Returned => {
                if wake {
                    instance.released.notify_one();
                }
            }
            Release::Closed(conn) => close(conn),
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
        if let Some(idle) = instance.slots.close() {
            instance.released.notify_waiters();
            for conn in idle {
                close(conn);
            }
        }
    }

    /// `ConnectionPool::reopen`.
    pub fn reopen(&self) {
        self.cell.reopen();
    }
}
