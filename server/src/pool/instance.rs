//! One build of the pool ([`Instance`]) and the connection it lends
//! ([`PooledConnection`]), which holds the instance until it gives the
//! connection back.

use std::ops::Deref;
use std::sync::Arc;

use super::recent;
use super::slots::{Lease, Release, Slots};
use super::tracked::Tracked;
use super::waiting::{DeadlineThread, Waiter};
use crate::bugs::RuntimeBoundDispatch;
use crate::checkpoint::Checkpointer;

/// One build of the pool: its connections, lent and queued for.
pub(super) struct Instance {
    pub(super) slots: Arc<Slots<Tracked, Waiter>>,
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
    /// see [`recent`]), so it holds nothing open once closed.
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

/// A connection borrowed from the pool; it goes back when this is dropped,
/// on every path, error paths included.
pub struct PooledConnection {
    /// The connection and the instance it came from, until the drop.
    lent: Option<(Lease<Tracked>, Arc<Instance>)>,
}

impl PooledConnection {
    pub(super) fn new(conn: Lease<Tracked>, instance: Arc<Instance>) -> Self {
        Self {
            lent: Some((conn, instance)),
        }
    }

    /// Never gives the connection back: the `leak-on-error` bug.
    pub fn leak(self) {
        std::mem::forget(self);
    }

    /// Whether the WAL has grown long enough that whoever writes should run a
    /// checkpoint between transactions (see [`crate::checkpoint`]); asking
    /// clears it.
    pub fn checkpoint_due(&self) -> bool {
        self.lent
            .as_ref()
            .is_some_and(|(_, instance)| instance.checkpointer.take_due())
    }
}

impl Deref for PooledConnection {
    type Target = tokio_rusqlite::Connection;

    fn deref(&self) -> &Self::Target {
        match &self.lent {
            Some((tracked, _)) => &tracked.conn,
            None => unreachable!("only drop takes the connection out"),
        }
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        let Some((conn, instance)) = self.lent.take() else {
            return;
        };
        match instance.slots.release(conn) {
            Release::Returned => {
                if let Some(dispatch) = &instance.dispatch {
                    dispatch.released();
                }
            }
            Release::HandedOff(next) => next.waker.wake(),
            // The pool was closed or recycled meanwhile: dropping it closes it.
            Release::Closed(conn) => drop(conn),
        }
        recent::give_back(instance);
    }
}
