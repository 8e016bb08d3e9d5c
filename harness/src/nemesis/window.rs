//! `@FROM..TO`: when a fault is active, from the run's start.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::duration::parse_offset;

/// A span of the run, from its start: `1s..3s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// When the fault starts.
    pub from: Duration,
    /// When it ends (exclusive).
    pub to: Duration,
}

impl Window {
    /// Whether `at` (since the run's start) falls inside.
    pub fn contains(&self, at: Duration) -> bool {
        self.from <= at && at < self.to
    }
}

impl FromStr for Window {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("bad window {s:?}: {why}; use FROM..TO, e.g. 1s..3s");
        let (from, to) = s.split_once("..").ok_or_else(|| bad("no `..`"))?;
        let from = parse_offset(from.trim()).map_err(|e| bad(&e.to_string()))?;
        let to = parse_offset(to.trim()).map_err(|e| bad(&e.to_string()))?;
        if to <= from {
            return Err(bad("it ends before it starts"));
        }
        Ok(Self { from, to })
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}..{}",
            humantime::format_duration(self.from),
            humantime::format_duration(self.to)
        )
    }
}
