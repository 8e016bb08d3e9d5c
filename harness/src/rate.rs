//! The one pass-rate computation: a rate, its 95 % Wilson score interval, and
//! how many clean requests it takes for the interval to reach a floor.

use serde::{Deserialize, Serialize};

/// z for a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// `passed` of `total`, with the derived rate and interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PassRate {
    /// Requests judged.
    pub total: u64,
    /// Of which passed.
    pub passed: u64,
}

impl PassRate {
    /// `passed` of `total`.
    pub fn new(passed: u64, total: u64) -> Self {
        Self { total, passed }
    }

    /// `passed / total`; 1 for an empty run (nothing failed).
    pub fn rate(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.passed as f64 / self.total as f64
        }
    }

    /// The 95 % Wilson score interval, `[lo, hi]`.
    pub fn ci95(&self) -> [f64; 2] {
        wilson_ci95(self.passed, self.total)
    }
}

/// The 95 % Wilson score interval for `passed` successes in `total` trials.
pub fn wilson_ci95(passed: u64, total: u64) -> [f64; 2] {
    if total == 0 {
        return [0.0, 1.0];
    }
    let z = Z95;
    let n = total as f64;
    let p = passed as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z * ((p * (1.0 - p) / n) + z2 / (4.0 * n * n)).sqrt() / denom;
    // At the edges the formula's rounding error would leave 1e-17 instead of 0.
    let lo = if passed == 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let hi = if passed == total {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    [lo, hi]
}

/// The fewest requests, all passing, whose interval's lower bound reaches
/// `floor`: with every request passing the bound is `n / (n + z²)`, so
/// `n ≥ floor · z² / (1 − floor)`. `None` for a floor of 1 (never reached).
pub fn clean_requests_for_floor(floor: f64) -> Option<u64> {
    if floor >= 1.0 {
        return None;
    }
    if floor <= 0.0 {
        return Some(0);
    }
    let z2 = Z95 * Z95;
    let n = (floor * z2 / (1.0 - floor)).ceil() as u64;
    // Guard the float edge: step until the bound really reaches the floor,
    // which the formula's rounding puts within a step or two (a bounded
    // loop: no floor can make it spin).
    (n..n + 16).find(|&n| wilson_ci95(n, n)[0] >= floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_known_values() {
        // 8 of 10: the textbook interval is about [0.490, 0.943].
        let [lo, hi] = wilson_ci95(8, 10);
        assert!(
            (lo - 0.4902).abs() < 1e-3 && (hi - 0.9433).abs() < 1e-3,
            "{lo} {hi}"
        );
        let [lo, hi] = wilson_ci95(100, 100);
        assert!((lo - 0.9630).abs() < 1e-3 && hi == 1.0, "{lo}");
        assert_eq!(wilson_ci95(0, 0), [0.0, 1.0]);
        assert_eq!(wilson_ci95(0, 50)[0], 0.0);
        assert_eq!(PassRate::new(0, 0).rate(), 1.0);
    }

    #[test]
    fn a_pass_rate_is_passed_over_total_with_its_interval() {
        let r = PassRate::new(3, 4);
        assert_eq!((r.passed, r.total), (3, 4));
        assert_eq!(r.rate(), 0.75);
        assert_eq!(PassRate::new(0, 4).rate(), 0.0);
        assert_eq!(r.ci95(), wilson_ci95(3, 4));
        let [lo, hi] = r.ci95();
        assert!(0.0 < lo && lo < 0.75 && 0.75 < hi && hi < 1.0, "{lo} {hi}");
    }

    #[test]
    fn clean_requests_for_the_default_floor_is_about_380() {
        let n = clean_requests_for_floor(0.99).unwrap();
        assert_eq!(n, 381);
        assert!(wilson_ci95(n, n)[0] >= 0.99);
        assert!(wilson_ci95(n - 1, n - 1)[0] < 0.99);
        assert_eq!(clean_requests_for_floor(1.0), None);
        // The fewest, at every floor: one fewer falls short.
        for floor in [0.5, 0.9, 0.95, 0.999, 0.9999] {
            let n = clean_requests_for_floor(floor).unwrap();
            assert!(wilson_ci95(n, n)[0] >= floor, "{floor}: {n}");
            assert!(wilson_ci95(n - 1, n - 1)[0] < floor, "{floor}: {n}");
        }
        assert_eq!(clean_requests_for_floor(0.0), Some(0));
    }
}
