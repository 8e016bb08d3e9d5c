//! `junit.xml` for a fire run: one case per check and per threshold.

use std::time::Duration;

use super::Report;
use crate::outcome::FailureKind;
use crate::render::junit_xml::{Case, Suite};
use crate::render::text::percent;

impl Report {
    /// JUnit XML: one case per check and per threshold.
    pub fn to_junit(&self) -> Suite {
        let mut cases: Vec<(String, Option<String>, String)> = Vec::new();
        let count = |k: FailureKind| self.failures_by_kind.get(&k).copied().unwrap_or(0);
        let gate_failed = !self.gate.passed;
        let mut check_case = |name: String, failures: u64| {
            let out = format!("{failures} of {} requests failed this check", self.total);
            let failure = (gate_failed && failures > 0).then(|| out.clone());
            cases.push((name, failure, out));
        };
        check_case(
            "requests get a complete answer (connect, tls, timeout, indeterminate)".into(),
            count(FailureKind::Connect)
                + count(FailureKind::Tls)
                + count(FailureKind::Timeout)
                + count(FailureKind::Indeterminate),
        );
        check_case(
            format!("status is {}", self.checks.status),
            count(FailureKind::Status),
        );
        for (check, n) in self.checks.body.iter().zip(&self.check_failures) {
            check_case(check.describe(), *n);
        }
        if let Some(h) = &self.history {
            let failure = match h.verdict {
                crate::history::Verdict::Linearizable => None,
                _ => Some(h.counterexample.as_ref().map_or_else(
                    || format!("{:?}", h.verdict).to_lowercase(),
                    |c| c.explanation.clone(),
                )),
            };
            cases.push((
                "the history is linearizable".into(),
                failure,
                format!(
                    "{} operations over {} keys, checked in {:.0} ms",
                    h.ops, h.keys, h.check_ms
                ),
            ));
        }
        let rate_ok = self.pass_rate >= self.gate.gate.min_pass_rate && self.total > 0;
        cases.push((
            format!("pass rate ≥ {}", percent(self.gate.gate.min_pass_rate)),
            (!rate_ok).then(|| {
                format!(
                    "pass rate {} ({}/{})",
                    percent(self.pass_rate),
                    self.passed,
                    self.total
                )
            }),
            format!("pass rate {}", percent(self.pass_rate)),
        ));
        if let Some(max) = self.gate.gate.max_p99_ms {
            let p99 = self.latency_ms.p99;
            cases.push((
                format!("p99 ≤ {max} ms"),
                (p99 > max).then(|| format!("p99 {p99:.2} ms")),
                format!("p99 {p99:.2} ms"),
            ));
        }
        Suite {
            name: format!("racegate {} {}", self.target.method, self.target.url),
            time: Duration::from_secs_f64(self.duration_s.max(0.0)),
            cases: cases
                .into_iter()
                .map(|(name, failure, output)| Case {
                    classname: "racegate".into(),
                    name,
                    failure,
                    output,
                })
                .collect(),
        }
    }
}
