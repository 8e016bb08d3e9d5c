//! Which statuses count as expected: `200`, `2xx`, `200-204`, or lists.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A status list that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// One part is not a status, class or range.
    #[error("bad status {0:?}: use 200, 2xx, 200-204 or a list of those")]
    Bad(String),
    /// Nothing was given.
    #[error("empty status list")]
    Empty,
}

/// Which statuses count as expected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusSet(Vec<(u16, u16)>);

impl StatusSet {
    /// Any 2xx, the default.
    pub fn success() -> Self {
        Self(vec![(200, 299)])
    }

    /// Parses `200`, `2xx`, `200-204`, or a comma-separated list of those.
    pub fn parse(spec: &str) -> Result<Self, StatusError> {
        let mut ranges = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || StatusError::Bad(part.to_owned());
            let range =
                if let Some(class) = part.strip_suffix("xx").or_else(|| part.strip_suffix("XX")) {
                    let c: u16 = class.parse().map_err(|_| bad())?;
                    if !(1..=5).contains(&c) {
                        return Err(bad());
                    }
                    (c * 100, c * 100 + 99)
                } else if let Some((lo, hi)) = part.split_once('-') {
                    (
                        lo.trim().parse().map_err(|_| bad())?,
                        hi.trim().parse().map_err(|_| bad())?,
                    )
                } else {
                    let s = part.parse().map_err(|_| bad())?;
                    (s, s)
                };
            if range.0 < 100 || range.1 > 599 || range.0 > range.1 {
                return Err(bad());
            }
            ranges.push(range);
        }
        if ranges.is_empty() {
            return Err(StatusError::Empty);
        }
        Ok(Self(ranges))
    }

    /// Extends the set with another one.
    pub fn extend(&mut self, other: StatusSet) {
        self.0.extend(other.0);
    }

    /// Whether `status` is expected.
    pub fn contains(&self, status: u16) -> bool {
        self.0.iter().any(|&(lo, hi)| (lo..=hi).contains(&status))
    }
}

impl fmt::Display for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|&(lo, hi)| match (lo, hi) {
                _ if lo == hi => lo.to_string(),
                _ if lo % 100 == 0 && hi == lo + 99 => format!("{}xx", lo / 100),
                _ => format!("{lo}-{hi}"),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_sets_parse_and_match() {
        let s = StatusSet::parse("2xx, 404,500-502").unwrap();
        assert!(s.contains(204) && s.contains(404) && s.contains(501));
        assert!(!s.contains(503) && !s.contains(302));
        assert_eq!(s.to_string(), "2xx,404,500-502");
        assert!(StatusSet::parse("6xx").is_err());
        assert!(StatusSet::parse("abc").is_err());
        assert!(StatusSet::parse("300-200").is_err());
        // Statuses are 100 to 599, each end of a range too.
        for bad in ["99", "600", "50-150", "550-650"] {
            assert!(StatusSet::parse(bad).is_err(), "{bad}");
        }
        assert!(StatusSet::parse("100").unwrap().contains(100));
        assert!(StatusSet::parse("599").unwrap().contains(599));
        let mut s = StatusSet::parse("2xx").unwrap();
        s.extend(StatusSet::parse("404").unwrap());
        assert!(s.contains(201) && s.contains(404) && !s.contains(500));
        assert_eq!(StatusSet::parse(" , "), Err(StatusError::Empty));
    }
}
