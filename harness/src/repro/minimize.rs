//! `racegate repro --minimize`: the smallest reproduction. For a variant
//! expected to fail, the fire step that first showed the symptom is run at
//! lower and lower concurrency — halving down to 1, then bisecting between
//! the smallest level that reproduced and the largest below it that did not
//! — and then, at the smallest concurrency, with fewer and fewer requests,
//! each level for K fresh trials. A level reproduces when the symptom is
//! seen in at least 90 % of its trials; where a level reproduces below one
//! that did not, the result is flagged non-monotonic.

use std::path::Path;

use super::trial::{run_variant, TrialBudget};
use super::verdict::{Level, Minimal};
use super::ReproError;
use crate::console::warn;
use crate::rate::wilson_ci95;
use crate::scenario::{PlannedStep, Scenario, Variant};

/// The share of trials a level must reproduce in.
pub const REPRODUCES: f64 = 0.9;

/// Searches the smallest load at which `variant` still shows its bug.
/// `None` when no fire step detected it.
pub(super) async fn minimize(
    scenario: &Scenario,
    name: &str,
    variant: &Variant,
    step: usize,
    trials_per_level: u32,
    run: TrialBudget,
    scratch: &Path,
) -> Result<Option<Minimal>, ReproError> {
    let Some(PlannedStep::Fire(fire)) = scenario.steps().get(step) else {
        return Ok(None);
    };
    let mut levels: Vec<Level> = Vec::new();
    let mut try_level = async |concurrency: usize, requests: u64| -> Result<bool, ReproError> {
        if let Some(l) = levels
            .iter()
            .find(|l| l.concurrency == concurrency && l.requests == requests)
        {
            return Ok(reproduces(l));
        }
        let Some(cut) = scenario.at_load(step, concurrency, requests) else {
            return Ok(false);
        };
        let budget = TrialBudget {
            base: trials_per_level,
            max: trials_per_level,
            stop_at_detection: false,
            halt_at_detection: true,
            verbose: false,
            seed: run.seed,
        };
        let trials = run_variant(&cut, name, variant, budget, scratch).await?;
        let level = Level {
            concurrency,
            requests,
            detected_trials: trials.detected,
            trials: trials.run,
            detection_ci95: wilson_ci95(u64::from(trials.detected), u64::from(trials.run)),
        };
        if run.verbose {
            warn(format_args!(
                "{} / {name}: minimize: concurrency {concurrency}, {requests} requests → detected in {}/{}",
                scenario.name(),
                level.detected_trials,
                level.trials
            ));
        }
        let ok = reproduces(&level);
        levels.push(level);
        Ok(ok)
    };
    // Concurrency: halve down to 1, keeping the smallest level that
    // reproduces, then bisect the gap above the largest that did not below
    // it. Halving on past a level that does not reproduce costs a few small
    // levels, and is how a bug that comes back at lower concurrency is seen
    // at all (and flagged non-monotonic).
    let requests0 = fire.requests;
    let mut good = fire.concurrency;
    if !try_level(good, requests0).await? {
        return Ok(Some(finish(fire.name.clone(), good, requests0, levels)));
    }
    let mut missed = Vec::new();
    let mut c = good;
    while c > 1 {
        c /= 2;
        if try_level(c, requests0.max(c as u64)).await? {
            good = c;
        } else {
            missed.push(c);
        }
    }
    let mut bad = missed.into_iter().filter(|&m| m < good).max().unwrap_or(0);
    while good - bad > 1 && bad > 0 {
        let mid = bad + (good - bad) / 2;
        if try_level(mid, requests0.max(mid as u64)).await? {
            good = mid;
        } else {
            bad = mid;
        }
    }
    // Requests at that concurrency: never fewer than one round of it.
    let floor = good as u64;
    let mut good_n = requests0.max(floor);
    let mut bad_n = 0;
    while good_n > floor {
        let half = (good_n / 2).max(floor);
        if try_level(good, half).await? {
            good_n = half;
        } else {
            bad_n = half;
            break;
        }
    }
    while bad_n > 0 && good_n - bad_n > 1 {
        let mid = bad_n + (good_n - bad_n) / 2;
        if try_level(good, mid).await? {
            good_n = mid;
        } else {
            bad_n = mid;
        }
    }
    Ok(Some(finish(fire.name.clone(), good, good_n, levels)))
}

fn reproduces(l: &Level) -> bool {
    l.trials > 0 && f64::from(l.detected_trials) >= REPRODUCES * f64::from(l.trials)
}

fn finish(step: String, concurrency: usize, requests: u64, levels: Vec<Level>) -> Minimal {
    let at = levels
        .iter()
        .find(|l| l.concurrency == concurrency && l.requests == requests);
    let (detected_trials, trials) = at.map_or((0, 0), |l| (l.detected_trials, l.trials));
    // Non-monotonic: some level reproduced while a heavier one (no less
    // concurrency and requests) did not.
    let non_monotonic = levels.iter().any(|lo| {
        reproduces(lo)
            && levels.iter().any(|hi| {
                !reproduces(hi)
                    && hi.concurrency >= lo.concurrency
                    && hi.requests >= lo.requests
                    && (hi.concurrency, hi.requests) != (lo.concurrency, lo.requests)
            })
    });
    Minimal {
        step,
        concurrency,
        requests,
        detected_trials,
        trials,
        levels,
        non_monotonic,
    }
}
