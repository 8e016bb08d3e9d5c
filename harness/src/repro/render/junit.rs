//! `junit.xml` for a scenario: one case per variant.

use std::time::Duration;

use super::{rate_line, verdict_words};
use crate::render::junit_xml::{Case, Suite};
use crate::repro::verdict::ScenarioReport;
use crate::scenario::Expect;

/// One case per variant: the bug is detected, or the fix holds.
pub fn suite(r: &ScenarioReport) -> Suite {
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
