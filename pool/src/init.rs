//! The pool's concurrency core, part one: lazy, guarded, generation-aware
//! initialisation ([`InitCell`]). Part two, the bounded connection slots and
//! their hand-off queue, is [`crate::slots`]; [`crate::machine`] decides
//! with both.
//!
//! This is the part the seed got wrong, kept small and free of async and of
//! anything bound to a runtime, so that loom can check it as it is: it only
//! uses the types from [`crate::sync`]. Nothing here waits. Every method takes
//! the state lock, makes one decision and returns it; the machine wakes,
//! outside the lock, whomever a decision names, and the async layer does the
//! waiting (with a timeout). The `racegate-loom` crate compiles this same
//! file against loom's types.

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
