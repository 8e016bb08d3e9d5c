//! The production instance: a [`machine::Instance`] of counted connections
//! whose queued callers are tasks, with what runs beside them ([`Beside`]).

use std::time::Instant;

use crate::bug::RuntimeBoundDispatch;
use crate::machine::{self, Sidecar, Wake};
use crate::manager::Manager;
use crate::tracked::Tracked;
use crate::waiting::{DeadlineThread, Waiter, Watched};

/// One build of a pool of `M`'s connections.
pub(crate) type Instance<M> =
    machine::Instance<Tracked<<M as Manager>::Connection>, Waiter, Beside<M>>;

/// What runs beside a build's connections.
pub(crate) struct Beside<M: Manager> {
    /// Times out the callers queued in the slots.
    pub(crate) deadlines: DeadlineThread,
    /// Only with `runtime-bound-pool`: waiters ask this task instead of
    /// queueing.
    pub(crate) dispatch: Option<RuntimeBoundDispatch>,
    /// The manager's companion (the reference server's checkpointer).
    pub(crate) companion: M::Companion,
}

impl<M: Manager> Sidecar for Beside<M> {
    fn stop(&self) {
        M::stop(&self.companion);
        self.deadlines.stop();
        if let Some(dispatch) = &self.dispatch {
            dispatch.closed();
        }
    }

    fn idle_again(&self) {
        if let Some(dispatch) = &self.dispatch {
            dispatch.released();
        }
    }
}

impl Wake for Waiter {
    fn wake(self) {
        self.waker.wake();
    }
}

impl<M: Manager> Watched for Instance<M> {
    fn expire(&self, due: &mut dyn FnMut(&mut Waiter) -> bool) {
        machine::Instance::expire(self, due);
    }

    fn earliest(&self, key: &dyn Fn(&Waiter) -> Instant) -> Option<Instant> {
        self.slots.earliest(key)
    }
}
