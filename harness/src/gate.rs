//! The gate: thresholds a run must meet, and the verdict with one reason per
//! unmet threshold. `fire`, `merge` and CI all read the same verdict.

use serde::{Deserialize, Serialize};

use crate::render::text::percent;

/// Thresholds a run must meet.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Gate {
    /// Lowest acceptable pass rate, 0 to 1.
    pub min_pass_rate: f64,
    /// Highest acceptable p99, in milliseconds.
    pub max_p99_ms: Option<f64>,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            min_pass_rate: 1.0,
            max_p99_ms: None,
        }
    }
}

/// The gate's verdict.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct GateResult {
    /// The thresholds.
    #[serde(flatten)]
    pub gate: Gate,
    /// Whether every threshold was met.
    pub passed: bool,
    /// One line per unmet threshold.
    pub reasons: Vec<String>,
}

impl Gate {
    /// Judges a run of `total` requests with this pass rate and p99.
    pub fn judge(self, total: u64, pass_rate: f64, p99_ms: f64) -> GateResult {
        let mut reasons = Vec::new();
        if total == 0 {
            reasons.push("no request was judged".to_owned());
        }
        if pass_rate < self.min_pass_rate {
            reasons.push(format!(
                "pass rate {} is below the required {}",
                percent(pass_rate),
                percent(self.min_pass_rate)
            ));
        }
        if let Some(max) = self.max_p99_ms {
            if p99_ms > max {
                reasons.push(format!("p99 {p99_ms:.2} ms is above the allowed {max} ms"));
            }
        }
        GateResult {
            gate: self,
            passed: reasons.is_empty(),
            reasons,
        }
    }
}
