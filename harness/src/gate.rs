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
    /// Longest acceptable recovery after a fault window, in milliseconds
    /// (a window that never recovers fails it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_recovery_ms: Option<u64>,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            min_pass_rate: 1.0,
            max_p99_ms: None,
            max_recovery_ms: None,
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

/// Checks that `rate` is a pass rate, 0 to 1: the one place every
/// pass-rate threshold (`--min-pass-rate` of fire and merge, the `Fire`
/// builder's gate, a scenario's `min_pass_rate` and `confidence_floor`) is
/// checked. `name` is what the user wrote it as.
pub fn check_pass_rate(name: &str, rate: f64) -> Result<f64, String> {
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("{name} must be between 0 and 1, got {rate}"))
    }
}

/// Parses a pass-rate flag: a number from 0 to 1.
pub fn parse_pass_rate(s: &str) -> Result<f64, String> {
    let rate = s
        .trim()
        .parse::<f64>()
        .map_err(|_| format!("{s:?} is not a number; give a pass rate from 0 to 1, e.g. 0.99"))?;
    check_pass_rate("a pass rate", rate)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_rate_is_a_number_from_zero_to_one() {
        assert_eq!(parse_pass_rate("0.99"), Ok(0.99));
        assert_eq!(parse_pass_rate("1"), Ok(1.0));
        assert_eq!(parse_pass_rate("0"), Ok(0.0));
        for bad in ["1.5", "-0.1", "99%", "NaN", ""] {
            assert!(parse_pass_rate(bad).is_err(), "{bad:?} accepted");
        }
        let e = check_pass_rate("--min-pass-rate", 2.0).err();
        assert_eq!(
            e.as_deref(),
            Some("--min-pass-rate must be between 0 and 1, got 2")
        );
    }

    #[test]
    fn a_run_exactly_at_a_threshold_passes_and_just_past_it_fails() {
        let gate = Gate {
            min_pass_rate: 0.99,
            max_p99_ms: Some(50.0),
            max_recovery_ms: None,
        };
        assert!(gate.judge(100, 0.99, 50.0).passed, "at both thresholds");
        let low = gate.judge(100, 0.9899, 50.0);
        assert_eq!(low.reasons, ["pass rate 98.99% is below the required 99%"]);
        let slow = gate.judge(100, 1.0, 50.01);
        assert_eq!(slow.reasons, ["p99 50.01 ms is above the allowed 50 ms"]);
        assert!(!gate.judge(0, 1.0, 0.0).passed, "nothing judged");
    }
}
