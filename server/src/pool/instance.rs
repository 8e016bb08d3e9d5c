//! One build of the pool ([`Instance`]), and how it is shut.

use super::slots::Slots;
use super::tracked::Tracked;
use super::waiting::{DeadlineThread, HasSlots, Waiter};
use crate::bugs::RuntimeBoundDispatch;
use crate::checkpoint::Checkpointer;

/// One build of the pool: its connections, lent and queued for.
pub(super) struct Instance {
    /// In the instance itself, not behind an `Arc` of their own: an
    /// acquire and a release reach the head word one load sooner.
    pub(super) slots: Slots<Tracked, Waiter>,
    /// Times out the callers queued in `slots`.
    pub(super) deadlines: DeadlineThread,
    /// Only with `runtime-bound-pool`: waiters ask this task instead of
    /// queueing.
    pub(super) dispatch: Option<RuntimeBoundDispatch>,
    /// Copies the WAL back into the database file.
    pub(super) checkpointer: Checkpointer,
}

impl Instance {
    /// Closes the instance, once: its threads stop, queued callers are woken
    /// (they find it closed), and its idle connections are returned for the
    /// caller to close (lent ones close when they come back). Later calls
    /// return nothing. An instance can outlive its pool and its last lease
    /// for a while (threads keep references to it for their next acquire,
    /// see [`super::recent`]), so it holds nothing open once closed.
    pub(super) fn shut(&self) -> Vec<Tracked> {
        self.checkpointer.stop();
        self.deadlines.stop();
        let Some(closing) = self.slots.close() else {
            return Vec::new();
        };
        for waiter in closing.wake {
            waiter.waker.wake();
        }
        if let Some(dispatch) = &self.dispatch {
            dispatch.closed();
        }
        closing.conns
    }
}

impl HasSlots for Instance {
    fn slots(&self) -> &Slots<Tracked, Waiter> {
        &self.slots
    }
}
