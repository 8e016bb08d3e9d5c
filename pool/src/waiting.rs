//! How a caller waits for a connection when none is idle: its [`Queued`]
//! future, with a mailbox in the slots' queue, and the [`DeadlineThread`]
//! that times queued callers out without a timer, or a clock read, per
//! acquire.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::machine::{Instance, Sidecar};
use crate::mailbox::{Mailbox, Opened};
use crate::slots::{Lease, Queue};
use crate::stamp::{self, Stamp};

/// When an acquire first had to wait: a [`Stamp`] for the wait metric,
/// and, once a deadline had to be computed here, the `Instant` it counts
/// from.
#[derive(Default)]
pub(crate) struct Waited {
    since: Option<Stamp>,
    started: Option<Instant>,
}

impl Waited {
    /// Marks the first wait's start, if this is it: a tick count only.
    fn begin(&mut self) {
        self.since.get_or_insert_with(Stamp::now);
    }

    /// Whether an earlier wait of this acquire has begun.
    fn began(&self) -> bool {
        self.since.is_some()
    }

    /// When the acquire stops waiting: `timeout` after it first waited.
    /// Reads the clock: for the rare waits (a build, the
    /// `runtime-bound-pool` dispatch, a second queueing after a close);
    /// a first queueing leaves its deadline to the [`DeadlineThread`].
    pub(crate) fn deadline(&mut self, timeout: Duration) -> Instant {
        let since = self.since;
        let started = *self.started.get_or_insert_with(|| {
            let now = Instant::now();
            // Queued before, deadline given by the thread: count from
            // that wait's start, as the ticks since it tell (to within the
            // tick rate's calibration).
            since.map_or(now, |since| {
                now.checked_sub(stamp::duration(since.ticks_since()))
                    .unwrap_or(now)
            })
        });
        self.begin();
        started + timeout
    }

    /// Ticks since the first wait began, if the acquire waited.
    pub(crate) fn ticks(&self) -> Option<u64> {
        self.since.map(Stamp::ticks_since)
    }
}

/// A queued caller's mailbox, shared with the slots' queue.
type SharedMailbox<C> = Arc<Mailbox<Lease<C>, Waiter>>;

/// A queued caller's wait expired.
#[derive(Debug)]
pub(crate) struct Expired;

/// What a [`DeadlineThread`] watches: a pool instance's queue, which it
/// holds weakly.
pub(crate) trait Watched: Send + Sync {
    /// Times out (and wakes) every queued caller `due` says is due.
    fn expire(&self, due: &mut dyn FnMut(&mut Waiter) -> bool);
    /// The least `key` over the queued callers, if any is queued.
    fn earliest(&self, key: &dyn Fn(&Waiter) -> Instant) -> Option<Instant>;
}

/// A caller queued for a connection: how to wake it, and until when it
/// waits (`None` until the [`DeadlineThread`] first sees it).
pub(crate) struct Waiter {
    pub(crate) waker: Waker,
    deadline: Option<Instant>,
}

/// Times out the acquires queued in one instance's slots, so that a queued
/// acquire needs no timer of its own: in the pool bench at 64 tasks on 16
/// connections, registering and cancelling a tokio timer per queued acquire
/// took the pool from about 1.0× to about 0.75× deadpool's throughput.
///
/// One std thread per pool build, bound to no runtime, like the connections'
/// own threads. A caller queues without reading the clock: the thread gives
/// each caller it sees for the first time its deadline, `timeout` from that
/// look, which comes after the caller began waiting, so no wait ends before
/// its timeout. While anyone is queued the thread looks at least every
/// [`DeadlineShared::every`] (a thirty-second of the timeout, 1–100 ms), so
/// no wait lasts more than that past its timeout either. At each look it
/// takes out whoever is due and wakes them, then sleeps until the earliest
/// deadline or the next look; with nobody queued it sleeps until a caller
/// queues. It ends when the instance is dropped.
pub(crate) struct DeadlineThread {
    shared: Arc<DeadlineShared>,
    thread: std::thread::Thread,
}

struct DeadlineShared {
    /// The thread's planned wake-up, in nanoseconds since `epoch`;
    /// `u64::MAX` while it re-plans or sleeps with nobody queued.
    wake_at: AtomicU64,
    epoch: Instant,
    /// The pool's `acquire_timeout`.
    timeout: Duration,
    /// The longest the thread sleeps while anyone is queued: how late a
    /// deadline it gives can come, at most.
    every: Duration,
    stop: AtomicBool,
    /// The instance whose queue the thread times out, from
    /// [`DeadlineThread::attach`] on.
    watched: OnceLock<Weak<dyn Watched>>,
}

impl DeadlineShared {
    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX - 1)
    }
}

impl DeadlineThread {
    /// Starts the thread, for callers that wait at most `timeout`. It
    /// watches nothing until [`Self::attach`]: the instance it watches
    /// holds it, so is built after it.
    pub(crate) fn spawn(timeout: Duration) -> std::io::Result<Self> {
        let shared = Arc::new(DeadlineShared {
            wake_at: AtomicU64::new(u64::MAX),
            epoch: Instant::now(),
            timeout,
            every: (timeout / 32).clamp(Duration::from_millis(1), Duration::from_millis(100)),
            stop: AtomicBool::new(false),
            watched: OnceLock::new(),
        });
        let mine = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("racegate-pool-deadlines".into())
            .spawn(move || Self::run(&mine))?;
        Ok(Self {
            shared,
            thread: handle.thread().clone(),
        })
    }

    /// Gives the thread the instance to watch, held weakly (the thread ends
    /// once it is gone). Callers that queued before are timed out too: the
    /// thread's first look sees them.
    pub(crate) fn attach(&self, instance: Weak<dyn Watched>) {
        if self.shared.watched.set(instance).is_ok() {
            self.thread.unpark();
        }
    }

    fn run(shared: &DeadlineShared) {
        while !shared.stop.load(Ordering::SeqCst) {
            let Some(watched) = shared.watched.get() else {
                std::thread::park();
                continue;
            };
            let Some(instance) = watched.upgrade() else {
                return;
            };
            // Re-plan before looking: a caller that queues after the look
            // sees `MAX` (or the new plan) and wakes the thread if it needs
            // a look sooner. No wake-up is lost either way.
            shared.wake_at.store(u64::MAX, Ordering::SeqCst);
            let now = Instant::now();
            // A caller seen for the first time gets its deadline from a
            // clock read inside `expire`, under the slots' lock: after it
            // queued, so after it began waiting.
            let mut first_seen = None;
            let due = |w: &mut Waiter| {
                let deadline = *w.deadline.get_or_insert_with(|| {
                    *first_seen.get_or_insert_with(|| Instant::now() + shared.timeout)
                });
                deadline <= now
            };
            let mut due = due;
            instance.expire(&mut due);
            // One that queued since the look has no deadline yet: look
            // again at once.
            let next = instance
                .earliest(&|w| w.deadline.unwrap_or(now))
                .map(|deadline| deadline.min(now + shared.every));
            drop(instance);
            match next {
                Some(next) => {
                    shared.wake_at.store(shared.nanos(next), Ordering::SeqCst);
                    std::thread::park_timeout(next.saturating_duration_since(Instant::now()));
                }
                None => std::thread::park(),
            }
        }
    }

    /// A caller just queued, with a `deadline` if it had one already: wake
    /// the thread if it sleeps with nobody queued, or past that deadline.
    fn queued(&self, deadline: Option<Instant>) {
        let by = deadline.map_or(u64::MAX - 1, |at| self.shared.nanos(at));
        if by < self.shared.wake_at.load(Ordering::SeqCst) {
            self.thread.unpark();
        }
    }

    /// Ends the thread (at once if it sleeps); queued callers are then
    /// timed out by nobody, so only once the slots are closed.
    pub(crate) fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.thread.unpark();
    }
}

impl Drop for DeadlineThread {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits in an instance's queue for a connection: `Some` once one is
/// handed over, `None` if the instance is shut, [`Expired`] once its
/// [`DeadlineThread`] expires the wait. Dropped while queued (the acquire
/// was cancelled), it leaves the queue, and passes on a connection handed to
/// it meanwhile, so none is stranded.
pub(crate) struct Queued<'a, C, X: Sidecar> {
    pub(crate) instance: &'a Instance<C, Waiter, X>,
    pub(crate) deadlines: &'a DeadlineThread,
    pub(crate) timeout: Duration,
    /// When the acquire first waited; set here if this is its first wait.
    pub(crate) waited: &'a mut Waited,
    /// Set once queued.
    pub(crate) mailbox: Option<SharedMailbox<C>>,
}

impl<C, X: Sidecar> Future for Queued<'_, C, X> {
    type Output = Result<Option<Lease<C>>, Expired>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let done = match &this.mailbox {
            None => {
                // A first wait reads no clock; a later one (after a close)
                // keeps the first one's deadline.
                let deadline = if this.waited.began() {
                    Some(this.waited.deadline(this.timeout))
                } else {
                    this.waited.begin();
                    None
                };
                let mailbox = Arc::new(Mailbox::new(Waiter {
                    waker: cx.waker().clone(),
                    deadline,
                }));
                match this.instance.lend_or_queue(&mailbox) {
                    Queue::Acquired(conn) => Ok(Some(conn)),
                    Queue::Closed => Ok(None),
                    Queue::Queued => {
                        this.mailbox = Some(mailbox);
                        this.deadlines.queued(deadline);
                        return Poll::Pending;
                    }
                }
            }
            Some(mailbox) => match mailbox.open(|waiter| {
                if !waiter.waker.will_wake(cx.waker()) {
                    waiter.waker.clone_from(cx.waker());
                }
            }) {
                Opened::Waiting => return Poll::Pending,
                Opened::Acquired(conn) => Ok(Some(conn)),
                Opened::Closed => Ok(None),
                Opened::TimedOut => Err(Expired),
            },
        };
        this.mailbox = None;
        Poll::Ready(done)
    }
}

impl<C, X: Sidecar> Drop for Queued<'_, C, X> {
    fn drop(&mut self) {
        if let Some(mailbox) = self.mailbox.take() {
            // A connection to close comes back only if the instance was shut
            // meanwhile: dropping it closes it.
            drop(self.instance.cancel(&mailbox));
        }
    }
}

/// Counts a waiter of the `runtime-bound-pool` path for as long as it waits,
/// however the wait ends (queued callers are counted by the slots).
pub(crate) struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    pub(crate) fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
