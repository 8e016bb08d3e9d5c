//! `report.md`: fits a PR comment or `$GITHUB_STEP_SUMMARY`.

use std::fmt::Write as _;

use super::Report;
use crate::render::markdown;
use crate::render::text::percent;

impl Report {
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
        if self.target.tls.as_ref().is_some_and(|t| t.insecure) {
            let _ = writeln!(
                s,
                "TLS: the server's certificate was **not verified** (`--insecure`).\n"
            );
        }
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
        if let Some(line) = self.faults_line() {
            let _ = writeln!(s, "{}\n", line.replacen("faults:", "**Faults:**", 1));
        }
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
                    markdown::cell(&c.message),
                    firsts.join(" ")
                );
            }
        }
        if let Some(h) = &self.history {
            s.push_str(&history_markdown(h));
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
}

/// The history section: verdict, and the counterexample as a short
/// timeline in words.
fn history_markdown(h: &crate::history::HistoryCheck) -> String {
    use crate::history::{OpKind, Outcome, Verdict};
    let mut s = String::new();
    let verdict = match h.verdict {
        Verdict::Linearizable => "✅ linearizable",
        Verdict::Violation => "❌ not linearizable",
        Verdict::Unknown => "❔ unknown: the check ran out of budget",
    };
    let _ = writeln!(
        s,
        "\n### History: {verdict}\n\n{} operations over {} keys, checked against a {} in {:.1} ms.",
        h.ops, h.keys, h.model, h.check_ms
    );
    if let Some(c) = &h.counterexample {
        let _ = writeln!(s, "\n**{}**\n", markdown::cell(&c.explanation));
        let ms = |us: u64| format!("{:.3} ms", us as f64 / 1000.0);
        for op in &c.ops {
            let what = match (op.kind, op.value, &op.text) {
                (OpKind::Write, Some(v), None) => format!("write {v} to {}", c.key),
                (OpKind::Read, Some(v), None) => format!("read of {} returned {v}", c.key),
                (OpKind::Read, None, None) => format!("read of {} returned absent", c.key),
                _ => format!("{} on {}", op.describe(), c.key),
            };
            let when = match op.complete_us {
                Some(done) => format!("from {} to {}", ms(op.invoke_us), ms(done)),
                None => format!("from {}, never acknowledged", ms(op.invoke_us)),
            };
            let outcome = match op.outcome {
                Outcome::Ok => "ok",
                Outcome::Fail => "failed",
                Outcome::Info => "outcome unknown",
            };
            let _ = writeln!(s, "- {what}, {when} ({outcome})");
        }
    }
    s
}
