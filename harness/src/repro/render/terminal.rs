//! The table `racegate repro` prints for each scenario.

use std::fmt::Write as _;

use super::{
    clusters, evidence_line, history_violations, level_cells, rate_line, verdict_words,
    NON_MONOTONIC,
};
use crate::report::Report;
use crate::repro::verdict::{Minimal, ScenarioReport};

/// The terminal table for one scenario. With `quiet`, what went as
/// expected shows its verdict line only.
pub fn table(r: &ScenarioReport, quiet: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} {} — {}",
        if r.ok { "✔" } else { "✘" },
        r.scenario,
        r.title
    );
    let line: Vec<String> = r
        .variants
        .iter()
        .map(|v| format!("{}: {}", v.name, rate_line(v)))
        .collect();
    let _ = writeln!(s, "  {}", line.join(" · "));
    for v in &r.variants {
        let _ = writeln!(
            s,
            "  {} {:<7} expect {:<4} → {}",
            if v.ok { "✔" } else { "✘" },
            v.name,
            v.expect.name(),
            verdict_words(v)
        );
        if let Some(m) = &v.minimal {
            s.push_str(&minimal_lines(m, "      "));
        }
        // What was seen instead is always worth showing when it went wrong.
        if quiet && v.ok {
            continue;
        }
        if !v.ok {
            if let Some(f) = &v.first_failure {
                let _ = writeln!(s, "      first failure: {f}");
            }
        }
        if let Some(e) = &v.evidence {
            let _ = writeln!(s, "      observed: {}", evidence_line(e));
        }
        for line in v.steps.iter().filter_map(Report::faults_line) {
            let _ = writeln!(s, "      {line}");
        }
        for st in &v.state_checks {
            if let Some(f) = &st.first_failure {
                let _ = writeln!(
                    s,
                    "      state check failed in {}/{} trials: {f}",
                    st.failed_trials,
                    st.failed_trials + st.passed_trials
                );
            }
        }
        for explanation in history_violations(v) {
            let _ = writeln!(s, "      history not linearizable: {explanation}");
        }
        for c in clusters(v) {
            let _ = writeln!(s, "      {:>6} × {:<13} {}", c.count, c.kind, c.message);
        }
    }
    s
}

/// The `--minimize` result: the smallest level and every level tried.
fn minimal_lines(m: &Minimal, indent: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{indent}smallest reproduction of {:?}: concurrency {}, {} requests (detected in {}/{} trials){}",
        m.step,
        m.concurrency,
        m.requests,
        m.detected_trials,
        m.trials,
        if m.non_monotonic {
            format!("; NOT monotonic: {NON_MONOTONIC}")
        } else {
            String::new()
        }
    );
    let _ = writeln!(s, "{indent}  concurrency  requests  detected  95% CI");
    for l in &m.levels {
        let [c, n, d, ci] = level_cells(l);
        let _ = writeln!(s, "{indent}  {c:>11}  {n:>8}  {d:>8}  {ci}");
    }
    s
}
