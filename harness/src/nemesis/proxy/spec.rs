//! `--fault SPEC`: what the fault proxy does to the bytes between the
//! client and the server, after Toxiproxy's toxics. Each spec may end in a
//! window, `@1s..3s`, outside of which it does nothing.
//!
//! | spec | does |
//! |---|---|
//! | `latency=20ms` or `latency=20ms~10ms` | delays every chunk, each way, by 20 ms (± up to 10 ms) |
//! | `reset=5%` | that share of requests gets a TCP RST, both ways: before the request reaches the server, after it did but before the answer, or mid-answer |
//! | `stall=2%` | that share of requests stops being forwarded; the client's timeout decides |
//! | `slice=1..64B` | bytes forwarded in pieces of 1 to 64 bytes, each its own write |
//! | `bandwidth=256KiB/s` | each direction of a connection at most that fast |
//! | `close-after=4KiB` | a connection is closed (FIN) once that many bytes went through it (Toxiproxy's limit_data) |

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::duration::parse_offset;
use crate::nemesis::window::Window;

/// One fault and when it is active.
#[derive(Clone, Debug, PartialEq)]
pub struct ProxyFault {
    /// What it does.
    pub kind: FaultKind,
    /// Only in this span of the run; always without.
    pub window: Option<Window>,
    /// As given, for reports.
    text: String,
}

/// What a fault does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultKind {
    /// Each chunk waits `base` ± up to `jitter` before it is forwarded.
    Latency { base: Duration, jitter: Duration },
    /// That share of requests ends in a reset.
    Reset { rate: f64 },
    /// That share of requests is never forwarded.
    Stall { rate: f64 },
    /// Chunks forwarded in pieces of `min..=max` bytes.
    Slice { min: usize, max: usize },
    /// Bytes per second, per direction of a connection.
    Bandwidth { bytes_per_s: u64 },
    /// A connection closes after this many bytes, both ways together.
    CloseAfter { bytes: u64 },
}

impl ProxyFault {
    /// Whether it acts `at` after the run's start.
    pub fn active(&self, at: Duration) -> bool {
        self.window.is_none_or(|w| w.contains(at))
    }
}

impl FromStr for ProxyFault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "bad --fault {s:?}: {why}; use latency=20ms[~10ms], reset=5%, stall=2%, \
                 slice=1..64B, bandwidth=256KiB/s or close-after=4KiB, each with an optional @FROM..TO"
            )
        };
        let (spec, window) = match s.split_once('@') {
            Some((spec, w)) => (spec, Some(w.parse::<Window>().map_err(|e| bad(&e))?)),
            None => (s, None),
        };
        let (name, value) = spec.split_once('=').ok_or_else(|| bad("no `=`"))?;
        let value = value.trim();
        let kind = match name.trim() {
            "latency" => {
                let (base, jitter) = value.split_once('~').unwrap_or((value, "0ms"));
                let base = parse_offset(base).map_err(|e| bad(&e.to_string()))?;
                let jitter = parse_offset(jitter).map_err(|e| bad(&e.to_string()))?;
                FaultKind::Latency { base, jitter }
            }
            "reset" => FaultKind::Reset {
                rate: crate::nemesis::parse_share(value).map_err(|e| bad(&e))?,
            },
            "stall" => FaultKind::Stall {
                rate: crate::nemesis::parse_share(value).map_err(|e| bad(&e))?,
            },
            "slice" => {
                let (min, max) = value.split_once("..").unwrap_or((value, value));
                let min = parse_bytes(min).map_err(|e| bad(&e))?;
                let max = parse_bytes(max).map_err(|e| bad(&e))?;
                if min == 0 || max < min {
                    return Err(bad("slices are MIN..MAX bytes, 1 ≤ MIN ≤ MAX"));
                }
                FaultKind::Slice {
                    min: usize::try_from(min).unwrap_or(usize::MAX),
                    max: usize::try_from(max).unwrap_or(usize::MAX),
                }
            }
            "bandwidth" => {
                let per_s = value
                    .strip_suffix("/s")
                    .ok_or_else(|| bad("a bandwidth ends in /s, e.g. 256KiB/s"))?;
                let bytes_per_s = parse_bytes(per_s).map_err(|e| bad(&e))?;
                if bytes_per_s == 0 {
                    return Err(bad("the bandwidth must be positive"));
                }
                FaultKind::Bandwidth { bytes_per_s }
            }
            "close-after" => FaultKind::CloseAfter {
                bytes: parse_bytes(value).map_err(|e| bad(&e))?,
            },
            other => return Err(bad(&format!("unknown fault {other:?}"))),
        };
        Ok(Self {
            kind,
            window,
            text: s.trim().to_owned(),
        })
    }
}

/// `64`, `64B`, `4KiB`, `1MiB`, `4KB` (KB and MB are powers of ten).
fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a byte count"))?;
    let scale = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        u => return Err(format!("unknown unit {u:?} in {s:?} (B, KiB, MiB, KB, MB)")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("{s:?} is too large"))
}

impl fmt::Display for ProxyFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for ProxyFault {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> FaultKind {
        s.parse::<ProxyFault>()
            .unwrap_or_else(|e| panic!("{e}"))
            .kind
    }

    #[test]
    fn every_fault_parses() {
        let ms = Duration::from_millis;
        assert_eq!(
            kind("latency=20ms"),
            FaultKind::Latency {
                base: ms(20),
                jitter: ms(0)
            }
        );
        assert_eq!(
            kind("latency=20ms~10ms"),
            FaultKind::Latency {
                base: ms(20),
                jitter: ms(10)
            }
        );
        assert_eq!(kind("reset=5%"), FaultKind::Reset { rate: 0.05 });
        assert_eq!(kind("stall=0.02"), FaultKind::Stall { rate: 0.02 });
        assert_eq!(kind("slice=1..64B"), FaultKind::Slice { min: 1, max: 64 });
        assert_eq!(kind("slice=8"), FaultKind::Slice { min: 8, max: 8 });
        assert_eq!(
            kind("bandwidth=256KiB/s"),
            FaultKind::Bandwidth {
                bytes_per_s: 256 * 1024
            }
        );
        assert_eq!(
            kind("close-after=4KB"),
            FaultKind::CloseAfter { bytes: 4000 }
        );
        let f: ProxyFault = "latency=200ms@1s..2s".parse().unwrap();
        assert!(!f.active(Duration::from_millis(999)));
        assert!(f.active(Duration::from_millis(1000)));
        assert!(!f.active(Duration::from_millis(2000)));
        assert_eq!(f.to_string(), "latency=200ms@1s..2s");
        assert!("reset=5%"
            .parse::<ProxyFault>()
            .unwrap()
            .active(Duration::ZERO));
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for (bad, says) in [
            ("latency", "no `=`"),
            ("jitter=5ms", "unknown fault"),
            ("reset=150%", "between 0% and 100%"),
            ("slice=64..1B", "MIN ≤ MAX"),
            ("slice=0..4", "MIN ≤ MAX"),
            ("bandwidth=1KiB", "ends in /s"),
            ("bandwidth=0B/s", "positive"),
            ("close-after=4 parsecs", "unknown unit"),
            ("latency=5ms@3s..1s", "ends before it starts"),
        ] {
            let e = bad.parse::<ProxyFault>().unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }
}
