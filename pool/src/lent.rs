//! A connection the pool lent ([`Pooled`]), which holds its instance until
//! it gives the connection back.

use std::ops::Deref;
use std::sync::Arc;

use crate::instance::Instance;
use crate::manager::Manager;
use crate::slots::Lease;
use crate::tracked::Tracked;

/// A lent connection and the instance it came from.
type Lent<M> = (Lease<Tracked<<M as Manager>::Connection>>, Arc<Instance<M>>);

/// A connection borrowed from the pool; it goes back when this is dropped,
/// on every path, error paths included.
pub struct Pooled<M: Manager> {
    /// The connection and the instance it came from, until the drop.
    lent: Option<Lent<M>>,
}

impl<M: Manager> Pooled<M> {
    pub(crate) fn new(conn: Lease<Tracked<M::Connection>>, instance: Arc<Instance<M>>) -> Self {
        Self {
            lent: Some((conn, instance)),
        }
    }

    /// Never gives the connection back: the `leak-on-error` bug.
    pub fn leak(self) {
        std::mem::forget(self);
    }

    /// The companion of the build this connection belongs to.
    pub fn companion(&self) -> &M::Companion {
        match &self.lent {
            Some((_, instance)) => &instance.sidecar.companion,
            None => unreachable!("only drop takes the connection out"),
        }
    }
}

impl<M: Manager> Deref for Pooled<M> {
    type Target = M::Connection;

    fn deref(&self) -> &M::Connection {
        match &self.lent {
            Some((lease, _)) => lease,
            None => unreachable!("only drop takes the connection out"),
        }
    }
}

impl<M: Manager> Drop for Pooled<M> {
    fn drop(&mut self) {
        if let Some((lease, instance)) = self.lent.take() {
            // The instance was shut meanwhile (closed or recycled): dropping
            // the connection closes it.
            drop(instance.release(lease));
            crate::recent::give_back(instance);
        }
    }
}
