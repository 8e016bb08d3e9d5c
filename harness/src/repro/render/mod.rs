//! How a scenario's outcome reads, one file per format, all from
//! [`ScenarioReport`]: [`terminal`] (the table `repro` prints), [`markdown`]
//! (`repro.md`), [`html`] (`report.html`), [`junit`] (`junit.xml`) and
//! [`index`] (the `--out` directory's `README.md` and `index.html`). This
//! module holds what they all say the same way — a variant's rate line and
//! verdict in words, the rows of the variant table, the failure clusters
//! shown, a step's description, the minimised levels — and writes the pages
//! through the one write path, [`crate::render::files`].

pub mod html;
pub mod index;
mod junit;
mod markdown;
pub mod terminal;

use std::fmt::Write as _;
use std::path::Path;

use super::evidence::{Evidence, Source};
use super::verdict::{Level, ScenarioReport, VariantReport, Verdict};
use crate::outcome::FailureKind;
use crate::render::files::{write_pages, WriteError};
use crate::render::text::{percent, rate_with_interval, truncate};
use crate::report::{endpoint, Report};
use crate::scenario::Expect;

/// How many failure clusters a variant lists, in every format.
const CLUSTERS_SHOWN: usize = 8;
/// How much of a cluster's message is shown, in every format.
const CLUSTER_CHARS: usize = 160;

/// The pass rate, its interval, and failed state checks.
fn rate_line(v: &VariantReport) -> String {
    let mut line = rate_with_interval(v.pass_rate, v.pass_rate_ci95);
    let state_failed = v
        .state_checks
        .iter()
        .map(|s| s.failed_trials)
        .max()
        .unwrap_or(0);
    if state_failed > 0 {
        // Every request can pass while the end state is wrong (lost writes).
        let _ = write!(
            line,
            ", state check failed in {state_failed}/{} trials",
            v.trials
        );
    }
    if history_violations(v).next().is_some() {
        // Every request can pass while the history is impossible (stale reads).
        line.push_str(", history not linearizable");
    }
    line
}

/// What the first detection observed, in words.
fn evidence_line(e: &Evidence) -> String {
    let source = match e.source {
        Source::Cluster => "a failure cluster",
        Source::History => "the history check",
        Source::State => "a state check",
        Source::Gate => "the gate",
    };
    format!(
        "{source} of step \"{}\": {}",
        e.step,
        truncate(&e.seen, CLUSTER_CHARS)
    )
}

/// The explanations of the kv steps whose history was not linearizable.
fn history_violations(v: &VariantReport) -> impl Iterator<Item = &str> {
    v.steps
        .iter()
        .filter_map(|st| st.history.as_ref())
        .filter_map(|h| h.counterexample.as_ref())
        .map(|c| c.explanation.as_str())
}

/// The verdict in words.
pub fn verdict_words(v: &VariantReport) -> String {
    let early = if v.stopped_early {
        " (stopped at the first detection)"
    } else {
        ""
    };
    match (v.expect, v.verdict) {
        (Expect::Fail, Verdict::Fail) => format!(
            "bug detected in {}/{} trials{early}",
            v.detected_trials, v.trials
        ),
        (Expect::Fail, Verdict::WrongSymptom) => format!(
            "failed in {}/{} trials, but not with the expected symptom {}",
            v.failed_trials,
            v.trials,
            v.symptom.as_ref().map(ToString::to_string).unwrap_or_default()
        ),
        (Expect::Fail, _) => format!("bug NOT detected in {} trials", v.trials),
        (Expect::Pass, Verdict::Pass) => format!(
            "fix holds in {}/{} trials",
            v.trials - v.failed_trials,
            v.trials
        ),
        (Expect::Pass, Verdict::Fail | Verdict::WrongSymptom) => {
            format!("FAILS in {}/{} trials", v.failed_trials, v.trials)
        }
        (Expect::Pass, Verdict::Inconclusive) => match v.trials_needed {
            Some(k) => format!(
                "inconclusive: {} clean requests in {} trials are too few for the confidence floor; --trials {k} would settle it",
                v.total, v.trials
            ),
            None => "inconclusive: too few requests for the confidence floor".into(),
        },
    }
}

/// One row of the variant table, as every format shows it.
pub(super) struct VariantRow<'a> {
    pub name: &'a str,
    pub expect: &'static str,
    /// The declared symptom, if any.
    pub symptom: Option<String>,
    pub ok: bool,
    pub verdict: String,
    pub rate: String,
    pub requests: u64,
    pub failed_trials: u32,
    pub trials: u32,
    pub command: &'a str,
}

/// The variant table's rows.
pub(super) fn variant_rows(r: &ScenarioReport) -> impl Iterator<Item = VariantRow<'_>> {
    r.variants.iter().map(|v| VariantRow {
        name: &v.name,
        expect: v.expect.name(),
        symptom: v.symptom.as_ref().map(ToString::to_string),
        ok: v.ok,
        verdict: verdict_words(v),
        rate: rate_line(v),
        requests: v.total,
        failed_trials: v.failed_trials,
        trials: v.trials,
        command: &v.command,
    })
}

/// A failure cluster as listed: count, kind, the message cut to a length
/// every format shares.
pub(super) struct ClusterLine {
    pub count: u64,
    pub kind: &'static str,
    pub message: String,
}

/// The clusters a variant lists, most frequent first, the same in every
/// format.
pub(super) fn clusters(v: &VariantReport) -> impl Iterator<Item = ClusterLine> + '_ {
    v.failure_clusters
        .iter()
        .take(CLUSTERS_SHOWN)
        .map(|c| ClusterLine {
            count: c.count,
            kind: c.kind.name(),
            message: truncate(&c.message, CLUSTER_CHARS),
        })
}

/// Whether a variant has anything to show under "what it got wrong".
pub(super) fn got_something_wrong(v: &VariantReport) -> bool {
    !v.failure_clusters.is_empty()
        || v.state_checks.iter().any(|c| c.failed_trials > 0)
        || history_violations(v).next().is_some()
}

/// What a step did, in a few words.
pub(super) fn step_words(step: &Report) -> String {
    if step.history.is_some() {
        return format!(
            "kv workload at concurrency {}, history checked for linearizability",
            step.load.concurrency
        );
    }
    format!(
        "fire {} {} at concurrency {}{}",
        step.target.method,
        endpoint(&step.target.url),
        step.load.concurrency,
        if step.load.burst { ", burst" } else { "" }
    )
}

/// The steps of a trial: those of the variant that ran the most.
pub(super) fn steps(r: &ScenarioReport) -> &[Report] {
    r.variants
        .iter()
        .max_by_key(|v| v.steps.len())
        .map_or(&[], |v| v.steps.as_slice())
}

/// A minimised level's cells: concurrency, requests, detected, interval.
pub(super) fn level_cells(l: &Level) -> [String; 4] {
    [
        l.concurrency.to_string(),
        l.requests.to_string(),
        format!("{}/{}", l.detected_trials, l.trials),
        format!(
            "{}–{}",
            percent(l.detection_ci95[0]),
            percent(l.detection_ci95[1])
        ),
    ]
}

/// Why a minimisation is flagged as not monotonic.
pub(super) const NON_MONOTONIC: &str = "a lighter load reproduced where a heavier one did not";

/// How many answered-but-wrong responses (status or check failures) a set
/// of reports caught.
pub(super) fn answered_but_wrong(reports: &[ScenarioReport]) -> u64 {
    reports
        .iter()
        .flat_map(|r| &r.variants)
        .flat_map(|v| &v.steps)
        .map(|st| st.failures(FailureKind::Status) + st.failures(FailureKind::Check))
        .sum()
}

/// Writes `repro.json`, `repro.md`, `report.html` and `junit.xml` under
/// `out/<scenario>/`.
pub fn write_scenario(r: &ScenarioReport, out: &Path) -> Result<(), WriteError> {
    let json = serde_json::to_string_pretty(r)
        .unwrap_or_else(|_| unreachable!("the report model always serialises"));
    write_pages(
        &out.join(&r.scenario),
        [
            ("repro.json", json),
            ("repro.md", markdown::page(r)),
            ("report.html", html::page(r)),
            ("junit.xml", junit::suite(r).to_xml()),
        ],
    )
}

/// Writes the `--out` directory's `README.md` and `index.html`.
pub fn write_index(
    reports: &[ScenarioReport],
    command: &str,
    out: &Path,
) -> Result<(), WriteError> {
    write_pages(
        out,
        [
            ("README.md", index::markdown(reports, command)),
            ("index.html", index::html(reports, command)),
        ],
    )
}
