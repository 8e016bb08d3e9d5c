//! `repro.md`: a scenario's verdicts, what each variant got wrong, the
//! smallest reproduction, and the steps of a trial.

use std::fmt::Write as _;

use super::{
    clusters, evidence_line, got_something_wrong, history_violations, level_cells, step_words,
    steps, variant_rows, NON_MONOTONIC,
};
use crate::render::markdown::{cell, code};
use crate::render::text::percent;
use crate::report::Report;
use crate::repro::verdict::ScenarioReport;

/// `repro.md`.
pub fn page(r: &ScenarioReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# {} {}\n\n**{}**\n\n{}\n",
        if r.ok { "✅" } else { "❌" },
        r.scenario,
        r.title,
        r.summary
    );
    let _ = writeln!(s, "| variant | expect | symptom | verdict | pass rate (95% CI) | requests | failed trials | server command |\n|---|---|---|---|---|---|---|---|");
    for row in variant_rows(r) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {}/{} | {} |",
            cell(row.name),
            row.expect,
            row.symptom.as_deref().map_or("—".into(), code),
            cell(&row.verdict),
            row.rate,
            row.requests,
            row.failed_trials,
            row.trials,
            code(row.command)
        );
    }
    for v in r.variants.iter().filter(|v| got_something_wrong(v)) {
        let _ = writeln!(s, "\n## What `{}` got wrong\n", v.name);
        if let Some(f) = &v.first_failure {
            let _ = writeln!(s, "- first failed trial: {}", cell(f));
        }
        if let Some(e) = &v.evidence {
            let _ = writeln!(s, "- the symptom, as observed: {}", cell(&evidence_line(e)));
        }
        for st in v.state_checks.iter().filter(|c| c.failed_trials > 0) {
            let _ = writeln!(
                s,
                "- state check **{}** failed in {}/{} trials: {}",
                cell(&st.name),
                st.failed_trials,
                st.failed_trials + st.passed_trials,
                cell(st.first_failure.as_deref().unwrap_or(""))
            );
        }
        for explanation in history_violations(v) {
            let _ = writeln!(s, "- history **not linearizable**: {}", cell(explanation));
        }
        if !v.failure_clusters.is_empty() {
            let _ = writeln!(s, "\n| count | kind | failure |\n|---|---|---|");
            for c in clusters(v) {
                let _ = writeln!(s, "| {} | {} | {} |", c.count, c.kind, cell(&c.message));
            }
        }
    }
    for v in &r.variants {
        let Some(m) = &v.minimal else { continue };
        let _ = writeln!(
            s,
            "\n## Smallest reproduction of `{}`\n\nStep {}: **concurrency {}, {} requests**, detected in {}/{} trials{}.\n\n| concurrency | requests | detected | 95% CI |\n|---|---|---|---|",
            v.name,
            code(&m.step),
            m.concurrency,
            m.requests,
            m.detected_trials,
            m.trials,
            if m.non_monotonic { format!(" (not monotonic: {NON_MONOTONIC})") } else { String::new() }
        );
        for l in &m.levels {
            let _ = writeln!(s, "| {} |", level_cells(l).join(" | "));
        }
    }
    let faulted: Vec<String> = r
        .variants
        .iter()
        .flat_map(|v| {
            v.steps
                .iter()
                .filter_map(Report::faults_line)
                .map(move |line| format!("- `{}`, {}", v.name, cell(&line)))
        })
        .collect();
    if !faulted.is_empty() {
        let _ = writeln!(s, "\n## Faults injected\n\n{}", faulted.join("\n"));
    }
    let _ = writeln!(s, "\nSteps per trial:\n");
    for step in steps(r) {
        let _ = writeln!(s, "- {}", cell(&step_words(step)));
    }
    if let Some(v) = r.variants.iter().max_by_key(|v| v.steps.len()) {
        for st in &v.state_checks {
            let _ = writeln!(s, "- state check: {}", cell(&st.name));
        }
    }
    let _ = writeln!(s, "\nA trial passes when every fire step reaches a pass rate of {} and every state check holds; a variant passes when, over all trials, it does and the 95% interval's lower bound is at least {}. A variant expected to fail is detected only when its symptom is seen, and stops at the first detection.", percent(r.verdict_spec.min_pass_rate), percent(r.verdict_spec.confidence_floor));
    s
}
