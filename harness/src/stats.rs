//! Tallies of a thread's workers (or of one worker, in `kv`), merged at the
//! end of a run. Memory is constant in the run's length: counters, two HDR
//! histograms, capped clusters.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::cluster::Clusters;
use crate::histogram::{new_histogram, record};
use crate::outcome::FailureKind;

/// What a thread's workers (or a whole run, once merged) saw.
#[derive(Clone, Debug)]
pub struct RunStats {
    /// Requests judged.
    pub total: u64,
    /// Requests that passed.
    pub passed: u64,
    /// Failures by kind, indexed as [`FailureKind::ALL`].
    pub failures: [u64; FailureKind::COUNT],
    /// Failures per body check, indexed as `Checks::body`.
    pub check_failures: Vec<u64>,
    /// Answers by status.
    pub statuses: BTreeMap<u16, u64>,
    /// Latency of every request that got a complete answer, from its intended
    /// send time (equal to the actual one in a closed loop).
    pub latency: Histogram<u64>,
    /// The same from the actual send time; kept only with `--rate` (in a
    /// closed loop the two are the same).
    pub latency_uncorrected: Option<Histogram<u64>>,
    /// Failure clusters.
    pub clusters: Clusters,
    /// Requests the nemesis broke on purpose: not judged, not in `total`.
    pub faulted: u64,
}

impl RunStats {
    /// Empty tallies for `checks` body checks; `open_loop` keeps the
    /// uncorrected latencies apart.
    pub fn new(checks: usize, open_loop: bool) -> Self {
        Self {
            total: 0,
            passed: 0,
            failures: [0; FailureKind::COUNT],
            check_failures: vec![0; checks],
            statuses: BTreeMap::new(),
            latency: new_histogram(),
            latency_uncorrected: open_loop.then(new_histogram),
            clusters: Clusters::default(),
            faulted: 0,
        }
    }

    /// Records an answered request's latencies.
    pub fn record_latency(&mut self, corrected: Duration, uncorrected: Duration) {
        record(&mut self.latency, micros(corrected));
        if let Some(h) = &mut self.latency_uncorrected {
            record(h, micros(uncorrected));
        }
    }

    /// Records a status.
    pub fn record_status(&mut self, status: u16) {
        *self.statuses.entry(status).or_default() += 1;
    }

    /// Records a request the nemesis broke on purpose.
    pub fn fault(&mut self) {
        self.faulted += 1;
    }

    /// Records a pass.
    pub fn pass(&mut self) {
        self.total += 1;
        self.passed += 1;
    }

    /// Records a failure; returns its cluster's normalised message.
    pub fn fail(
        &mut self,
        kind: FailureKind,
        check: Option<usize>,
        request: u64,
        status: Option<u16>,
        message: &str,
    ) -> &str {
        self.total += 1;
        self.failures[kind as usize] += 1;
        if let Some(c) = check.and_then(|c| self.check_failures.get_mut(c)) {
            *c += 1;
        }
        self.clusters.record(kind, request, status, message)
    }

    /// Folds another worker's tallies into these.
    pub fn merge(&mut self, other: RunStats) {
        self.faulted += other.faulted;
        self.total += other.total;
        self.passed += other.passed;
        for (a, b) in self.failures.iter_mut().zip(other.failures) {
            *a += b;
        }
        for (a, b) in self.check_failures.iter_mut().zip(other.check_failures) {
            *a += b;
        }
        for (s, n) in other.statuses {
            *self.statuses.entry(s).or_default() += n;
        }
        // Auto-resizing: adding cannot fail.
        let _ = self.latency.add(&other.latency);
        if let (Some(a), Some(b)) = (&mut self.latency_uncorrected, &other.latency_uncorrected) {
            let _ = a.add(b);
        }
        self.clusters.merge(other.clusters.into_sorted());
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}
