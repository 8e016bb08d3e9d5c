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
