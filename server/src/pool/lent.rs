//! A connection the pool lent ([`PooledConnection`]), which holds its
//! instance until it gives the connection back.

use std::ops::Deref;
use std::sync::Arc;

use super::instance::Instance;
use super::recent;
use super::slots::{Lease, Release};
use super::tracked::Tracked;

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
