//! The report: one serde model that `report.json`, `report.md` and
//! `junit.xml` all render from, the pass rate's Wilson interval, the gate,
//! and exact merging of reports from several runs (the serialised HDR
//! histogram travels in the JSON).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::check::{Checks, FailureKind};
use crate::cluster::{Clusters, FailureCluster};
use crate::stats::{new_histogram, RunStats};

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
}

/// The target.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TargetInfo {
    /// HTTP method.
    pub method: String,
    /// URL.
    pub url: String,
}

/// The load shape.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LoadInfo {
    /// Workers (connections).
    pub concurrency: usize,
    /// `-n`, if the run was bounded by count.
    pub requests: Option<u64>,
    /// `-z`, if bounded by duration, in seconds.
    pub duration_limit_s: Option<f64>,
    /// `--rate`, requests per second, if open loop.
    pub rate: Option<f64>,
    /// Whether `--burst` was on.
    pub burst: bool,
    /// Per-request timeout, in milliseconds.
    pub timeout_ms: u64,
}

/// Latency percentiles, in milliseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
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

/// Thresholds a run must meet.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Gate {
    /// Lowest acceptable pass rate, 0 to 1.
    pub min_pass_rate: f64,
    /// Highest acceptable p99, in milliseconds.
    pub max_p99_ms: Option<f64>,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            min_pass_rate: 1.0,
            max_p99_ms: None,
        }
    }
}

/// The gate's verdict.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct GateResult {
    /// The thresholds.
    #[serde(flatten)]
    pub gate: Gate,
    /// Whether every threshold was met.
    pub passed: bool,
    /// One line per unmet threshold.
    pub reasons: Vec<String>,
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
    /// Reading or writing a report file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The JSON does not match the schema version.
    #[error("{path}: not a racegate report: {source}")]
    Json {
        /// The file.
        path: String,
        /// The error.
        source: serde_json::Error,
    },
}

/// The 95 % Wilson score interval for `passed` successes in `total` trials.
pub fn wilson_ci95(passed: u64, total: u64) -> [f64; 2] {
    if total == 0 {
        return [0.0, 1.0];
    }
    let z = 1.959_963_984_540_054_f64;
    let n = total as f64;
    let p = passed as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z * ((p * (1.0 - p) / n) + z2 / (4.0 * n * n)).sqrt() / denom;
    // At the edges the formula's rounding error would leave 1e-17 instead of 0.
    let lo = if passed == 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let hi = if passed == total {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    [lo, hi]
}

fn latency_of(h: &Histogram<u64>) -> Latency {
    if h.is_empty() {
        return Latency::default();
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Latency {
        p50: ms(h.value_at_quantile(0.50)),
        p90: ms(h.value_at_quantile(0.90)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
        mean: h.mean() / 1000.0,
    }
}

fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    // Serialising into a Vec cannot fail for a valid histogram.
    let _ = V2DeflateSerializer::new().serialize(h, &mut buf);
    base64::engine::general_purpose::STANDARD.encode(buf)
}

fn decode(s: &str) -> Result<Histogram<u64>, ReportError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| ReportError::Histogram(e.to_string()))?;
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| ReportError::Histogram(format!("{e:?}")))?;
    let mut out = new_histogram();
    out.add(&h)
        .map_err(|e| ReportError::Histogram(format!("{e:?}")))?;
    Ok(out)
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
                corrected: encode(&stats.latency),
                uncorrected: encode(&uncorrected),
            },
            gate: GateResult {
                gate,
                passed: false,
                reasons: Vec::new(),
            },
        };
        report.recompute();
        report
    }

    /// Recomputes everything derived from the counts and histograms.
    fn recompute(&mut self) {
        self.failed = self.total - self.passed;
        self.pass_rate = if self.total == 0 {
            1.0
        } else {
            self.passed as f64 / self.total as f64
        };
        self.pass_rate_ci95 = wilson_ci95(self.passed, self.total);
        self.requests_per_second = if self.duration_s > 0.0 {
            self.total as f64 / self.duration_s
        } else {
            0.0
        };
        let gate = self.gate.gate;
        let mut reasons = Vec::new();
        if self.total == 0 {
            reasons.push("no request was judged".to_owned());
        }
        if self.pass_rate < gate.min_pass_rate {
            reasons.push(format!(
                "pass rate {} is below the required {}",
                percent(self.pass_rate),
                percent(gate.min_pass_rate)
            ));
        }
        if let Some(max) = gate.max_p99_ms {
            if self.latency_ms.p99 > max {
                reasons.push(format!(
                    "p99 {:.2} ms is above the allowed {max} ms",
                    self.latency_ms.p99
                ));
            }
        }
        self.gate.passed = reasons.is_empty();
        self.gate.reasons = reasons;
    }

    /// Adds another run of the same target and checks: counts add up and
    /// percentiles come from the merged histograms, exactly.
    pub fn merge(&mut self, other: &Report) -> Result<(), ReportError> {
        // Runs on other ports or machines merge; other endpoints do not.
        if self.target.method != other.target.method
            || endpoint(&self.target.url) != endpoint(&other.target.url)
        {
            return Err(ReportError::Mismatch("targets differ (method or path)"));
        }
        if self.checks != other.checks {
            return Err(ReportError::Mismatch("checks differ"));
        }
        let mut corrected = decode(&self.histogram.corrected)?;
        let mut uncorrected = decode(&self.histogram.uncorrected)?;
        corrected
            .add(decode(&other.histogram.corrected)?)
            .map_err(|e| ReportError::Histogram(format!("{e:?}")))?;
        uncorrected
            .add(decode(&other.histogram.uncorrected)?)
            .map_err(|e| ReportError::Histogram(format!("{e:?}")))?;
        self.total += other.total;
        self.passed += other.passed;
        for (k, n) in &other.failures_by_kind {
            *self.failures_by_kind.entry(*k).or_default() += n;
        }
        for (a, b) in self.check_failures.iter_mut().zip(&other.check_failures) {
            *a += b;
        }
        for (s, n) in &other.status_codes {
            *self.status_codes.entry(*s).or_default() += n;
        }
        let mut clusters = Clusters::default();
        clusters.merge(std::mem::take(&mut self.failure_clusters));
        clusters.merge(other.failure_clusters.clone());
        self.failure_clusters = clusters.into_sorted();
        self.duration_s += other.duration_s;
        self.latency_ms = latency_of(&corrected);
        self.latency_uncorrected_ms = latency_of(&uncorrected);
        self.histogram.corrected = encode(&corrected);
        self.histogram.uncorrected = encode(&uncorrected);
        self.recompute();
        Ok(())
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

    /// Writes `report.json`, `report.md` and `junit.xml` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), ReportError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| ReportError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let json = serde_json::to_string_pretty(self)
            .unwrap_or_else(|_| unreachable!("the report model always serialises"));
        for (name, text) in [
            ("report.json", json),
            ("report.md", self.to_markdown()),
            ("junit.xml", self.to_junit()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(io(&path))?;
        }
        Ok(())
    }

    /// A few lines for the terminal.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let [lo, hi] = self.pass_rate_ci95;
        let _ = writeln!(
            s,
            "{} {}: {}/{} passed, {} (95% CI {}–{}), {:.0} req/s over {:.2}s",
            self.target.method,
            self.target.url,
            self.passed,
            self.total,
            percent(self.pass_rate),
            percent(lo),
            percent(hi),
            self.requests_per_second,
            self.duration_s
        );
        let l = &self.latency_ms;
        let _ = writeln!(
            s,
            "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
            l.p50, l.p90, l.p99, l.p999, l.max
        );
        if self.load.rate.is_some() {
            let u = &self.latency_uncorrected_ms;
            let _ = writeln!(
                s,
                "  uncorrected: p50 {:.2}  p99 {:.2}  max {:.2}",
                u.p50, u.p99, u.max
            );
        }
        for c in self.failure_clusters.iter().take(8) {
            let _ = writeln!(s, "  {:>7} × {:<13} {}", c.count, c.kind.name(), c.message);
        }
        if self.failure_clusters.len() > 8 {
            let _ = writeln!(
                s,
                "  … {} more clusters in report.json",
                self.failure_clusters.len() - 8
            );
        }
        let verdict = if self.gate.passed {
            "PASS".to_owned()
        } else {
            format!("FAIL: {}", self.gate.reasons.join("; "))
        };
        let _ = write!(s, "gate: {verdict}");
        s
    }

    /// Markdown for a PR comment or `$GITHUB_STEP_SUMMARY`.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let icon = if self.gate.passed { "✅" } else { "❌" };
        let [lo, hi] = self.pass_rate_ci95;
        let _ = writeln!(
            s,
            "## {icon} racegate: `{} {}`\n",
            self.target.method, self.target.url
        );
        let _ = writeln!(
            s,
            "| pass rate | 95% CI | passed | failed | req/s | p50 ms | p99 ms | max ms |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
        let l = &self.latency_ms;
        let _ = writeln!(
            s,
            "| **{}** | {}–{} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} |\n",
            percent(self.pass_rate),
            percent(lo),
            percent(hi),
            self.passed,
            self.failed,
            self.requests_per_second,
            l.p50,
            l.p99,
            l.max
        );
        let load = &self.load;
        let bound = match (load.requests, load.duration_limit_s) {
            (Some(n), _) => format!("{n} requests"),
            (None, Some(d)) => format!("{d}s"),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "Load: {bound} at concurrency {}{}{}, timeout {} ms. Checks: status {}{}.\n",
            load.concurrency,
            load.rate
                .map(|r| format!(", {r} req/s open loop"))
                .unwrap_or_default(),
            if load.burst { ", burst" } else { "" },
            load.timeout_ms,
            self.checks.status,
            self.checks
                .body
                .iter()
                .map(|c| format!(", {}", c.describe()))
                .collect::<String>()
        );
        if self.failure_clusters.is_empty() {
            let _ = writeln!(s, "No failures.");
        } else {
            let _ = writeln!(
                s,
                "| count | kind | failure | first requests |\n|---|---|---|---|"
            );
            for c in self.failure_clusters.iter().take(20) {
                let firsts: Vec<String> = c
                    .examples
                    .iter()
                    .map(|e| format!("#{}", e.request))
                    .collect();
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} |",
                    c.count,
                    c.kind.name(),
                    md_cell(&c.message),
                    firsts.join(" ")
                );
            }
        }
        let _ = writeln!(
            s,
            "\n**Gate** (pass rate ≥ {}{}): {}",
            percent(self.gate.gate.min_pass_rate),
            self.gate
                .gate
                .max_p99_ms
                .map(|m| format!(", p99 ≤ {m} ms"))
                .unwrap_or_default(),
            if self.gate.passed {
                "passed".to_owned()
            } else {
                format!("failed — {}", self.gate.reasons.join("; "))
            }
        );
        s
    }

    /// JUnit XML: one case per check and per threshold.
    pub fn to_junit(&self) -> String {
        let mut cases: Vec<(String, Option<String>, String)> = Vec::new();
        let count = |k: FailureKind| self.failures_by_kind.get(&k).copied().unwrap_or(0);
        let gate_failed = !self.gate.passed;
        let mut check_case = |name: String, failures: u64| {
            let out = format!("{failures} of {} requests failed this check", self.total);
            let failure = (gate_failed && failures > 0).then(|| out.clone());
            cases.push((name, failure, out));
        };
        check_case(
            "requests get a complete answer (connect, timeout, indeterminate)".into(),
            count(FailureKind::Connect)
                + count(FailureKind::Timeout)
                + count(FailureKind::Indeterminate),
        );
        check_case(
            format!("status is {}", self.checks.status),
            count(FailureKind::Status),
        );
        for (check, n) in self.checks.body.iter().zip(&self.check_failures) {
            check_case(check.describe(), *n);
        }
        let rate_ok = self.pass_rate >= self.gate.gate.min_pass_rate && self.total > 0;
        cases.push((
            format!("pass rate ≥ {}", percent(self.gate.gate.min_pass_rate)),
            (!rate_ok).then(|| {
                format!(
                    "pass rate {} ({}/{})",
                    percent(self.pass_rate),
                    self.passed,
                    self.total
                )
            }),
            format!("pass rate {}", percent(self.pass_rate)),
        ));
        if let Some(max) = self.gate.gate.max_p99_ms {
            let p99 = self.latency_ms.p99;
            cases.push((
                format!("p99 ≤ {max} ms"),
                (p99 > max).then(|| format!("p99 {p99:.2} ms")),
                format!("p99 {p99:.2} ms"),
            ));
        }
        let failures = cases.iter().filter(|c| c.1.is_some()).count();
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let suite = xml_escape(&format!(
            "racegate {} {}",
            self.target.method, self.target.url
        ));
        let _ = writeln!(x, "<testsuites>\n  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{:.3}\">", cases.len(), self.duration_s);
        for (name, failure, out) in cases {
            let _ = writeln!(
                x,
                "    <testcase classname=\"racegate\" name=\"{}\">",
                xml_escape(&name)
            );
            if let Some(f) = failure {
                let _ = writeln!(x, "      <failure message=\"{}\"/>", xml_escape(&f));
            }
            let _ = writeln!(
                x,
                "      <system-out>{}</system-out>\n    </testcase>",
                xml_escape(&out)
            );
        }
        x.push_str("  </testsuite>\n</testsuites>\n");
        x
    }
}

/// `0.1234` → `12.34%`, trimmed. Never rounds to `100%` or `0%` unless it
/// is exactly that: a verdict must not hide the one failure in 100,000.
pub fn percent(x: f64) -> String {
    let fmt = |digits: usize| {
        let s = format!("{:.*}", digits, x * 100.0);
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        };
        format!("{s}%")
    };
    let exact_edge = x >= 1.0 || x <= 0.0;
    let mut digits = 2;
    let mut s = fmt(digits);
    while !exact_edge && (s == "100%" || s == "0%") && digits < 8 {
        digits += 1;
        s = fmt(digits);
    }
    s
}

/// The path and query of a URL: what identifies an endpoint across hosts.
pub fn endpoint(url: &str) -> &str {
    url.find("://")
        .and_then(|i| url[i + 3..].find('/').map(|j| &url[i + 3 + j..]))
        .unwrap_or(url)
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Escapes text for XML attributes and content; drops control characters XML forbids.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_known_values() {
        // 8 of 10: the textbook interval is about [0.490, 0.943].
        let [lo, hi] = wilson_ci95(8, 10);
        assert!(
            (lo - 0.4902).abs() < 1e-3 && (hi - 0.9433).abs() < 1e-3,
            "{lo} {hi}"
        );
        let [lo, hi] = wilson_ci95(100, 100);
        assert!((lo - 0.9630).abs() < 1e-3 && hi == 1.0, "{lo}");
        assert_eq!(wilson_ci95(0, 0), [0.0, 1.0]);
        let [lo, _] = wilson_ci95(0, 50);
        assert_eq!(lo, 0.0);
    }

    #[test]
    fn percent_is_readable() {
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(0.12), "12%");
        assert_eq!(percent(0.9963), "99.63%");
        assert_eq!(percent(0.99999), "99.999%");
        assert_eq!(percent(0.00001), "0.001%");
        assert_eq!(percent(0.0), "0%");
    }

    #[test]
    fn histograms_round_trip() {
        let mut h = new_histogram();
        for v in [5u64, 100, 2000, 2000, 70_000] {
            h.record(v).unwrap();
        }
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(back.max(), h.max());
    }
}
