//! What a scenario run found: the per-variant verdict, the report model that
//! `repro.json` serialises (its layout: `schema/repro.schema.json`), and the
//! rule that turns trials into a verdict.
//!
//! - A variant expected to **fail** is "bug detected" only when its declared
//!   symptom was seen (any failure, when it names none); failures without the
//!   symptom are their own verdict, [`Verdict::WrongSymptom`].
//! - A variant expected to **pass** passes when nothing failed and the 95 %
//!   interval's lower bound reaches the confidence floor; with no failure but
//!   too few requests it is [`Verdict::Inconclusive`], and says how many
//!   trials would settle it.

use serde::Serialize;

use super::evidence::Evidence;
use crate::check::Symptom;
use crate::cluster::{Clusters, FailureCluster};
use crate::rate::{clean_requests_for_floor, PassRate};
use crate::report::Report;
use crate::scenario::{Expect, VerdictSpec};

/// The version of `repro.json`'s layout; `schema/repro.schema.json`
/// describes it.
pub const SCHEMA_VERSION: u32 = 3;

/// A variant's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check held, with enough requests to claim it.
    Pass,
    /// A check failed; for a variant expected to fail, with its symptom: the
    /// bug was detected.
    Fail,
    /// Checks failed, but never with the variant's declared symptom.
    WrongSymptom,
    /// No failure seen, but too few requests to claim the pass rate.
    Inconclusive,
}

/// One state check over all trials.
#[derive(Clone, Debug, Serialize)]
pub struct StateSummary {
    /// The step's name.
    pub name: String,
    /// Trials where it held.
    pub passed_trials: u32,
    /// Trials where it did not.
    pub failed_trials: u32,
    /// The first failure's explanation.
    pub first_failure: Option<String>,
}

/// What the trials of one variant saw, before judging.
#[derive(Clone, Debug, Default)]
pub struct Trials {
    /// The command that started its server (placeholders filled for trial 1).
    pub command: String,
    /// Trials run.
    pub run: u32,
    /// Trials in which any step failed.
    pub failed: u32,
    /// Trials in which the symptom was seen.
    pub detected: u32,
    /// Each fire step's report, merged over the trials.
    pub steps: Vec<Report>,
    /// State checks.
    pub state_checks: Vec<StateSummary>,
    /// The last trial stopped at its first detection.
    pub stopped_early: bool,
    /// The first step that showed the symptom, in the first trial that did.
    pub detecting_step: Option<usize>,
    /// What that step showed.
    pub evidence: Option<Evidence>,
    /// Why the first failed trial failed: its trial, step and reasons.
    pub first_failure: Option<String>,
}

impl Trials {
    /// Keeps why `step` of `trial` failed, if no trial failed before.
    pub fn note_failure(&mut self, trial: u32, step: &str, why: &str) {
        self.first_failure
            .get_or_insert_with(|| format!("trial {trial}, step \"{step}\": {why}"));
    }
}

/// One variant over all trials.
#[derive(Clone, Debug, Serialize)]
pub struct VariantReport {
    /// The variant's name.
    pub name: String,
    /// What it must do.
    pub expect: Expect,
    /// The symptom it must show, if it names one.
    pub symptom: Option<Symptom>,
    /// What it did.
    pub verdict: Verdict,
    /// Whether the verdict is what was expected.
    pub ok: bool,
    /// The command that started its server (placeholders filled for trial 1).
    pub command: String,
    /// Trials run.
    pub trials: u32,
    /// Trials in which any step failed.
    pub failed_trials: u32,
    /// Trials in which the bug was detected (its symptom seen).
    pub detected_trials: u32,
    /// What the first detection observed (`None` when nothing showed the
    /// symptom): `--compare` holds a fresh run to it.
    pub evidence: Option<Evidence>,
    /// Why the first failed trial failed (trial, step, reasons).
    pub first_failure: Option<String>,
    /// Whether trials stopped at the first certain detection.
    pub stopped_early: bool,
    /// For an inconclusive verdict: the trials that would settle it.
    pub trials_needed: Option<u32>,
    /// Requests over all fire steps and trials.
    pub total: u64,
    /// Of which passed.
    pub passed: u64,
    /// `passed / total`.
    pub pass_rate: f64,
    /// 95 % Wilson interval.
    pub pass_rate_ci95: [f64; 2],
    /// Failure clusters over all fire steps and trials, largest first.
    pub failure_clusters: Vec<FailureCluster>,
    /// State checks.
    pub state_checks: Vec<StateSummary>,
    /// Each fire step's report, merged over the trials.
    pub steps: Vec<Report>,
    /// With `--minimize`: the smallest load that still reproduces the bug.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimal: Option<Minimal>,
}

/// The smallest reproduction `--minimize` found for a variant expected to
/// fail: the detecting step's concurrency, then its request count, searched
/// down (halving, then bisecting) to the smallest level at which the bug
/// is still detected in at least 90 % of the trials.
#[derive(Clone, Debug, Serialize)]
pub struct Minimal {
    /// The step searched (its name).
    pub step: String,
    /// The smallest concurrency that still reproduces it.
    pub concurrency: usize,
    /// At that concurrency, the fewest requests.
    pub requests: u64,
    /// Detections at that level.
    pub detected_trials: u32,
    /// Trials at that level.
    pub trials: u32,
    /// Every level tried, in order.
    pub levels: Vec<Level>,
    /// A lower level reproduced more reliably than a higher one: the
    /// detection rate is not monotonic in the load, so the minimum is a
    /// best effort.
    pub non_monotonic: bool,
}

/// One level tried by `--minimize`.
#[derive(Clone, Debug, Serialize)]
pub struct Level {
    /// Concurrency.
    pub concurrency: usize,
    /// Requests.
    pub requests: u64,
    /// Trials in which the bug was detected.
    pub detected_trials: u32,
    /// Trials run.
    pub trials: u32,
    /// 95 % Wilson interval of the detection rate.
    pub detection_ci95: [f64; 2],
}

/// One scenario's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    /// Layout version, [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `racegate <version>`.
    pub tool: String,
    /// The file stem.
    pub scenario: String,
    /// The file.
    pub file: String,
    /// The title.
    pub title: String,
    /// The summary.
    pub summary: String,
    /// What counts as a pass.
    pub verdict_spec: VerdictSpec,
    /// Per variant.
    pub variants: Vec<VariantReport>,
    /// Every variant as expected.
    pub ok: bool,
    /// Wall time, seconds.
    pub duration_s: f64,
}

impl Trials {
    /// Requests over all fire steps and trials.
    pub fn rate(&self) -> PassRate {
        PassRate::new(
            self.steps.iter().map(|r| r.passed).sum(),
            self.steps.iter().map(|r| r.total).sum(),
        )
    }

    /// Whether a variant expected to pass needs more trials: nothing failed
    /// yet, but the interval's lower bound is still below the floor.
    pub fn short_of_floor(&self, spec: &VerdictSpec) -> bool {
        self.failed == 0 && self.rate().ci95()[0] < spec.confidence_floor
    }

    /// How many trials in all would reach the floor, at this many requests
    /// per trial, if every request passes.
    pub fn needed_for_floor(&self, spec: &VerdictSpec) -> Option<u32> {
        let per_trial = self.rate().total / u64::from(self.run.max(1));
        let needed = clean_requests_for_floor(spec.confidence_floor)?;
        if per_trial == 0 {
            return None;
        }
        u32::try_from(needed.div_ceil(per_trial)).ok()
    }
}

impl VariantReport {
    /// Judges a variant's trials.
    pub fn judge(
        name: &str,
        expect: Expect,
        symptom: Option<Symptom>,
        spec: &VerdictSpec,
        trials: Trials,
    ) -> Self {
        let rate = trials.rate();
        let ci = rate.ci95();
        let mut clusters = Clusters::default();
        for r in &trials.steps {
            clusters.merge(r.failure_clusters.clone());
        }
        let verdict = match expect {
            Expect::Fail if trials.detected > 0 => Verdict::Fail,
            Expect::Fail if trials.failed > 0 => Verdict::WrongSymptom,
            Expect::Pass if trials.failed > 0 => Verdict::Fail,
            _ if rate.total > 0 && ci[0] < spec.confidence_floor => Verdict::Inconclusive,
            _ => Verdict::Pass,
        };
        let trials_needed = (verdict == Verdict::Inconclusive)
            .then(|| trials.needed_for_floor(spec))
            .flatten();
        let ok = matches!(
            (expect, verdict),
            (Expect::Pass, Verdict::Pass) | (Expect::Fail, Verdict::Fail)
        );
        VariantReport {
            name: name.to_owned(),
            expect,
            symptom,
            verdict,
            ok,
            command: trials.command,
            trials: trials.run,
            failed_trials: trials.failed,
            detected_trials: trials.detected,
            evidence: trials.evidence,
            first_failure: trials.first_failure,
            stopped_early: trials.stopped_early,
            trials_needed,
            total: rate.total,
            passed: rate.passed,
            pass_rate: rate.rate(),
            pass_rate_ci95: ci,
            failure_clusters: clusters.into_sorted(),
            state_checks: trials.state_checks,
            steps: trials.steps,
            minimal: None,
        }
    }
}
