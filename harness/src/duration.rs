//! Durations as people write them on a command line or in a scenario file:
//! `250ms`, `10s`, `1.5s`, `2m`, `1h`, or plain seconds.

use std::time::Duration;

/// A duration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a number followed by a unit.
    #[error("bad duration {0:?}: use 250ms, 10s, 2m")]
    Syntax(String),
    /// A unit other than ms, s, m, h.
    #[error("bad duration unit in {0:?}: use ms, s, m or h")]
    Unit(String),
    /// Zero (where not allowed), negative or too large.
    #[error("duration must be positive and finite, got {0:?}")]
    Range(String),
}

/// Parses `250ms`, `10s`, `1.5s`, `2m`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    parse(s, false)
}

/// The same, but zero is allowed: a point in a run (`0s..2s`) or the
/// shortest of a range of delays (`0ms..50ms`).
pub fn parse_offset(s: &str) -> Result<Duration, DurationError> {
    parse(s, true)
}

fn parse(s: &str, zero: bool) -> Result<Duration, DurationError> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| DurationError::Syntax(s.to_owned()))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(DurationError::Unit(s.to_owned())),
    };
    if !(secs.is_finite() && (secs > 0.0 || zero && secs == 0.0) && secs < 1e9) {
        return Err(DurationError::Range(s.to_owned()));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Whole milliseconds, as reports record them (saturating).
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Serde: a duration written as text (`250ms`, `10s`, `2m`), for scenario
/// files.
pub fn deserialize_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(d)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

/// Serde: an optional duration written as text.
pub fn deserialize_text_opt<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    deserialize_text(d).map(Some)
}

/// Serde: a point in a run written as text (`0s`, `1.5s`), zero allowed.
pub fn deserialize_offset<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(d)?;
    parse_offset(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_parse() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(matches!(
            parse_duration("ten"),
            Err(DurationError::Syntax(_))
        ));
        assert!(matches!(parse_duration("5d"), Err(DurationError::Unit(_))));
        assert!(matches!(parse_duration("0s"), Err(DurationError::Range(_))));
    }
}
