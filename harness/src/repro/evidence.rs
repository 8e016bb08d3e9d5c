//! What a detection observed: the failure cluster, the history anomaly or
//! the state check that showed a variant's symptom, recorded in
//! `repro.json` in a form that does not change from run to run (cluster
//! signatures and state messages have their numbers masked, a history
//! violation is named by its anomaly, not by its operations), so that
//! `--compare` can hold a fresh run to what the committed one *saw*, not
//! only to the symptom the scenario file declares.

use serde::Serialize;

use crate::check::Symptom;
use crate::cluster::{normalise, FailureCluster};
use crate::report::Report;

/// The observation that matched the symptom.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The step that showed it.
    pub step: String,
    /// Where in that step's results it was seen.
    pub source: Source,
    /// What was seen: a cluster's kind and signature, a history anomaly,
    /// or a state check's or the gate's message with numbers masked.
    pub seen: String,
}

/// Where a step's evidence comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A failure cluster of the step's responses.
    Cluster,
    /// The kv step's history check.
    History,
    /// A state check.
    State,
    /// A reason the step's gate gave (a pass rate, a late recovery).
    Gate,
}

/// Whether `symptom` (any failure, when there is none) shows in `text`.
fn shows(symptom: Option<&Symptom>, text: &str) -> bool {
    symptom.is_none_or(|s| s.matches(text))
}

/// Whether `cluster` shows `symptom`: in its signature or an example.
fn cluster_shows(symptom: Option<&Symptom>, cluster: &FailureCluster) -> bool {
    shows(symptom, &cluster.message) || cluster.examples.iter().any(|e| shows(symptom, &e.detail))
}

/// A failed fire or kv step's evidence for `symptom`, looked for in its
/// history check, then its clusters (largest first), then the gate's
/// `reasons`; `None` when the step failed without showing it.
pub(super) fn of_step(
    step: &str,
    symptom: Option<&Symptom>,
    report: &Report,
    reasons: &[String],
) -> Option<Evidence> {
    let found = |source, seen: String| Evidence {
        step: step.to_owned(),
        source,
        seen,
    };
    let history = report
        .history
        .as_ref()
        .and_then(|h| h.counterexample.as_ref())
        .filter(|c| shows(symptom, &c.explanation));
    if let Some(c) = history {
        return Some(found(Source::History, c.anomaly.describe().to_owned()));
    }
    if let Some(c) = report
        .failure_clusters
        .iter()
        .find(|c| cluster_shows(symptom, c))
    {
        // A status cluster's signature starts with the status already.
        let seen = if c.message.starts_with(c.kind.name()) {
            c.message.clone()
        } else {
            format!("{}: {}", c.kind, c.message)
        };
        return Some(found(Source::Cluster, seen));
    }
    reasons
        .iter()
        .find(|r| shows(symptom, r))
        .map(|r| found(Source::Gate, normalise(r)))
}

/// A fire step the engine halted because a response showed the symptom:
/// the evidence in its report, or, if no cluster kept it, the halt itself.
pub(super) fn of_halt(step: &str, symptom: Option<&Symptom>, report: &Report) -> Evidence {
    of_step(step, symptom, report, &[]).unwrap_or_else(|| Evidence {
        step: step.to_owned(),
        source: Source::Cluster,
        seen: "a response showed the symptom (the engine halted)".to_owned(),
    })
}

/// A failed state check's evidence: its message, numbers masked.
pub(super) fn of_state(step: &str, symptom: Option<&Symptom>, message: &str) -> Option<Evidence> {
    shows(symptom, message).then(|| Evidence {
        step: step.to_owned(),
        source: Source::State,
        seen: normalise(message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_message_is_kept_with_its_numbers_masked() {
        let symptom = Symptom::regex(r"/builds is \d+").unwrap();
        let e = of_state(
            "built once",
            Some(&symptom),
            "/api/pool /builds is 32, expected 1",
        )
        .expect("the symptom shows");
        assert_eq!(e.source, Source::State);
        assert_eq!(e.seen, "/api/pool /builds is <n>, expected 1");
        assert!(of_state("built once", Some(&symptom), "GET /api/pool answered 500").is_none());
        // With no symptom named, any failure is the evidence.
        assert!(of_state("built once", None, "GET /api/pool answered 500").is_some());
    }
}
