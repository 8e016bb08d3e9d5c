//! The run over time: requests counted in fixed buckets by the time they
//! were (meant to be) sent, each with passes, failures by kind and by
//! cluster, and a low-precision latency histogram.
//!
//! - Memory is bounded: a timeline never spans more than [`MAX_BUCKETS`]
//!   buckets; a longer run doubles the bucket width (pairs merge) as often
//!   as needed. A bucket is a few hundred bytes.
//! - Buckets lie on a wall-clock grid (multiples of the width since the
//!   Unix epoch), so the timelines of shards on several machines add up
//!   bucket by bucket, and the per-bucket histograms make the merged
//!   percentiles exactly those one run would have given.
//! - Every request is counted in exactly one bucket, so the buckets sum to
//!   the run's totals.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::histogram::{percentile_ms, CoarseHistogram};
use crate::outcome::FailureKind;

/// The default bucket width: fine enough that a short run draws hundreds
/// of buckets and a recovery is timed to a few milliseconds; a longer run
/// doubles it (powers of two, so shards' timelines still merge).
pub const DEFAULT_BUCKET_MS: u64 = 1;
/// The most buckets a timeline spans before its buckets widen: enough to
/// time a 0.5 s run to the millisecond and a minute to 128 ms, few enough
/// that workers starting at 1 ms hand over their buckets rarely (with
/// 2,000, 1 ms buckets cost `fire` 6–11 % of its throughput on `/livez`;
/// with 500, none measurable).
pub const MAX_BUCKETS: u64 = 500;
/// Distinct failure clusters counted per bucket; failures of further ones
/// still count by kind.
pub const CLUSTERS_PER_BUCKET: usize = 16;
/// What was sent in one bucket of time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    /// Requests that passed.
    pub passed: u64,
    /// Failures by kind, indexed as [`FailureKind::ALL`].
    pub failed: [u64; FailureKind::COUNT],
    /// Failures by cluster (kind and normalised message), at most
    /// [`CLUSTERS_PER_BUCKET`] of them.
    pub clusters: Vec<(FailureKind, String, u64)>,
    /// Latencies of the answered requests.
    pub latency: CoarseHistogram,
    /// Requests the nemesis broke on purpose (not in `sent`).
    pub faulted: u64,
}

impl Bucket {
    /// Requests sent (each one passed or failed).
    pub fn sent(&self) -> u64 {
        self.passed + self.failed_total()
    }

    /// Requests that failed.
    pub fn failed_total(&self) -> u64 {
        self.failed.iter().sum()
    }

    /// Counts a pass.
    pub fn pass(&mut self) {
        self.passed += 1;
    }

    /// Counts a failure and, if given, its cluster.
    pub fn fail(&mut self, kind: FailureKind, cluster: Option<&str>) {
        self.failed[kind as usize] += 1;
        if let Some(message) = cluster {
            self.add_cluster(kind, message, 1);
        }
    }

    fn add_cluster(&mut self, kind: FailureKind, message: &str, n: u64) {
        let found = self
            .clusters
            .iter_mut()
            .find(|(k, m, _)| *k == kind && m == message);
        if let Some((_, _, count)) = found {
            *count += n;
        } else if self.clusters.len() < CLUSTERS_PER_BUCKET {
            self.clusters.push((kind, message.to_owned(), n));
        }
    }

    /// Adds another bucket's counts.
    pub fn add(&mut self, other: &Bucket) {
        self.faulted += other.faulted;
        self.passed += other.passed;
        for (a, b) in self.failed.iter_mut().zip(other.failed) {
            *a += b;
        }
        for (kind, message, n) in &other.clusters {
            self.add_cluster(*kind, message, *n);
        }
        self.latency.add(&other.latency);
    }
}

/// A timeline under construction, or rebuilt from a report to be merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    /// The width callers index by (see [`add`](Self::add)).
    base_ms: u64,
    /// The current width: `base_ms` doubled as often as the bound needed.
    bucket_ms: u64,
    /// When the run started (Unix ms).
    start_unix_ms: u64,
    /// Buckets by their index on the `bucket_ms` grid.
    buckets: BTreeMap<u64, Bucket>,
}

/// How two timelines are laid over each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// By wall-clock time: shards of one run, side by side.
    WallClock,
    /// Each from its own start: runs one after another (trials), so that
    /// what happens at the same point of each run adds up.
    Start,
}

/// The index of the bucket of width `bucket_ms` holding `unix_ms`, on the
/// wall-clock grid.
pub fn bucket_index(unix_ms: u64, bucket_ms: u64) -> u64 {
    unix_ms / bucket_ms.max(1)
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new(0, DEFAULT_BUCKET_MS)
    }
}

impl Timeline {
    /// An empty timeline of a run started at `start_unix_ms`, in buckets of
    /// `bucket_ms` (at least 1).
    pub fn new(start_unix_ms: u64, bucket_ms: u64) -> Self {
        let bucket_ms = bucket_ms.max(1);
        Self {
            base_ms: bucket_ms,
            bucket_ms,
            start_unix_ms,
            buckets: BTreeMap::new(),
        }
    }

    /// The current bucket width.
    pub fn bucket_ms(&self) -> u64 {
        self.bucket_ms
    }

    /// Adds `bucket`, recorded at `base_index`: its [`bucket_index`] on the
    /// width this timeline was created with.
    pub fn add(&mut self, base_index: u64, bucket: &Bucket) {
        self.add_at(self.base_ms, base_index, bucket);
    }

    /// Adds `bucket`, recorded at `index` on a grid of `width_ms`: this
    /// timeline's width at some point (its creation width times a power of
    /// two), so it divides the current one.
    pub fn add_at(&mut self, width_ms: u64, index: u64, bucket: &Bucket) {
        let i = index * width_ms / self.bucket_ms;
        self.buckets.entry(i).or_default().add(bucket);
        self.bound();
    }

    fn first_index(&self) -> u64 {
        self.start_unix_ms / self.bucket_ms
    }

    /// Widens the buckets until the span fits [`MAX_BUCKETS`].
    fn bound(&mut self) {
        while self
            .buckets
            .last_key_value()
            .is_some_and(|(&last, _)| last + 1 - self.first_index().min(last) > MAX_BUCKETS)
        {
            self.regrid(self.bucket_ms * 2);
        }
    }

    /// Moves to width `ms`, a multiple of the current one.
    fn regrid(&mut self, ms: u64) {
        let old = std::mem::take(&mut self.buckets);
        for (i, b) in old {
            self.buckets
                .entry(i * self.bucket_ms / ms)
                .or_default()
                .add(&b);
        }
        self.bucket_ms = ms;
    }

    /// The sum of the buckets that overlap the last `window_ms` before
    /// `now_unix_ms`: what the live line shows.
    pub fn recent(&self, now_unix_ms: u64, window_ms: u64) -> Bucket {
        let from = now_unix_ms.saturating_sub(window_ms) / self.bucket_ms;
        let mut sum = Bucket::default();
        for (_, b) in self.buckets.range(from..) {
            sum.add(b);
        }
        sum
    }

    /// Every bucket summed.
    pub fn total(&self) -> Bucket {
        let mut sum = Bucket::default();
        for b in self.buckets.values() {
            sum.add(b);
        }
        sum
    }

    /// Folds in `other`, widening either side's buckets to the wider width
    /// (which must be a multiple of the narrower).
    pub fn absorb(&mut self, mut other: Timeline, align: Align) -> Result<(), TimelineError> {
        let (a, b) = (self.bucket_ms, other.bucket_ms);
        let wide = a.max(b);
        if wide % a.min(b) != 0 {
            return Err(TimelineError::Widths(a, b));
        }
        if self.bucket_ms < wide {
            self.regrid(wide);
        }
        if other.bucket_ms < wide {
            other.regrid(wide);
        }
        match align {
            Align::WallClock => {
                for (i, bucket) in &other.buckets {
                    self.buckets.entry(*i).or_default().add(bucket);
                }
                self.start_unix_ms = self.start_unix_ms.min(other.start_unix_ms);
            }
            Align::Start => {
                let (mine, theirs) = (self.first_index(), other.first_index());
                for (i, bucket) in &other.buckets {
                    let at = (mine + i).saturating_sub(theirs);
                    self.buckets.entry(at).or_default().add(bucket);
                }
            }
        }
        self.base_ms = self.bucket_ms;
        self.bound();
        Ok(())
    }

    /// The report form. `clusters` is the report's cluster list: each
    /// bucket's clusters become indices into it.
    pub fn to_report(&self, clusters: &[(FailureKind, &str)]) -> TimelineReport {
        let index: HashMap<(FailureKind, &str), usize> = clusters
            .iter()
            .enumerate()
            .map(|(i, &(k, m))| ((k, m), i))
            .collect();
        let first = self
            .buckets
            .first_key_value()
            .map_or(self.first_index(), |(&i, _)| i.min(self.first_index()));
        let last = self
            .buckets
            .last_key_value()
            .map_or(first, |(&i, _)| i.max(first));
        let empty = Bucket::default();
        let buckets = (first..=last)
            .map(|i| {
                let b = self.buckets.get(&i).unwrap_or(&empty);
                let mut by_cluster: Vec<[u64; 2]> = b
                    .clusters
                    .iter()
                    .filter_map(|(k, m, n)| index.get(&(*k, m.as_str())).map(|&c| [c as u64, *n]))
                    .collect();
                by_cluster.sort_unstable();
                BucketReport {
                    t_ms: (i - first) * self.bucket_ms,
                    sent: b.sent(),
                    passed: b.passed,
                    failed: b.failed_total(),
                    failed_by_kind: FailureKind::ALL
                        .into_iter()
                        .filter(|&k| b.failed[k as usize] > 0)
                        .map(|k| (k, b.failed[k as usize]))
                        .collect(),
                    failed_by_cluster: by_cluster,
                    latency_ms: (!b.latency.is_empty()).then(|| BucketLatency {
                        p50: percentile_ms(&b.latency, 0.50),
                        p99: percentile_ms(&b.latency, 0.99),
                        max: percentile_ms(&b.latency, 1.0),
                    }),
                    latency_bins: b.latency.bins(),
                    faulted: b.faulted,
                    latency_max_us: b.latency.max(),
                }
            })
            .collect();
        TimelineReport {
            bucket_ms: self.bucket_ms,
            start_unix_ms: first * self.bucket_ms,
            buckets,
        }
    }

    /// Rebuilds a timeline from its report form and the report's clusters.
    pub fn from_report(
        report: &TimelineReport,
        clusters: &[(FailureKind, &str)],
    ) -> Result<Self, TimelineError> {
        if report.bucket_ms == 0 {
            return Err(TimelineError::Widths(0, 0));
        }
        let mut timeline = Timeline::new(report.start_unix_ms, report.bucket_ms);
        for r in &report.buckets {
            if r.sent == 0 && r.faulted == 0 {
                continue;
            }
            let mut b = Bucket {
                passed: r.passed,
                faulted: r.faulted,
                latency: CoarseHistogram::from_bins(&r.latency_bins, r.latency_max_us)
                    .map_err(|bad| TimelineError::Bin(bad.0))?,
                ..Bucket::default()
            };
            for (k, n) in &r.failed_by_kind {
                b.failed[*k as usize] += n;
            }
            for &[c, n] in &r.failed_by_cluster {
                let &(kind, message) = usize::try_from(c)
                    .ok()
                    .and_then(|c| clusters.get(c))
                    .ok_or(TimelineError::Cluster(c))?;
                b.add_cluster(kind, message, n);
            }
            let i = (report.start_unix_ms + r.t_ms) / report.bucket_ms;
            timeline.buckets.entry(i).or_default().add(&b);
        }
        Ok(timeline)
    }
}

/// A timeline's report form (`report.json` `timeline`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineReport {
    /// The width of every bucket.
    pub bucket_ms: u64,
    /// The start of the first bucket (Unix ms): the run's start, rounded
    /// down to the bucket grid.
    pub start_unix_ms: u64,
    /// Every bucket from the run's start to its last request, empty ones
    /// included.
    pub buckets: Vec<BucketReport>,
}

/// One bucket of a [`TimelineReport`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BucketReport {
    /// The bucket's start, from `start_unix_ms`.
    pub t_ms: u64,
    /// Requests sent in this bucket (= passed + failed).
    pub sent: u64,
    /// Of which passed.
    pub passed: u64,
    /// Of which failed.
    pub failed: u64,
    /// Failures by kind (kinds with none left out).
    pub failed_by_kind: BTreeMap<FailureKind, u64>,
    /// `[index into failure_clusters, count]`, for the first clusters seen
    /// in the bucket.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_by_cluster: Vec<[u64; 2]>,
    /// Latency of the answered requests; `null` when none was answered.
    pub latency_ms: Option<BucketLatency>,
    /// The latency histogram: `[bin, count]`, eight log-linear bins per
    /// power of two of µs. Kept so that merged percentiles are exact.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latency_bins: Vec<[u64; 2]>,
    /// Requests the nemesis broke on purpose in this bucket (not in `sent`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub faulted: u64,
    /// The largest latency, µs.
    #[serde(default)]
    pub latency_max_us: u64,
}

/// A bucket's latency summary.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BucketLatency {
    /// Median, ms (within 12.5 %).
    pub p50: f64,
    /// 99th percentile, ms (within 12.5 %).
    pub p99: f64,
    /// Maximum, ms (exact).
    pub max: f64,
}

/// A timeline that cannot be read or merged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimelineError {
    /// Bucket widths that do not divide.
    #[error(
        "timelines in {0} ms and {1} ms buckets cannot be merged (one width must divide the other)"
    )]
    Widths(u64, u64),
    /// A histogram bin out of range.
    #[error("timeline latency bin {0} is out of range")]
    Bin(u64),
    /// A cluster index the report does not have.
    #[error("timeline refers to failure cluster {0}, which the report does not list")]
    Cluster(u64),
}

#[cfg(test)]
mod tests;

fn is_zero(n: &u64) -> bool {
    *n == 0
}
