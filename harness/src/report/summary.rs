//! The few lines `racegate fire` prints when a run ends.

use std::fmt::Write as _;

use super::Report;
use crate::render::text::percent;

impl Report {
    /// What the nemesis did, in one line: `faults: cancel 10%:0ms..50ms
    /// (seed 42): 97 requests faulted, not judged`, with each fault window's
    /// pass rate and recovery.
    pub fn faults_line(&self) -> Option<String> {
        let faults = self.faults.as_ref()?;
        let mut what: Vec<String> = faults
            .cancel
            .iter()
            .map(|c| format!("cancel {c}"))
            .collect();
        what.extend(
            faults
                .proxy
                .iter()
                .map(|p| format!("{} ({} injected)", p.spec, p.injected)),
        );
        what.extend(
            faults
                .server
                .iter()
                .map(|f| format!("{} at {} ms for {} ms", f.kind, f.at_ms, f.for_ms)),
        );
        let mut line = format!(
            "faults: {} (seed {}): {} request{} faulted, not judged",
            what.join(", "),
            faults.seed,
            self.faulted,
            if self.faulted == 1 { "" } else { "s" }
        );
        for w in &faults.windows {
            let _ = write!(
                line,
                "; window {}–{} ms: pass rate {}, {}",
                w.from_ms,
                w.to_ms,
                w.pass_rate.map_or("—".to_owned(), percent),
                crate::nemesis::recovery_words(w)
            );
        }
        Some(line)
    }

    /// A few lines for the terminal.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let [lo, hi] = self.pass_rate_ci95;
        let _ = writeln!(
            s,
            "{} {}: {}/{} passed, {} (95% CI {}–{}), {:.0} req/s over {:.2}s",
            self.target.method,
            self.target.url,
            self.passed,
            self.total,
            percent(self.pass_rate),
            percent(lo),
            percent(hi),
            self.requests_per_second,
            self.duration_s
        );
        if let Some(h2) = &self.load.http2 {
            let allowed = h2
                .max_concurrent_streams
                .map_or(String::new(), |m| format!(" (the server allows {m})"));
            let _ = writeln!(
                s,
                "HTTP/2: {} connections × {} streams{allowed}: {} in flight at most",
                self.load.concurrency, h2.streams, h2.effective_concurrency
            );
        }
        if self.target.tls.as_ref().is_some_and(|t| t.insecure) {
            s.push_str("TLS: the server's certificate was not verified (--insecure)\n");
        }
        let l = &self.latency_ms;
        let _ = writeln!(
            s,
            "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
            l.p50, l.p90, l.p99, l.p999, l.max
        );
        if self.load.rate.is_some() {
            let u = &self.latency_uncorrected_ms;
            let _ = writeln!(
                s,
                "  uncorrected: p50 {:.2}  p99 {:.2}  max {:.2}",
                u.p50, u.p99, u.max
            );
        }
        if let Some(line) = self.faults_line() {
            let _ = writeln!(s, "{line}");
        }
        for c in self.failure_clusters.iter().take(8) {
            let _ = writeln!(s, "  {:>7} × {:<13} {}", c.count, c.kind.name(), c.message);
        }
        if self.failure_clusters.len() > 8 {
            let _ = writeln!(
                s,
                "  … {} more clusters in report.json",
                self.failure_clusters.len() - 8
            );
        }
        if let Some(h) = &self.history {
            s.push_str(&history_lines(h));
        }
        if self.halted {
            let _ = writeln!(
                s,
                "  (stopped early: the first failure made the outcome certain)"
            );
        }
        let verdict = if self.gate.passed {
            "PASS".to_owned()
        } else {
            format!("FAIL: {}", self.gate.reasons.join("; "))
        };
        let _ = write!(s, "gate: {verdict}");
        s
    }
}

/// The history check in a few lines: the verdict, the size, and for a
/// violation its explanation (the same for `kv` and `history check`).
pub fn history_lines(h: &crate::history::HistoryCheck) -> String {
    let mut s = format!(
        "history: {} ({} ops over {} keys, checked in {:.1} ms)\n",
        match h.verdict {
            crate::history::Verdict::Linearizable => "linearizable",
            crate::history::Verdict::Violation => "NOT linearizable",
            crate::history::Verdict::Unknown => "unknown (budget exhausted)",
        },
        h.ops,
        h.keys,
        h.check_ms
    );
    if let Some(c) = &h.counterexample {
        let _ = writeln!(s, "  {}", c.explanation);
    }
    s
}
