//! The load engine: C workers, each with one kept-alive HTTP/1.1 connection,
//! sending requests in a closed loop, at a fixed rate (open loop), or in
//! barrier-synchronised bursts, and judging every response.
//!
//! The workers are dealt round robin to one thread per core, each running
//! its share on a single-threaded runtime of its own (as wrk runs an event
//! loop per thread): a connection's wakeups, its timer and its task never
//! leave their core. They share only the schedule's counters, a bucket at a
//! time the timeline, and with the workers on their own thread one set of
//! tallies.
//!
//! Every wait is bounded: connects and requests by the request timeout, a
//! run by its count or duration, a burst round by the slowest request in it.
//! A run with a [`Halt`](crate::plan::Halt) sends nothing more once a
//! failure triggers it.

mod client;
mod conn_error;
pub mod h2;
mod sched;
mod stream;
mod transport;
mod wire;
mod worker;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use hyper::HeaderMap;
use tokio::sync::Barrier;
use tokio::time::Instant;

use self::h2::{H2Client, H2Conn};
use crate::plan::{FireConfig, Stop};
use crate::stats::RunStats;
use crate::timeline::Timeline;

pub use client::{get_once, Client, Exchange};
pub use conn_error::ConnError;
pub use transport::Transport;
pub use wire::{RequestHead, WireError};
use worker::Worker;

/// The largest response body read; longer ones fail as `indeterminate`.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Live counters, read by the progress display while the run goes on.
#[derive(Debug, Default)]
pub struct Progress {
    /// Requests finished (passed or failed).
    pub done: AtomicU64,
    /// Requests failed.
    pub failed: AtomicU64,
    /// The run's timeline: each worker adds its bucket when it moves on to
    /// the next one (and at its end), so it lags the present by at most a
    /// bucket per worker.
    pub timeline: Mutex<Timeline>,
    /// The timeline's bucket width now: workers fill buckets this wide, so
    /// as a run grows and its buckets widen they hand theirs over less often.
    pub width_ms: AtomicU64,
}

impl Progress {
    /// Runs `f` on the timeline (a panicked worker leaves it usable).
    pub fn with_timeline<R>(&self, f: impl FnOnce(&mut Timeline) -> R) -> R {
        f(&mut self.timeline.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Now, in ms since the Unix epoch.
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A finished run.
#[derive(Debug)]
pub struct Finished {
    /// Every thread's tallies, merged.
    pub stats: RunStats,
    /// Wall time from the first send to the last answer.
    pub elapsed: Duration,
    /// Whether the run's halt rule ended it early.
    pub halted: bool,
    /// The run over time.
    pub timeline: Timeline,
    /// When the run started on the wall clock, ms since the Unix epoch.
    pub start_unix_ms: u64,
    /// Over HTTP/2: the fewest concurrent streams a connection was allowed
    /// (the server's `MAX_CONCURRENT_STREAMS`), if it set a limit.
    pub max_streams: Option<usize>,
}

/// Hands out request indices and says when the run is over.
struct Schedule {
    next: AtomicU64,
    stop: Stop,
    start: Instant,
    /// `start` on the wall clock, ms since the Unix epoch.
    start_unix_ms: u64,
    /// Time between intended sends, with `--rate`.
    interval: Option<Duration>,
    /// Set by the first failure that triggers the halt rule.
    halted: AtomicBool,
    /// Maps this machine's k-th request to its index in the whole run.
    shard: crate::plan::Shard,
}

impl Schedule {
    /// The next request's index (in the whole run) and intended send time,
    /// or `None` when the run is over.
    fn next(&self) -> Option<(u64, Instant)> {
        if self.halted.load(Ordering::Relaxed) {
            return None;
        }
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        let intended = match self.interval {
            Some(gap) => self.start + gap.mul_f64(k as f64),
            None => Instant::now(),
        };
        let over = match self.stop {
            Stop::Requests(n) => k >= n,
            Stop::Duration(d) => intended >= self.start + d,
        };
        (!over).then_some((self.shard.request_index(k), intended))
    }

    fn halt(&self) {
        self.halted.store(true, Ordering::Relaxed);
    }

    fn is_halted(&self) -> bool {
        self.halted.load(Ordering::Relaxed)
    }

    /// When `t` was on the wall clock, ms since the Unix epoch.
    fn unix_ms_of(&self, t: Instant) -> u64 {
        let since = t.saturating_duration_since(self.start).as_millis();
        self.start_unix_ms + u64::try_from(since).unwrap_or(u64::MAX / 2)
    }
}

/// Shared by the workers of a burst run.
struct Burst {
    barrier: Barrier,
    /// Requests in the current round, decided by the barrier leader.
    round_size: AtomicUsize,
    rounds: AtomicU64,
}

/// Runs the load described by `config`.
pub async fn run(config: Arc<FireConfig>, progress: Arc<Progress>) -> Finished {
    let start = Instant::now();
    let start_unix_ms = unix_ms(SystemTime::now());
    progress.with_timeline(|t| *t = Timeline::new(start_unix_ms, config.bucket_ms));
    progress
        .width_ms
        .store(config.bucket_ms.max(1), Ordering::Relaxed);
    let schedule = Arc::new(Schedule {
        next: AtomicU64::new(0),
        stop: config.stop,
        start,
        start_unix_ms,
        interval: config.rate.map(|r| Duration::from_secs_f64(1.0 / r)),
        halted: AtomicBool::new(false),
        shard: config.shard,
    });
    let burst = config.burst.then(|| {
        Arc::new(Burst {
            barrier: Barrier::new(config.workers()),
            round_size: AtomicUsize::new(0),
            rounds: AtomicU64::new(0),
        })
    });
    let head = Arc::new(RequestHead::new(
        &config.request.method,
        &config.target.uri,
        &base_headers(&config),
        config.target.authority.to_str().unwrap_or_default(),
    ));
    // Dropped before the run ends (a caller that gave up on it), this halts
    // the schedule: the workers' threads stop after their request in flight
    // instead of running on to the run's end unobserved.
    let _stop_if_dropped = HaltOnDrop(Arc::clone(&schedule));
    let threads = engine_threads(config.concurrency);
    let new_stats = || RunStats::new(config.checks.body.len(), config.rate.is_some());
    let tallies: Vec<_> = (0..threads)
        .map(|_| Arc::new(Mutex::new(new_stats())))
        .collect();
    let mut shares: Vec<Vec<Worker>> = (0..threads).map(|_| Vec::new()).collect();
    // Over HTTP/2 the workers of a connection share it, on one thread.
    let streams = config.http2.unwrap_or(1);
    let h2_conns: Vec<_> = match config.http2 {
        Some(_) => (0..config.concurrency)
            .map(|_| {
                H2Conn::new(
                    config.target.addr,
                    config.target.tls.clone(),
                    config.via.clone(),
                    config.timeout,
                )
            })
            .collect(),
        None => Vec::new(),
    };
    for id in 0..config.workers() {
        let conn = id / streams;
        let thread = conn % threads;
        let transport = match h2_conns.get(conn) {
            Some(shared) => Transport::H2(H2Client::new(Arc::clone(shared), config.timeout)),
            None => Transport::H1(
                Client::new(config.target.addr, config.timeout)
                    .with_tls(config.target.tls.clone())
                    .through(config.via.clone()),
            ),
        };
        shares[thread].push(Worker::new(
            id,
            Arc::clone(&config),
            Arc::clone(&head),
            Arc::clone(&progress),
            Arc::clone(&schedule),
            Arc::clone(&tallies[thread]),
            transport,
        ));
    }
    let running: Vec<_> = shares
        .into_iter()
        .map(|share| run_share(share, burst.clone()))
        .collect();
    for share in running {
        // A share only ends by finishing; a panic would be a bug in racegate,
        // and the tallies it left are still read.
        let _ = share.await;
    }
    let mut total = new_stats();
    for tally in &tallies {
        let mut tally = tally.lock().unwrap_or_else(PoisonError::into_inner);
        total.merge(std::mem::replace(&mut tally, new_stats()));
    }
    // Read before `_stop_if_dropped` halts the schedule on the way out.
    let halted = schedule.is_halted();
    Finished {
        stats: total,
        elapsed: start.elapsed(),
        halted,
        timeline: progress.with_timeline(std::mem::take),
        start_unix_ms,
        max_streams: h2_conns.iter().filter_map(|c| c.max_streams()).min(),
    }
}

/// Halts the schedule when dropped.
struct HaltOnDrop(Arc<Schedule>);

impl Drop for HaltOnDrop {
    fn drop(&mut self) {
        self.0.halt();
    }
}

/// How many threads the workers run on: one per core, each with its own
/// single-threaded runtime (as wrk runs one event loop per thread). A worker
/// stays on its thread, so its connection's wakeups, timers and task
/// switches never cross cores; no more threads than workers.
fn engine_threads(concurrency: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(concurrency)
        .max(1)
}

/// Runs `share` on a thread of its own with its own runtime, to its end. If
/// that runtime cannot start, the share runs on the caller's runtime instead.
fn run_share(share: Vec<Worker>, burst: Option<Arc<Burst>>) -> tokio::task::JoinHandle<()> {
    let caller = tokio::runtime::Handle::current();
    let work = async move {
        let tasks: Vec<_> = share
            .into_iter()
            .map(|worker| {
                let burst = burst.clone();
                tokio::spawn(async move {
                    match burst {
                        Some(burst) => worker.run_bursts(&burst).await,
                        None => worker.run().await,
                    }
                })
            })
            .collect();
        for task in tasks {
            // A worker only ends by finishing; a panic would be a bug in racegate.
            let _ = task.await;
        }
    };
    tokio::task::spawn_blocking(move || {
        // Given back to the pool with its normal policy when done.
        let _batch = sched::Batch::enter();
        // Sockets and timers only: a signal driver would look for orphaned
        // child processes every time the thread parks.
        match tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
        {
            Ok(own) => own.block_on(work),
            Err(_) => caller.block_on(work),
        }
    })
}

fn base_headers(config: &FireConfig) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(HOST, config.target.authority.clone());
    for (name, value) in &config.request.headers {
        headers.append(name.clone(), value.clone());
    }
    // The client writes the body's own length with every request.
    headers.remove(CONTENT_LENGTH);
    if let Some(body) = &config.request.body {
        if !headers.contains_key(CONTENT_TYPE) {
            let ct = if body.looks_like_json() {
                "application/json"
            } else {
                "application/octet-stream"
            };
            headers.insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static(ct));
        }
    }
    headers
}
