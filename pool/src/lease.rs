//! What the slots hand out and hand back ([`crate::slots`]): a lent
//! connection ([`Lease`]) and the outcome of each of their operations.

use std::ops::Deref;

/// A connection lent out of the slots: give it back with
/// [`Slots::release`](crate::slots::Slots::release). It remembers the cell it came from.
pub struct Lease<C> {
    pub(crate) cell: usize,
    pub(crate) conn: C,
}

impl<C> Deref for Lease<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.conn
    }
}

/// The result of [`Slots::try_acquire`](crate::slots::Slots::try_acquire).
pub enum TryAcquire<C> {
    /// A connection, now lent to the caller.
    Acquired(Lease<C>),
    /// All connections are lent out (or callers are queued for them): wait
    /// for a release.
    Empty,
    /// The slots are closed.
    Closed,
}

/// The result of [`Slots::acquire_or_queue`](crate::slots::Slots::acquire_or_queue).
pub enum Queue<C> {
    /// A connection, now lent to the caller.
    Acquired(Lease<C>),
    /// The caller's mailbox is queued: it waits to be woken, then opens it.
    Queued,
    /// The slots are closed.
    Closed,
}

/// The result of [`Slots::release`](crate::slots::Slots::release) and [`Slots::cancel`](crate::slots::Slots::cancel).
pub enum Release<C, W> {
    /// Back among the idle connections (or, for a cancel, nothing to pass on).
    Returned,
    /// Delivered to a queued caller: the releaser wakes it with this.
    HandedOff(W),
    /// The slots were closed meanwhile: the caller closes the connection.
    Closed(C),
}

/// A snapshot of the slots, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotStats {
    /// Idle connections.
    pub idle: usize,
    /// Connections lent out.
    pub in_use: usize,
    /// The bound.
    pub capacity: usize,
    /// Whether the slots are closed.
    pub closed: bool,
    /// Callers queued for a connection.
    pub queued: usize,
}

/// What [`Slots::close`](crate::slots::Slots::close) hands back, once.
pub struct Closing<C, W> {
    /// The idle connections: the caller closes them.
    pub conns: Vec<C>,
    /// Every caller that was queued: the caller wakes them, and they find
    /// the slots closed.
    pub wake: Vec<W>,
}

/// Returned by [`Slots::add`](crate::slots::Slots::add) when the bound would be exceeded or the slots
/// are closed; carries the connection back.
#[derive(Debug)]
pub struct Rejected<C>(pub C);
