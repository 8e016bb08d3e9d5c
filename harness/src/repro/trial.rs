//! Running one variant: trial after trial, each on a fresh server, every
//! step in order. A variant expected to fail stops at its first certain
//! detection (the fire step that shows the symptom sends nothing more, and
//! no further trial starts); a variant expected to pass gets more trials,
//! up to a limit, while nothing has failed but the interval is still short
//! of the confidence floor.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::evidence;
use super::nemesis::{Nemesis, NotDue, StepError};
use super::server::ServerProcess;
use super::verdict::{StateSummary, Trials};
use super::ReproError;
use crate::console::warn;
use crate::engine::get_once;
use crate::history::{HistoryCheck, Verdict};
use crate::plan::Halt;
use crate::render::text::percent;
use crate::report::Report;
use crate::scenario::{Expect, PlannedStep, Scenario, StateStep, Variant};

/// How many trials a variant may run.
#[derive(Clone, Copy, Debug)]
pub(super) struct TrialBudget {
    /// Trials to run at least (fewer only when a variant expected to fail
    /// is detected early).
    pub base: u32,
    /// For a variant expected to pass: the most trials, added one by one
    /// while the interval is short of the floor.
    pub max: u32,
    /// Stop at the first detection.
    pub stop_at_detection: bool,
    /// Within a trial, send nothing more once the symptom is seen.
    pub halt_at_detection: bool,
    /// Print progress to stderr.
    pub verbose: bool,
    /// The nemesis's seed: every variant and trial draws from it, so the
    /// buggy and the fixed build face the same faults.
    pub seed: u64,
}

/// How a state check is read: one GET, bounded.
const STATE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `variant`'s trials and collects what they saw.
pub(super) async fn run_variant(
    scenario: &Scenario,
    variant_name: &str,
    variant: &Variant,
    budget: TrialBudget,
    scratch: &Path,
) -> Result<Trials, ReproError> {
    let name = scenario.name();
    let steps = scenario.steps();
    let symptom = variant.symptom();
    // Halting at the first failure is only certain when any failure fails
    // the variant (the default 100 % floor).
    let halt = (variant.expect == Expect::Fail
        && scenario.verdict.min_pass_rate >= 1.0
        && budget.halt_at_detection)
        .then(|| Halt {
            symptom: symptom.cloned(),
        });
    let mut fire_reports: Vec<Option<Report>> = vec![None; steps.len()];
    let mut trials = Trials::default();
    let server_err = |source| ReproError::Server {
        scenario: name.clone(),
        variant: variant_name.to_owned(),
        source: Box::new(source),
    };
    let not_due = |step: &str, n: NotDue| ReproError::FaultNotDue {
        scenario: name.clone(),
        variant: variant_name.to_owned(),
        step: step.to_owned(),
        fault: n.fault,
        due_ms: n.due_ms,
        ended_ms: n.ended_ms,
    };
    loop {
        let trial = trials.run + 1;
        if budget.verbose {
            warn(format_args!("{name} / {variant_name}: trial {trial}…"));
        }
        let dir = fresh_dir(scratch, &format!("{name}-{variant_name}-{trial}"));
        std::fs::create_dir_all(&dir).map_err(|source| ReproError::Io {
            path: dir.clone(),
            source,
        })?;
        let mut server = ServerProcess::start(scenario, variant_name, &dir).map_err(server_err)?;
        if trial == 1 {
            trials.command = redact_paths(&server.command_line);
        }
        server.wait_ready(scenario).await.map_err(server_err)?;
        let (mut failed, mut detected) = (false, false);
        for (i, step) in steps.iter().enumerate() {
            let (step_failed, seen) = match step {
                PlannedStep::Fire(f) => {
                    let nemesis = Nemesis {
                        scenario,
                        variant: variant_name,
                        dir: &dir,
                        seed: budget.seed,
                    };
                    let report = nemesis
                        .fire(f, &mut server, halt.clone())
                        .await
                        .map_err(|e| match e {
                            StepError::Run(source) => ReproError::Fire {
                                scenario: name.clone(),
                                variant: variant_name.to_owned(),
                                step: f.name.clone(),
                                source: Box::new(source),
                            },
                            StepError::Server(source) => server_err(source),
                            StepError::NotDue(n) => not_due(&f.name, n),
                        })?;
                    let mut why = report.late_recoveries();
                    if report.pass_rate < scenario.verdict.min_pass_rate {
                        why.insert(
                            0,
                            format!(
                                "pass rate {} below {}",
                                percent(report.pass_rate),
                                percent(scenario.verdict.min_pass_rate)
                            ),
                        );
                    }
                    let step_failed = !why.is_empty();
                    if step_failed {
                        trials.note_failure(trial, &f.name, &why.join("; "));
                    }
                    // Halted, the engine saw the symptom in a response.
                    let seen = match &halt {
                        Some(_) if report.halted => {
                            Some(evidence::of_halt(&f.name, symptom, &report))
                        }
                        Some(_) => None,
                        None if step_failed => evidence::of_step(&f.name, symptom, &report, &why),
                        None => None,
                    };
                    match &mut fire_reports[i] {
                        Some(r) => r.merge(&report).map_err(|source| ReproError::Merge {
                            scenario: name.clone(),
                            source,
                        })?,
                        slot => *slot = Some(report),
                    }
                    (step_failed, seen)
                }
                PlannedStep::Kv(k) => {
                    let nemesis = Nemesis {
                        scenario,
                        variant: variant_name,
                        dir: &dir,
                        seed: budget.seed,
                    };
                    let run = nemesis.kv(k, &mut server).await.map_err(|e| match e {
                        StepError::Run(source) => ReproError::Kv {
                            scenario: name.clone(),
                            variant: variant_name.to_owned(),
                            step: k.name.clone(),
                            source: Box::new(source),
                        },
                        StepError::Server(source) => server_err(source),
                        StepError::NotDue(n) => not_due(&k.name, n),
                    })?;
                    let report = run.report;
                    let step_failed = !report.gate.passed;
                    if step_failed {
                        trials.note_failure(trial, &k.name, &report.gate.reasons.join("; "));
                    }
                    let seen = step_failed
                        .then(|| evidence::of_step(&k.name, symptom, &report, &report.gate.reasons))
                        .flatten();
                    match &mut fire_reports[i] {
                        // Counts add up over trials; each trial's history is
                        // its own, so the report keeps the worst verdict.
                        Some(acc) => {
                            let mut report = report;
                            let (a, b) = (acc.history.take(), report.history.take());
                            acc.merge(&report).map_err(|source| ReproError::Merge {
                                scenario: name.clone(),
                                source,
                            })?;
                            if let Some(worst) = worse(a, b) {
                                acc.set_history(worst);
                            }
                        }
                        slot => *slot = Some(report),
                    }
                    (step_failed, seen)
                }
                PlannedStep::State(s) => {
                    let outcome = state_step(s, server.addr, server.client_tls()).await;
                    let summary = state_summary(&mut trials.state_checks, &s.name);
                    match outcome {
                        Ok(()) => {
                            summary.passed_trials += 1;
                            (false, None)
                        }
                        Err(m) => {
                            summary.failed_trials += 1;
                            summary.first_failure.get_or_insert_with(|| m.clone());
                            trials.note_failure(trial, &s.name, &m);
                            (true, evidence::of_state(&s.name, symptom, &m))
                        }
                    }
                }
            };
            failed |= step_failed;
            if let Some(seen) = seen {
                if trials.detecting_step.is_none() {
                    trials.detecting_step = Some(i);
                    trials.evidence = Some(seen);
                }
                detected = true;
            }
            if detected && halt.is_some() {
                // The verdict is certain; the rest would only be waiting.
                break;
            }
        }
        server
            .stop(scenario.server.stop_timeout)
            .await
            .map_err(server_err)?;
        trials.run = trial;
        trials.failed += u32::from(failed);
        trials.detected += u32::from(detected);
        trials.steps = fire_reports.iter().flatten().cloned().collect();
        if variant.expect == Expect::Fail && detected && budget.stop_at_detection {
            trials.stopped_early = true;
            break;
        }
        if trial >= budget.base {
            let more = variant.expect == Expect::Pass
                && trial < budget.max
                && trials.short_of_floor(&scenario.verdict);
            if !more {
                break;
            }
            if trial == budget.base && budget.verbose {
                warn(format_args!(
                    "{name} / {variant_name}: {} clean requests are short of the {} confidence floor; adding trials (at most {})",
                    trials.rate().total,
                    crate::render::text::percent(scenario.verdict.confidence_floor),
                    budget.max
                ));
            }
        }
    }
    Ok(trials)
}

fn state_summary<'a>(all: &'a mut Vec<StateSummary>, name: &str) -> &'a mut StateSummary {
    let at = match all.iter().position(|s| s.name == name) {
        Some(i) => i,
        None => {
            all.push(StateSummary {
                name: name.to_owned(),
                passed_trials: 0,
                failed_trials: 0,
                first_failure: None,
            });
            all.len() - 1
        }
    };
    &mut all[at]
}

/// The more damning of two trials' history checks: a violation over an
/// undecided check over a linearizable one.
fn worse(a: Option<HistoryCheck>, b: Option<HistoryCheck>) -> Option<HistoryCheck> {
    let rank = |h: &HistoryCheck| match h.verdict {
        Verdict::Violation => 2,
        Verdict::Unknown => 1,
        Verdict::Linearizable => 0,
    };
    match (a, b) {
        (Some(a), Some(b)) if rank(&b) > rank(&a) => Some(b),
        (Some(a), _) => Some(a),
        (None, b) => b,
    }
}

async fn state_step(
    step: &StateStep,
    addr: SocketAddr,
    tls: Option<&crate::tls::Tls>,
) -> Result<(), String> {
    let StateStep {
        path,
        pointer,
        condition,
        ..
    } = step;
    match get_once(addr, tls, path, STATE_TIMEOUT).await {
        Ok((200, body)) => match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v) => condition
                .check(v.pointer(pointer))
                .map_err(|m| format!("{path} {pointer} {m}")),
            Err(e) => Err(format!("{path} is not JSON: {e}")),
        },
        Ok((status, _)) => Err(format!("GET {path} answered {status}")),
        Err(e) => Err(format!("GET {path}: {e}")),
    }
}

/// A directory under `scratch` named `base` that does not exist yet
/// (`base-2`, `base-3`… if it does): every trial gets a fresh database, also
/// when `--minimize` runs trial 1 again at each level.
fn fresh_dir(scratch: &Path, base: &str) -> std::path::PathBuf {
    let mut dir = scratch.join(base);
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = scratch.join(format!("{base}-{n}"));
    }
    dir
}

/// Scratch paths and ports change every run; keep committed reports stable.
fn redact_paths(command: &str) -> String {
    command
        .split(' ')
        .map(|w| {
            if w.contains("/racegate-repro-") || w.ends_with("server.db") {
                "<db>".to_owned()
            } else if w.starts_with("127.0.0.1:") {
                "127.0.0.1:<port>".to_owned()
            } else if w.contains('/') && w.ends_with("racegate") {
                "racegate".to_owned()
            } else {
                w.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_trial_run_again_gets_a_directory_of_its_own() {
        // --minimize runs trial 1 again at every level: it must not find
        // the last level's database there.
        let scratch = tempfile::tempdir().unwrap();
        let first = super::fresh_dir(scratch.path(), "s-before-1");
        std::fs::create_dir_all(&first).unwrap();
        let again = super::fresh_dir(scratch.path(), "s-before-1");
        assert_ne!(first, again);
        assert!(!again.exists());
        assert!(again.ends_with("s-before-1-2"));
    }
}
