//! The report of one run: one serde model that `report.json`, `report.md`,
//! `report.html`, `junit.xml` and the terminal summary all render from
//! ([`markdown`], [`html`], [`junit`], [`summary`]; a history violation's
//! page is [`history_html`]), and exact merging of reports from several runs
//! ([`merge`]; the serialised HDR histogram travels in the JSON).

pub mod history_html;
pub mod html;
mod info;
mod junit;
mod markdown;
mod merge;
mod summary;

pub use info::{Http2Info, Latency, LoadInfo, ShardInfo, TargetInfo, TlsInfo};
pub use summary::history_lines;

use std::collections::BTreeMap;
use std::path::Path;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::check::Checks;
use crate::cluster::FailureCluster;
use crate::gate::{Gate, GateResult};
use crate::histogram::percentile_ms;
use crate::history::{HistoryCheck, Verdict};
use crate::nemesis::server::ServerFaultReport;
use crate::nemesis::{FaultsReport, RECOVERY_FLOOR};
use crate::outcome::FailureKind;
use crate::rate::PassRate;
use crate::render::files::{write_pages, Page, WriteError};
use crate::stats::RunStats;
use crate::timeline::{Timeline, TimelineError, TimelineReport};

/// The version of `report.json`'s layout; `schema/report.schema.json`
/// describes it.
pub const SCHEMA_VERSION: u32 = 1;

/// The outcome of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// Layout version, [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `racegate <version>`.
    pub tool: String,
    /// What was fired.
    pub target: TargetInfo,
    /// How it was fired.
    pub load: LoadInfo,
    /// The checks each response was judged by.
    pub checks: Checks,
    /// Requests judged.
    pub total: u64,
    /// Requests that passed.
    pub passed: u64,
    /// Requests that failed.
    pub failed: u64,
    /// `passed / total` (1 for an empty run).
    pub pass_rate: f64,
    /// 95 % Wilson score interval of the pass rate, `[lo, hi]`.
    pub pass_rate_ci95: [f64; 2],
    /// Failures by kind.
    pub failures_by_kind: BTreeMap<FailureKind, u64>,
    /// Failures per body check, in the order of `checks.body`.
    pub check_failures: Vec<u64>,
    /// Answers by status code.
    pub status_codes: BTreeMap<u16, u64>,
    /// Wall time of the run, in seconds.
    pub duration_s: f64,
    /// Requests per second over the run.
    pub requests_per_second: f64,
    /// Latency of answered requests, from intended send time (coordinated
    /// omission corrected with `--rate`).
    pub latency_ms: Latency,
    /// Latency from actual send time; differs from `latency_ms` only with `--rate`.
    pub latency_uncorrected_ms: Latency,
    /// Failures grouped by normalised message, largest first.
    pub failure_clusters: Vec<FailureCluster>,
    /// The latency histograms, for exact merging.
    pub histogram: HistogramData,
    /// The gate's verdict.
    pub gate: GateResult,
    /// Whether the run stopped early at a failure that made its outcome
    /// certain (see [`Halt`](crate::plan::Halt)); the counts cover what was
    /// sent until then.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub halted: bool,
    /// For `racegate kv`: the history check. A run passes its gate only if
    /// the history is linearizable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<HistoryCheck>,
    /// For one shard of a split run: which. A merged report has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// The run over time, bucket by bucket (the buckets sum to the totals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<TimelineReport>,
    /// Requests the nemesis broke on purpose: not judged, not in `total`.
    #[serde(default)]
    pub faulted: u64,
    /// The faults injected, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultsReport>,
}

/// Serialised HDR histograms.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HistogramData {
    /// `hdrhistogram-v2-deflate+base64`.
    pub encoding: String,
    /// `microseconds`.
    pub unit: String,
    /// The corrected latencies.
    pub corrected: String,
    /// The uncorrected latencies.
    pub uncorrected: String,
}

/// A report could not be decoded or merged.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The histogram data is not valid.
    #[error("bad histogram in report: {0}")]
    Histogram(String),
    /// Reports of different targets or checks.
    #[error("cannot merge reports of different runs: {0}")]
    Mismatch(&'static str),
    /// Reading a report file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A timeline that cannot be read or merged.
    #[error(transparent)]
    Timeline(#[from] TimelineError),
    /// The JSON does not match the schema version.
    #[error("{path}: not a racegate report: {source}")]
    Json {
        /// The file.
        path: String,
        /// The error.
        source: serde_json::Error,
    },
}

pub(crate) fn latency_of(h: &Histogram<u64>) -> Latency {
    if h.is_empty() {
        return Latency::default();
    }
    Latency {
        p50: percentile_ms(h, 0.50),
        p90: percentile_ms(h, 0.90),
        p99: percentile_ms(h, 0.99),
        p999: percentile_ms(h, 0.999),
        max: percentile_ms(h, 1.0),
        mean: h.mean() / 1000.0,
    }
}

impl Report {
    /// Builds the report of a finished run.
    pub fn new(
        target: TargetInfo,
        load: LoadInfo,
        checks: Checks,
        gate: Gate,
        stats: RunStats,
        duration_s: f64,
    ) -> Self {
        let uncorrected = stats
            .latency_uncorrected
            .clone()
            .unwrap_or_else(|| stats.latency.clone());
        let failures_by_kind = FailureKind::ALL
            .into_iter()
            .map(|k| (k, stats.failures[k as usize]))
            .collect();
        let mut report = Self {
            schema_version: SCHEMA_VERSION,
            tool: format!("racegate {}", env!("CARGO_PKG_VERSION")),
            target,
            load,
            checks,
            total: stats.total,
            passed: stats.passed,
            failed: stats.total - stats.passed,
            pass_rate: 0.0,
            pass_rate_ci95: [0.0, 1.0],
            failures_by_kind,
            check_failures: stats.check_failures,
            status_codes: stats.statuses,
            duration_s,
            requests_per_second: 0.0,
            latency_ms: latency_of(&stats.latency),
            latency_uncorrected_ms: latency_of(&uncorrected),
            failure_clusters: stats.clusters.into_sorted(),
            histogram: HistogramData {
                encoding: "hdrhistogram-v2-deflate+base64".into(),
                unit: "microseconds".into(),
                corrected: merge::encode(&stats.latency),
                uncorrected: merge::encode(&uncorrected),
            },
            gate: GateResult {
                gate,
                passed: false,
                reasons: Vec::new(),
            },
            halted: false,
            history: None,
            shard: None,
            timeline: None,
            faulted: stats.faulted,
            faults: None,
        };
        report.recompute();
        report
    }

    /// Recomputes everything derived from the counts and histograms.
    fn recompute(&mut self) {
        self.failed = self.total - self.passed;
        let rate = PassRate::new(self.passed, self.total);
        self.pass_rate = rate.rate();
        self.pass_rate_ci95 = rate.ci95();
        self.requests_per_second = if self.duration_s > 0.0 {
            self.total as f64 / self.duration_s
        } else {
            0.0
        };
        self.gate = self
            .gate
            .gate
            .judge(self.total, self.pass_rate, self.latency_ms.p99);
        for reason in self.late_recoveries() {
            self.gate.passed = false;
            self.gate.reasons.push(reason);
        }
        if let Some(h) = &self.history {
            let reason = match (h.verdict, &h.counterexample) {
                (Verdict::Linearizable, _) => None,
                (Verdict::Violation, Some(c)) => {
                    Some(format!("history not linearizable: {}", c.explanation))
                }
                (Verdict::Violation, None) => Some("history not linearizable".to_owned()),
                (Verdict::Unknown, _) => Some(format!(
                    "history check undecided: its budget ran out after {:.0} ms",
                    h.check_ms
                )),
            };
            if let Some(r) = reason {
                self.gate.passed = false;
                self.gate.reasons.push(r);
            }
        }
    }

    /// One line per fault window that took longer than the gate's
    /// `max_recovery_ms` to recover, or never did.
    pub fn late_recoveries(&self) -> Vec<String> {
        let (Some(max), Some(faults)) = (self.gate.gate.max_recovery_ms, &self.faults) else {
            return Vec::new();
        };
        faults
            .windows
            .iter()
            .filter(|w| w.recovery_ms.is_none_or(|ms| ms > max))
            .map(|w| {
                format!(
                    "fault window {}–{} ms {}, allowed {max} ms",
                    w.from_ms,
                    w.to_ms,
                    crate::nemesis::recovery_words(w)
                )
            })
            .collect()
    }

    /// Judges the run again with other thresholds.
    pub fn regate(&mut self, gate: Gate) {
        self.gate.gate = gate;
        self.recompute();
    }

    /// Attaches the run's timeline.
    pub fn set_timeline(&mut self, timeline: &Timeline) {
        self.timeline = Some(timeline.to_report(&self.cluster_keys()));
    }

    /// Each cluster's kind and message, as timelines refer to them.
    pub(crate) fn cluster_keys(&self) -> Vec<(FailureKind, &str)> {
        self.failure_clusters
            .iter()
            .map(|c| (c.kind, c.message.as_str()))
            .collect()
    }

    /// Attaches the faults the run injected; with `max_recovery_ms` the gate
    /// now also requires every window to recover in time.
    pub fn set_faults(&mut self, faults: FaultsReport) {
        self.faults = Some(faults);
        self.recompute();
    }

    /// Records what was done to the server during the run (which started at
    /// `start_unix_ms`), into its faults (made with `seed` if it had none),
    /// and judges the window it left on the timeline, if the run kept one.
    pub fn add_server_fault(&mut self, fault: ServerFaultReport, seed: u64, start_unix_ms: u64) {
        let mut faults = self
            .faults
            .take()
            .unwrap_or_else(|| FaultsReport::new(seed, None, start_unix_ms, RECOVERY_FLOOR, None));
        faults.add_server(fault, self.timeline.as_ref());
        self.set_faults(faults);
    }

    /// Attaches a history check; the gate now also requires it linearizable.
    pub fn set_history(&mut self, check: HistoryCheck) {
        self.history = Some(check);
        self.recompute();
    }

    /// Reads a `report.json`.
    pub fn read(path: &Path) -> Result<Self, ReportError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
            path: name.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| ReportError::Json { path: name, source })
    }

    /// The run's pages: `report.json`, `report.md`, `report.html` and
    /// `junit.xml`.
    pub fn pages(&self) -> Vec<Page> {
        let json = serde_json::to_string_pretty(self)
            .unwrap_or_else(|_| unreachable!("the report model always serialises"));
        vec![
            ("report.json", json),
            ("report.md", self.to_markdown()),
            ("report.html", self.to_html()),
            ("junit.xml", self.to_junit().to_xml()),
        ]
    }

    /// Writes [`pages`](Self::pages) into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), WriteError> {
        write_pages(dir, self.pages())
    }

    /// Panics with the summary unless the pass rate is at least `min`.
    pub fn assert_pass_rate(&self, min: f64) {
        assert!(
            self.pass_rate >= min,
            "pass rate below {min}:\n{}",
            self.summary()
        );
    }

    /// Panics with the summary unless the gate passed.
    pub fn assert_gate(&self) {
        assert!(self.gate.passed, "gate failed:\n{}", self.summary());
    }

    /// How many requests failed with `kind`.
    pub fn failures(&self, kind: FailureKind) -> u64 {
        self.failures_by_kind.get(&kind).copied().unwrap_or(0)
    }
}

/// The path and query of a URL: what identifies an endpoint across hosts.
pub fn endpoint(url: &str) -> &str {
    url.find("://")
        .and_then(|i| url[i + 3..].find('/').map(|j| &url[i + 3 + j..]))
        .unwrap_or(url)
}
