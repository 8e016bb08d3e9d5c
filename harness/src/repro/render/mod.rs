//! How a scenario's outcome reads: the terminal table, `repro.md`,
//! `junit.xml` and the `--out` index, all from [`ScenarioReport`], with the
//! shared rendering layer.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use super::verdict::{Minimal, ScenarioReport, VariantReport, Verdict};
use super::ReproError;
use crate::outcome::FailureKind;
use crate::render::junit::{Case, Suite};
use crate::render::markdown;
use crate::render::page::{self, escape};
use crate::render::text::{percent, rate_with_interval, truncate};
use crate::report::html::Scales;
use crate::report::{endpoint, Report};
use crate::scenario::Expect;

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

/// The terminal table for one scenario.
pub fn terminal(r: &ScenarioReport, quiet: bool) -> String {
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
        for c in v.failure_clusters.iter().take(5) {
            let _ = writeln!(
                s,
                "      {:>6} × {:<13} {}",
                c.count,
                c.kind.name(),
                truncate(&c.message, 140)
            );
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
            "; NOT monotonic: a lighter load reproduced where a heavier one did not"
        } else {
            ""
        }
    );
    let _ = writeln!(s, "{indent}  concurrency  requests  detected  95% CI");
    for l in &m.levels {
        let _ = writeln!(
            s,
            "{indent}  {:>11}  {:>8}  {:>4}/{:<3}  {}–{}",
            l.concurrency,
            l.requests,
            l.detected_trials,
            l.trials,
            percent(l.detection_ci95[0]),
            percent(l.detection_ci95[1])
        );
    }
    s
}

/// Writes `repro.json`, `repro.md`, `report.html` and `junit.xml` under
/// `out/<scenario>/`.
pub fn write_scenario(r: &ScenarioReport, out: &Path) -> Result<(), ReproError> {
    let dir = out.join(&r.scenario);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ReproError::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let json = serde_json::to_string_pretty(r)
        .unwrap_or_else(|_| unreachable!("the report model always serialises"));
    for (name, text) in [
        ("repro.json", json),
        ("repro.md", markdown(r)),
        ("report.html", html(r)),
        ("junit.xml", junit(r).to_xml()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    Ok(())
}

/// `repro.md`.
fn markdown(r: &ScenarioReport) -> String {
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
    for v in &r.variants {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {}/{} | {} |",
            markdown::cell(&v.name),
            v.expect.name(),
            v.symptom
                .as_ref()
                .map_or("—".into(), |s| markdown::code(&s.to_string())),
            markdown::cell(&verdict_words(v)),
            rate_line(v),
            v.total,
            v.failed_trials,
            v.trials,
            markdown::code(&v.command)
        );
    }
    for v in &r.variants {
        if v.failure_clusters.is_empty()
            && v.state_checks.iter().all(|c| c.failed_trials == 0)
            && history_violations(v).next().is_none()
        {
            continue;
        }
        let _ = writeln!(s, "\n## What `{}` got wrong\n", v.name);
        for st in v.state_checks.iter().filter(|c| c.failed_trials > 0) {
            let _ = writeln!(
                s,
                "- state check **{}** failed in {}/{} trials: {}",
                markdown::cell(&st.name),
                st.failed_trials,
                st.failed_trials + st.passed_trials,
                markdown::cell(st.first_failure.as_deref().unwrap_or(""))
            );
        }
        for explanation in history_violations(v) {
            let _ = writeln!(
                s,
                "- history **not linearizable**: {}",
                markdown::cell(explanation)
            );
        }
        if !v.failure_clusters.is_empty() {
            let _ = writeln!(s, "\n| count | kind | failure |\n|---|---|---|");
            for c in v.failure_clusters.iter().take(10) {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} |",
                    c.count,
                    c.kind.name(),
                    markdown::cell(&truncate(&c.message, 200))
                );
            }
        }
    }
    for v in &r.variants {
        if let Some(m) = &v.minimal {
            let _ = writeln!(
                s,
                "\n## Smallest reproduction of `{}`\n\nStep {}: **concurrency {}, {} requests**, detected in {}/{} trials{}.\n\n| concurrency | requests | detected | 95% CI |\n|---|---|---|---|",
                v.name,
                markdown::code(&m.step),
                m.concurrency,
                m.requests,
                m.detected_trials,
                m.trials,
                if m.non_monotonic { " (not monotonic: a lighter load reproduced where a heavier one did not)" } else { "" }
            );
            for l in &m.levels {
                let _ = writeln!(
                    s,
                    "| {} | {} | {}/{} | {}–{} |",
                    l.concurrency,
                    l.requests,
                    l.detected_trials,
                    l.trials,
                    percent(l.detection_ci95[0]),
                    percent(l.detection_ci95[1])
                );
            }
        }
    }
    let _ = writeln!(s, "\nSteps per trial:\n");
    if let Some(v) = r.variants.iter().max_by_key(|v| v.steps.len()) {
        for step in &v.steps {
            if step.history.is_some() {
                let _ = writeln!(
                    s,
                    "- kv workload {} at concurrency {}, history checked for linearizability",
                    markdown::code(&step.target.url),
                    step.load.concurrency,
                );
                continue;
            }
            let _ = writeln!(
                s,
                "- fire `{} {}` at concurrency {}{}",
                step.target.method,
                endpoint(&step.target.url),
                step.load.concurrency,
                if step.load.burst { ", burst" } else { "" },
            );
        }
        for st in &v.state_checks {
            let _ = writeln!(s, "- state check: {}", markdown::cell(&st.name));
        }
    }
    let _ = writeln!(s, "\nA trial passes when every fire step reaches a pass rate of {} and every state check holds; a variant passes when, over all trials, it does and the 95% interval's lower bound is at least {}. A variant expected to fail is detected only when its symptom is seen, and stops at the first detection.", percent(r.verdict_spec.min_pass_rate), percent(r.verdict_spec.confidence_floor));
    s
}

/// What a step did, in a few words.
fn step_words(step: &Report) -> String {
    if step.history.is_some() {
        return format!(
            "kv workload at concurrency {}, history checked",
            step.load.concurrency
        );
    }
    format!(
        "{} {} at concurrency {}{}",
        step.target.method,
        endpoint(&step.target.url),
        step.load.concurrency,
        if step.load.burst { ", burst" } else { "" }
    )
}

/// `report.html`: the verdicts, then each step with the variants side by
/// side on shared scales.
pub fn html(r: &ScenarioReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<h1><span class=\"{}\">{}</span> {}</h1>\n<p><b>{}</b></p>\n<p class=\"muted\">{}</p>",
        if r.ok { "ok" } else { "bad" },
        if r.ok { "✔" } else { "✘" },
        escape(&r.scenario),
        escape(&r.title),
        escape(r.summary.trim())
    );
    s.push_str("<table>\n<tr><th>variant</th><th>expect</th><th>symptom</th><th>verdict</th><th>pass rate (95% CI)</th><th>requests</th><th>trials failed</th></tr>\n");
    for v in &r.variants {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}/{}</td></tr>",
            escape(&v.name),
            v.expect.name(),
            v.symptom
                .as_ref()
                .map_or("—".into(), |s| format!("<code>{}</code>", escape(&s.to_string()))),
            if v.ok { "ok" } else { "bad" },
            escape(&verdict_words(v)),
            escape(&rate_line(v)),
            v.total,
            v.failed_trials,
            v.trials
        );
    }
    s.push_str("</table>\n");
    let steps = r.variants.iter().map(|v| v.steps.len()).max().unwrap_or(0);
    for i in 0..steps {
        let ran: Vec<(&VariantReport, &Report)> = r
            .variants
            .iter()
            .filter_map(|v| v.steps.get(i).map(|st| (v, st)))
            .collect();
        let scales = Scales::covering(ran.iter().map(|(_, st)| *st));
        let _ = writeln!(
            s,
            "<h2>Step {}: {}</h2>\n<div class=\"row\">",
            i + 1,
            escape(
                &ran.first()
                    .map(|(_, st)| step_words(st))
                    .unwrap_or_default()
            )
        );
        for (v, st) in &ran {
            let heading = format!(
                "{} ({}), {} trial{}",
                v.name,
                v.expect.name(),
                v.trials,
                if v.trials == 1 { "" } else { "s" }
            );
            s.push_str(&st.html_panel(Some(&heading), &scales));
        }
        for v in r.variants.iter().filter(|v| v.steps.get(i).is_none()) {
            let _ = writeln!(
                s,
                "<section class=\"panel\"><h3>{}</h3><p class=\"muted\">Not run: the bug was detected in an earlier step, which made the verdict certain.</p></section>",
                escape(&v.name)
            );
        }
        s.push_str("</div>\n");
    }
    let _ = writeln!(s, "<p class=\"muted\">Trials of one variant are laid over each other from their starts. Charts in a row share their scales.</p>");
    page::document(&format!("racegate repro {}", r.scenario), &s)
}

/// `index.html` for `--out`: every scenario's verdict, linking its page.
pub fn index_html(reports: &[ScenarioReport], command: &str) -> String {
    let mut s = String::from("<h1>racegate verification reports</h1>\n");
    let _ = writeln!(
        s,
        "<p>Generated by <code>{}</code>.</p>\n<table>\n<tr><th>scenario</th><th>verdict</th><th>variants</th></tr>",
        escape(command)
    );
    for r in reports {
        let variants = r
            .variants
            .iter()
            .map(|v| {
                escape(&format!(
                    "{}: {} ({})",
                    v.name,
                    verdict_words(v),
                    rate_line(v)
                ))
            })
            .collect::<Vec<_>>()
            .join("<br>");
        let _ = writeln!(
            s,
            "<tr><td><a href=\"{0}/report.html\">{0}</a></td><td class=\"{1}\">{2}</td><td>{3}</td></tr>",
            escape(&r.scenario),
            if r.ok { "ok" } else { "bad" },
            if r.ok { "as expected" } else { "not as expected" },
            variants
        );
    }
    s.push_str("</table>\n");
    page::document("racegate verification reports", &s)
}

/// `junit.xml`: one case per variant.
fn junit(r: &ScenarioReport) -> Suite {
    Suite {
        name: format!("racegate repro {}", r.scenario),
        time: Duration::from_secs_f64(r.duration_s.max(0.0)),
        cases: r
            .variants
            .iter()
            .map(|v| Case {
                classname: r.scenario.clone(),
                name: match v.expect {
                    Expect::Fail => format!("{}: the bug is detected", v.name),
                    Expect::Pass => format!("{}: the fix holds", v.name),
                },
                failure: (!v.ok).then(|| verdict_words(v)),
                output: format!("pass rate {}", rate_line(v)),
            })
            .collect(),
    }
}

/// `README.md` for `--out`: one row per scenario; `command` reruns it.
pub fn index_markdown(reports: &[ScenarioReport], command: &str) -> String {
    let mut s = String::from("# racegate verification reports\n\n");
    let _ = writeln!(s, "Generated by `{command}` (from the repository root: `cargo run --release -p racegate -- {}`).\n", command.trim_start_matches("racegate "));
    let _ = writeln!(s, "Each scenario starts the server fresh (free port, new SQLite file) for every trial of every variant. `before` re-introduces the bug with `--inject` and must show its declared symptom; it stops at the first trial that does. `after` is the fixed server, given more trials while its interval is short of the confidence floor. Pass rates are over every request judged, with 95% Wilson intervals.\n");
    let _ = writeln!(
        s,
        "| scenario | before | after | symptom | detected | verdict | rerun |\n|---|---|---|---|---|---|---|"
    );
    for r in reports {
        let cell = |want: Expect| {
            r.variants
                .iter()
                .filter(|v| v.expect == want)
                .map(|v| format!("{}: {}", v.name, rate_line(v)))
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let failing = || r.variants.iter().filter(|v| v.expect == Expect::Fail);
        let symptoms = failing()
            .filter_map(|v| v.symptom.as_ref().map(|s| markdown::code(&s.to_string())))
            .collect::<Vec<_>>()
            .join("<br>");
        let detected = failing()
            .map(|v| format!("{}/{} trials", v.detected_trials, v.trials))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            s,
            "| [{}]({}/repro.md) | {} | {} | {} | {} | {} | `racegate repro {}` |",
            r.scenario,
            r.scenario,
            or_dash(cell(Expect::Fail)),
            or_dash(cell(Expect::Pass)),
            or_dash(symptoms),
            or_dash(detected),
            if r.ok {
                "✅ as expected"
            } else {
                "❌ not as expected"
            },
            r.file
        );
    }
    let failures: u64 = reports
        .iter()
        .flat_map(|r| &r.variants)
        .flat_map(|v| &v.steps)
        .map(|st| st.failures(FailureKind::Status) + st.failures(FailureKind::Check))
        .sum();
    let _ = writeln!(
        s,
        "\n{} scenarios, {} answered-but-wrong responses caught across all variants.",
        reports.len(),
        failures
    );
    s
}

fn or_dash(s: String) -> String {
    if s.is_empty() {
        "—".into()
    } else {
        s
    }
}
