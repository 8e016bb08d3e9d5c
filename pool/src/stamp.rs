//! Cheap timestamps for measuring how long acquires wait: the CPU's
//! time-stamp counter on x86-64, converted to time only when read.
//!
//! A queued acquire read `Instant::now` twice (its start and its end, for
//! `racegate_pool_acquire_wait_seconds_sum`). On Linux that read is the
//! vDSO's `clock_gettime`, which fences the time-stamp counter (`lfence;
//! rdtsc`): it waits for every earlier load, here the cache misses a wait's
//! hand-off is made of. In the pool bench at 16 tasks on 4 connections the
//! two reads were about a seventh of our time above the no-pool floor. A
//! plain `rdtsc` does not wait; a stamp may be read a few instructions
//! early or late, which a wait's length does not notice.
//!
//! Stamps measure, they do not bound: deadlines stay on `Instant` (see
//! `waiting.rs`). Ticks become time against the process's first stamp:
//! the ratio of ticks to `Instant` time since then, read at conversion
//! (x86-64's counter runs at a constant rate where Linux uses it as its
//! clock; elsewhere a tick is a nanosecond of `Instant` already).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A moment, in ticks: comparable only with other stamps.
#[derive(Clone, Copy, Debug)]
pub(super) struct Stamp(u64);

impl Stamp {
    /// Now.
    pub(super) fn now() -> Self {
        Self(ticks())
    }

    /// Ticks since this stamp (none if the counter went back).
    pub(super) fn ticks_since(self) -> u64 {
        ticks().saturating_sub(self.0)
    }
}

/// The process's first reading of both clocks, which conversions measure
/// the tick rate against.
fn base() -> &'static (u64, Instant) {
    static BASE: OnceLock<(u64, Instant)> = OnceLock::new();
    BASE.get_or_init(|| (ticks(), Instant::now()))
}

/// Takes the base reading now if nothing has, so that by the first
/// conversion it spans some time (the pool calls this when it is built).
pub(super) fn start() {
    base();
}

#[cfg(target_arch = "x86_64")]
fn ticks() -> u64 {
    // SAFETY: `rdtsc` reads a counter; it has no preconditions (every
    // x86-64 CPU has it) and touches no memory.
    #[allow(unsafe_code)]
    unsafe {
        std::arch::x86_64::_rdtsc()
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn ticks() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// `elapsed` ticks as time, at the rate the counter has run since the base
/// reading. Reads `Instant::now`: for metrics and rare paths, not per
/// acquire.
pub(super) fn duration(elapsed: u64) -> Duration {
    let (base_ticks, base_at) = *base();
    let (now_ticks, now_at) = (ticks(), Instant::now());
    let span_ticks = now_ticks.saturating_sub(base_ticks);
    let span_nanos = now_at.saturating_duration_since(base_at).as_nanos();
    if span_ticks == 0 || span_nanos == 0 {
        return Duration::ZERO;
    }
    let nanos = u128::from(elapsed) * span_nanos / u128::from(span_ticks);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}
