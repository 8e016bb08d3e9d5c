//! Client cancellation: `--cancel RATE:MIN..MAX[@FROM..TO]`, e.g.
//! `10%:0ms..50ms` or `50%:5ms..25ms@1s..2s`. That share of requests,
//! chosen from the run's seed, is abandoned after a delay drawn uniformly
//! from `MIN..=MAX` — if no answer came by then: the connection is closed
//! with the request unanswered, exactly as a client that times out does,
//! and the worker opens a new one.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::window::Window;
use super::{draw, unit};
use crate::duration::parse_offset;

/// The draw stream of cancellation decisions (other faults draw from others).
const STREAM: u64 = 1;

/// Which requests are abandoned, and when.
#[derive(Clone, Debug, PartialEq)]
pub struct CancelSpec {
    /// Share of requests, 0 to 1.
    pub rate: f64,
    /// Shortest delay before giving up.
    pub min: Duration,
    /// Longest.
    pub max: Duration,
    /// Only requests meant to be sent in this span; always without.
    pub window: Option<Window>,
    /// As given, for reports.
    text: String,
}

impl CancelSpec {
    /// Whether request `index`, meant to be sent `at` after the run's
    /// start, is abandoned under `seed`, and after how long.
    pub fn decide(&self, seed: u64, index: u64, at: Duration) -> Option<Duration> {
        if self.window.is_some_and(|w| !w.contains(at)) {
            return None;
        }
        if unit(draw(seed, index, STREAM)) >= self.rate {
            return None;
        }
        let span = u64::try_from((self.max - self.min).as_nanos()).unwrap_or(u64::MAX);
        let offset = draw(seed, index, STREAM + 1) % span.saturating_add(1).max(1);
        Some(self.min + Duration::from_nanos(offset))
    }
}

impl FromStr for CancelSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!("bad --cancel {s:?}: {why}; use RATE:MIN..MAX[@FROM..TO], e.g. 10%:0ms..50ms")
        };
        let (spec, window) = match s.split_once('@') {
            Some((spec, window)) => (spec, Some(window.parse::<Window>().map_err(|e| bad(&e))?)),
            None => (s, None),
        };
        let (rate, delays) = spec.split_once(':').ok_or_else(|| bad("no `:`"))?;
        let rate = super::parse_share(rate).map_err(|e| bad(&e))?;
        let (min, max) = delays.split_once("..").ok_or_else(|| bad("no `..`"))?;
        let min = parse_offset(min.trim()).map_err(|e| bad(&e.to_string()))?;
        let max = parse_offset(max.trim()).map_err(|e| bad(&e.to_string()))?;
        if max < min {
            return Err(bad("MAX is below MIN"));
        }
        Ok(Self {
            rate,
            min,
            max,
            window,
            text: s.trim().to_owned(),
        })
    }
}

impl fmt::Display for CancelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for CancelSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> CancelSpec {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn specs_parse_with_and_without_a_window() {
        let c = spec("10%:0ms..50ms");
        assert_eq!(
            (c.rate, c.min, c.max, c.window),
            (0.1, Duration::ZERO, Duration::from_millis(50), None)
        );
        let c = spec("0.5:5ms..25ms@1s..2s");
        assert_eq!(c.rate, 0.5);
        assert_eq!(
            c.window,
            Some(Window {
                from: Duration::from_secs(1),
                to: Duration::from_secs(2)
            })
        );
        assert_eq!(c.to_string(), "0.5:5ms..25ms@1s..2s");
        for bad in [
            "10%",
            "10%:5ms",
            "150%:0ms..1ms",
            "x:0ms..1ms",
            "10%:9ms..1ms",
            "10%:0ms..1ms@2s..1s",
        ] {
            assert!(bad.parse::<CancelSpec>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_share_and_the_delays_follow_the_spec_and_the_seed() {
        let c = spec("25%:10ms..20ms");
        let picked: Vec<_> = (0..10_000)
            .filter_map(|i| c.decide(7, i, Duration::ZERO))
            .collect();
        let share = picked.len() as f64 / 10_000.0;
        assert!((0.23..0.27).contains(&share), "{share}");
        assert!(picked
            .iter()
            .all(|d| (Duration::from_millis(10)..=Duration::from_millis(20)).contains(d)));
        // Replayable: the same seed and index decide the same; another seed
        // decides otherwise.
        let again: Vec<_> = (0..10_000)
            .filter_map(|i| c.decide(7, i, Duration::ZERO))
            .collect();
        assert_eq!(picked, again);
        let other: Vec<_> = (0..10_000)
            .filter_map(|i| c.decide(8, i, Duration::ZERO))
            .collect();
        assert_ne!(picked, other);
        // Outside its window, nothing is cancelled.
        let windowed = spec("100%:1ms..1ms@1s..2s");
        assert_eq!(windowed.decide(1, 1, Duration::from_millis(500)), None);
        assert_eq!(
            windowed.decide(1, 1, Duration::from_millis(1500)),
            Some(Duration::from_millis(1))
        );
    }
}
