//! The idle stack's head word and the cells it links: the lock-free half of
//! [`crate::slots`], and the one place `unsafe` is needed (a cell holds its
//! idle connection with no lock; see [`Cell::swap`] and the crate README's
//! inventory).
//!
//! **The head word** packs, in one `AtomicU64`: the top cell (bits 0–31,
//! [`NIL`] for none), the `WAITERS` mark (bit 32), the `CLOSED` mark
//! (bit 33) and a 30-bit tag (bits 34–63) that every change bumps, so a
//! compare-and-swap that read the head before another thread changed it
//! fails even if the same cell is on top again (ABA).
//!
//! **The tag's wrap bound.** A stale compare-and-swap succeeds only if,
//! between its load and its swap, the head changed a multiple of 2^30 =
//! 1,073,741,824 times and ended on the same top cell and marks. Each change
//! is one successful compare-and-swap on the head's cache line, which takes
//! at least ~5 ns even uncontended on one core (acquire and release are one
//! each: the pool's tightest loop runs ~40 ns per pair here), so a wrap
//! takes at least 2^30 × 5 ns ≈ 5.4 s of the pool changing at full speed,
//! all of it while one thread sits between two adjacent instructions of
//! `pop` or `push` (a load of the head, a load of one cell's link, the
//! swap). A thread preempted that long on a loaded machine is possible in
//! principle; the other threads would also have to make exactly a multiple
//! of 2^30 changes in that window. The loom models check the tag's purpose
//! (without it they find the ABA swap); they cannot check the wrap, which
//! is arithmetic.

use crate::sync::{AtomicU64, UnsafeCell};

/// "No cell": the bottom of the stack; as a mask, the head's top cell.
pub(crate) const NIL: u64 = 0xFFFF_FFFF;
/// Callers are queued (and so the stack is empty).
pub(crate) const WAITERS: u64 = 1 << 32;
/// The slots are closed (and the stack is empty, for good).
pub(crate) const CLOSED: u64 = 1 << 33;
/// The tag: the bits above the flags, bumped by every change.
const TAG_SHIFT: u32 = 34;

/// A snapshot of the idle stack's head word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Head(pub(crate) u64);

impl Head {
    pub(crate) fn top(self) -> Option<usize> {
        cell_of(self.0 & NIL)
    }

    pub(crate) fn waiters(self) -> bool {
        self.0 & WAITERS != 0
    }

    pub(crate) fn closed(self) -> bool {
        self.0 & CLOSED != 0
    }

    /// The next head: `top` (a cell or [`NIL`]) on top, `flags` set, the
    /// tag bumped.
    pub(crate) fn then(self, top: u64, flags: u64) -> Self {
        let tag = (self.0 >> TAG_SHIFT).wrapping_add(1) << TAG_SHIFT;
        Self(tag | flags | top)
    }

    pub(crate) fn flags(self) -> u64 {
        self.0 & (WAITERS | CLOSED)
    }
}

/// The cell a stack link names, if any.
pub(crate) fn cell_of(link: u64) -> Option<usize> {
    (link != NIL).then(|| usize::try_from(link).unwrap_or(usize::MAX))
}

/// Keeps what it holds on 128-byte lines of its own (adjacent-line
/// prefetch pairs 64-byte lines on x86): the head, which both runtime
/// threads swap, shares no line with the queue's lock, and one connection's
/// cell none with another's.
#[repr(align(128))]
pub(crate) struct Line<T>(pub(crate) T);

/// Where one connection lives.
pub(crate) struct Cell<C> {
    /// The cell below this one while it is on the idle stack.
    pub(crate) below: AtomicU64,
    /// The connection while idle; empty while lent. No lock: the head word
    /// says who owns the cell, and only its owner reaches in (see
    /// [`Cell::swap`]). A lock here cost four atomic read-modify-writes per
    /// acquire and release, about a sixth of an uncontended cycle.
    pub(crate) conn: UnsafeCell<Option<C>>,
}

// SAFETY: the connection inside is reached only through `Cell::swap`, whose
// callers own the cell, so one thread at a time does; moving a `C` between
// threads needs `C: Send`. The atomic `below` is `Sync` already.
#[allow(unsafe_code)]
unsafe impl<C: Send> Sync for Cell<C> {}

impl<C> Cell<C> {
    /// Puts `conn` in the cell and returns what was there.
    ///
    /// # Safety
    ///
    /// The caller owns the cell: no other thread can reach in until the
    /// caller publishes or gives up the cell with a release (or stronger)
    /// write to the head, and the caller's own access comes after an
    /// acquire of the head write that gave it the cell. The owners are:
    ///
    /// - the holder of the cell's [`Lease`], until the compare-and-swap that
    ///   pushes the cell succeeds (a cell being pushed is not on the stack,
    ///   so nobody else can pop it);
    /// - the thread whose compare-and-swap took the cell off the stack: the
    ///   tag makes a stale swap fail, so no two pops of one push succeed;
    /// - [`Slots::close`], for the cells on the stack it swapped out of the
    ///   head: after that swap no compare-and-swap on the head succeeds.
    ///
    /// Every head write is a compare-and-swap or swap with `AcqRel`, so each
    /// one carries every earlier write to the head's cells with it. The loom
    /// models check this with loom's `UnsafeCell`, which fails a model when
    /// two accesses are not ordered.
    #[allow(unsafe_code)]
    pub(crate) unsafe fn swap(&self, conn: Option<C>) -> Option<C> {
        // SAFETY: the caller owns the cell (above), so this is the only
        // access to the value now.
        self.conn
            .with_mut(|slot| unsafe { std::mem::replace(&mut *slot, conn) })
    }
}
