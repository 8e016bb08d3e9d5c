//! The pool's concurrency core: lazy, guarded, generation-aware initialisation
//! ([`InitCell`]) and bounded connection slots with close ([`Slots`]).
//!
//! This is the part the seed got wrong, kept small and free of async and of
//! anything bound to a runtime, so that loom can check it as it is: it only
//! uses the types from [`crate::sync`]. Nothing here waits. Every method takes
//! the state lock, makes one decision and returns it; the async layer in
//! [`super`] does the waiting (with a timeout) and wakes waiters after each
//! state change. The `racegate-loom` crate compiles this same file against
//! loom's types.

use crate::sync::{lock, Arc, Mutex};

/// Whether first callers are serialised by the init guard.
///
/// [`InitGuard::Off`] is the `unguarded-init` bug from the catalogue: a
/// check-then-act on "is it built?" with no claim in between, so concurrent
/// first callers all build an instance. It exists so the harness and the loom
/// models can prove they catch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitGuard {
    /// The first caller claims the initialisation; the others wait for it.
    On,
    /// Every caller that sees no instance builds one (the bug).
    Off,
}

/// A lazily built, re-buildable shared instance.
///
/// Callers name the *generation* they need (the pool bumps it on reopen). An
/// instance of that generation or newer is shared; an older one is retired and
/// handed to the caller that builds its successor, which closes it exactly
/// once. A claimed initialisation that fails or is cancelled (its
/// [`InitTicket`] dropped) puts the cell back to empty, so a later caller
/// retries and nobody waits on an initialiser that no longer exists.
pub struct InitCell<T> {
    state: Mutex<Cell<T>>,
    guard: InitGuard,
}

struct Cell<T> {
    state: CellState<T>,
    /// Claims handed out so far. Each build's ticket carries its own number,
    /// so a build that outlived its claim (the cell was closed, reopened and
    /// claimed again meanwhile) can neither publish over nor release the
    /// newer claim: it is told `Published::No` and closes what it built.
    claims: u64,
}

enum CellState<T> {
    Empty,
    Initializing { claim: u64 },
    Ready { generation: u64, value: Arc<T> },
    Closed,
}

/// What a caller of [`InitCell::begin`] must do next.
pub enum Begin<'a, T> {
    /// The instance is built: use it.
    Ready(Arc<T>),
    /// This caller builds the instance and must finish the ticket.
    Init(InitTicket<'a, T>),
    /// Another caller is building it: wait for a state change, then call
    /// [`InitCell::begin`] again.
    Wait,
    /// The cell was closed and not reopened.
    Closed,
}

impl<T> InitCell<T> {
    /// An empty cell.
    pub fn new(guard: InitGuard) -> Self {
        Self {
            state: Mutex::new(Cell {
                state: CellState::Empty,
                claims: 0,
            }),
            guard,
        }
    }

    /// Decides what a caller that needs generation `generation` does.
    pub fn begin(&self, generation: u64) -> Begin<'_, T> {
        let mut cell = lock(&self.state);
        match &cell.state {
            CellState::Ready {
                generation: g,
                value,
            } if *g >= generation => {
                return Begin::Ready(Arc::clone(value));
            }
            CellState::Closed => return Begin::Closed,
            CellState::Initializing { .. } if self.guard == InitGuard::On => return Begin::Wait,
            _ => {}
        }
        if self.guard == InitGuard::Off {
            // The bug: decide "nobody has built it" and build without claiming.
            drop(cell);
            return Begin::Init(InitTicket {
                cell: self,
                generation,
                claim: None,
                retired: None,
                finished: false,
            });
        }
        cell.claims += 1;
        let claim = cell.claims;
        let retired = match std::mem::replace(&mut cell.state, CellState::Initializing { claim }) {
            CellState::Ready { generation, value } => Some((generation, value)),
            _ => None,
        };
        Begin::Init(InitTicket {
            cell: self,
            generation,
            claim: Some(claim),
            retired,
            finished: false,
        })
    }

    /// The instance for `generation` if it is built, without claiming a
    /// build: the fast path of a caller that only wants to use it.
    pub fn ready(&self, generation: u64) -> Option<Arc<T>> {
        match &lock(&self.state).state {
            CellState::Ready {
                generation: g,
                value,
            } if *g >= generation => Some(Arc::clone(value)),
            _ => None,
        }
    }

    /// The current instance, if one is built, without starting a build.
    pub fn get(&self) -> Option<Arc<T>> {
        match &lock(&self.state).state {
            CellState::Ready { value, .. } => Some(Arc::clone(value)),
            _ => None,
        }
    }

    /// Closes the cell: later [`begin`](Self::begin) calls get
    /// [`Begin::Closed`]. Returns the instance that was current, for the
    /// caller to close; `None` if there was none or the cell was already
    /// closed, so the instance is handed out for closing exactly once.
    pub fn close(&self) -> Option<Arc<T>> {
        let mut cell = lock(&self.state);
        match std::mem::replace(&mut cell.state, CellState::Closed) {
            CellState::Ready { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Makes a closed cell buildable again. An open cell is left alone.
    pub fn reopen(&self) {
        let mut cell = lock(&self.state);
        if matches!(cell.state, CellState::Closed) {
            cell.state = CellState::Empty;
        }
    }
}

/// The right, and duty, to build the instance for one generation.
///
/// Dropping it unfinished (the build failed, or its future was cancelled)
/// releases the claim so another caller can build.
pub struct InitTicket<'a, T> {
    cell: &'a InitCell<T>,
    generation: u64,
    /// This build's claim; `None` without the guard (the bug claims nothing).
    claim: Option<u64>,
    /// The instance being replaced, with its generation, until the builder
    /// takes it to close it.
    retired: Option<(u64, Arc<T>)>,
    finished: bool,
}

impl<T> InitTicket<'_, T> {
    /// The instance this build replaces. The builder closes it; it is handed
    /// out once.
    pub fn take_retired(&mut self) -> Option<Arc<T>> {
        self.retired.take().map(|(_, value)| value)
    }

    /// Publishes the built instance and returns the one callers will share.
    ///
    /// If the claim is no longer the cell's (it was closed meanwhile, and
    /// perhaps reopened and claimed by another build), the instance is still
    /// returned, for the builder to close, but not published: the result
    /// says which.
    pub fn complete(mut self, value: T) -> (Arc<T>, Published) {
        self.finished = true;
        let value = Arc::new(value);
        let mut cell = lock(&self.cell.state);
        let current = match (self.claim, &cell.state) {
            (_, CellState::Closed) => false,
            (None, _) => true,
            (Some(mine), CellState::Initializing { claim, .. }) => *claim == mine,
            (Some(_), _) => false,
        };
        if !current {
            return (value, Published::No);
        }
        cell.state = CellState::Ready {
            generation: self.generation,
            value: Arc::clone(&value),
        };
        (value, Published::Yes)
    }
}

/// Whether [`InitTicket::complete`] published the instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Published {
    /// Callers now share it.
    Yes,
    /// The build lost its claim while it ran (the cell was closed, and
    /// perhaps reopened and claimed again); nobody else will see it.
    No,
}

impl<T> Drop for InitTicket<'_, T> {
    fn drop(&mut self) {
        if self.finished || self.cell.guard == InitGuard::Off {
            return;
        }
        let mut cell = lock(&self.cell.state);
        if matches!(cell.state, CellState::Initializing { claim, .. } if Some(claim) == self.claim)
        {
            cell.state = match self.retired.take() {
                // The old instance was never closed: keep serving it.
                Some((generation, value)) => CellState::Ready { generation, value },
                None => CellState::Empty,
            };
        }
    }
}

/// A bounded set of connections: at most `capacity` exist, each one either
/// idle here or lent out; once closed, nothing is lent again.
pub struct Slots<C> {
    state: Mutex<SlotState<C>>,
    capacity: usize,
}

struct SlotState<C> {
    idle: Vec<C>,
    lent: usize,
    closed: bool,
}

/// The result of [`Slots::try_acquire`].
pub enum TryAcquire<C> {
    /// A connection, now lent to the caller.
    Acquired(C),
    /// All connections are lent out: wait for a release.
    Empty,
    /// The slots are closed.
    Closed,
}

/// The result of [`Slots::release`].
pub enum Release<C> {
    /// Back among the idle connections: wake one waiter.
    Returned,
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
}

/// Returned by [`Slots::add`] when the bound would be exceeded or the slots
/// are closed; carries the connection back.
#[derive(Debug)]
pub struct Rejected<C>(pub C);

impl<C> Slots<C> {
    /// Empty slots holding at most `capacity` connections.
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(SlotState {
                idle: Vec::with_capacity(capacity),
                lent: 0,
                closed: false,
            }),
            capacity,
        }
    }

    /// Adds a freshly opened connection as idle, unless that would exceed the
    /// bound or the slots are closed.
    pub fn add(&self, conn: C) -> Result<(), Rejected<C>> {
        let mut state = lock(&self.state);
        if state.closed || state.idle.len() + state.lent >= self.capacity {
            return Err(Rejected(conn));
        }
        state.idle.push(conn);
        Ok(())
    }

    /// Lends an idle connection, if there is one.
    pub fn try_acquire(&self) -> TryAcquire<C> {
        let mut state = lock(&self.state);
        if state.closed {
            return TryAcquire::Closed;
        }
        match state.idle.pop() {
            Some(conn) => {
                state.lent += 1;
                TryAcquire::Acquired(conn)
            }
            None => TryAcquire::Empty,
        }
    }

    /// Takes back a lent connection.
    pub fn release(&self, conn: C) -> Release<C> {
        let mut state = lock(&self.state);
        state.lent = state.lent.saturating_sub(1);
        if state.closed {
            return Release::Closed(conn);
        }
        state.idle.push(conn);
        Release::Returned
    }

    /// Closes the slots. The first call returns the idle connections for the
    /// caller to close; later calls return `None`. Lent connections come back
    /// through [`release`](Self::release) as [`Release::Closed`].
    pub fn close(&self) -> Option<Vec<C>> {
        let mut state = lock(&self.state);
        if state.closed {
            return None;
        }
        state.closed = true;
        Some(std::mem::take(&mut state.idle))
    }

    /// A consistent snapshot.
    pub fn stats(&self) -> SlotStats {
        let state = lock(&self.state);
        SlotStats {
            idle: state.idle.len(),
            in_use: state.lent,
            capacity: self.capacity,
            closed: state.closed,
        }
    }
}
