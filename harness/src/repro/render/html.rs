//! `report.html` for a scenario: the verdicts, then each step with the
//! variants side by side on shared scales.

use std::fmt::Write as _;

use super::{step_words, variant_rows};
use crate::render::page::{self, escape};
use crate::report::html::Scales;
use crate::report::Report;
use crate::repro::verdict::{ScenarioReport, VariantReport};

/// `report.html`.
pub fn page(r: &ScenarioReport) -> String {
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
    for row in variant_rows(r) {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}/{}</td></tr>",
            escape(row.name),
            row.expect,
            row.symptom
                .as_deref()
                .map_or("—".into(), |s| format!("<code>{}</code>", escape(s))),
            if row.ok { "ok" } else { "bad" },
            escape(&row.verdict),
            escape(&row.rate),
            row.requests,
            row.failed_trials,
            row.trials
        );
    }
    s.push_str("</table>\n");
    let steps = r.variants.iter().map(|v| v.steps.len()).max().unwrap_or(0);
    for i in 0..steps {
        step_row(&mut s, r, i);
    }
    let _ = writeln!(s, "<p class=\"muted\">Trials of one variant are laid over each other from their starts. Charts in a row share their scales.</p>");
    page::document(&format!("racegate repro {}", r.scenario), &s)
}

/// Step `i` of every variant that ran it, side by side on shared scales.
fn step_row(s: &mut String, r: &ScenarioReport, i: usize) {
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
