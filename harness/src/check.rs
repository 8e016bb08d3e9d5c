//! Judging one response: the checks a request must pass, and the failure
//! kinds a request can end in.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a request failed. Each failed request has exactly one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureKind {
    /// No connection could be made.
    Connect,
    /// No complete answer within the request timeout.
    Timeout,
    /// Sent, but the connection ended without a complete answer: it may or
    /// may not have taken effect.
    Indeterminate,
    /// An answer with a status outside `--expect-status`.
    Status,
    /// An answer with an expected status that failed a body check.
    Check,
}

impl FailureKind {
    /// Every kind, in report order.
    pub const ALL: [FailureKind; 5] = [
        FailureKind::Connect,
        FailureKind::Timeout,
        FailureKind::Indeterminate,
        FailureKind::Status,
        FailureKind::Check,
    ];

    /// The lowercase name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Connect => "connect",
            FailureKind::Timeout => "timeout",
            FailureKind::Indeterminate => "indeterminate",
            FailureKind::Status => "status",
            FailureKind::Check => "check",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
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
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || format!("bad status {part:?}: use 200, 2xx, 200-204 or a list of those");
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
            return Err("empty status list".into());
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

/// One check of a response body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum BodyCheck {
    /// The body is a JSON object with this top-level field (or, if it starts
    /// with `/`, a value exists at this JSON pointer).
    JsonField {
        /// Field name or JSON pointer.
        field: String,
    },
    /// The JSON value at `pointer` equals `value`.
    JsonEquals {
        /// A JSON pointer such as `/count`.
        pointer: String,
        /// The value it must equal.
        value: Value,
    },
    /// The body contains this text.
    BodyContains {
        /// The text.
        text: String,
    },
}

impl BodyCheck {
    /// Parses `--expect-json /pointer=value`; the value is JSON if it parses
    /// as JSON, else a string.
    pub fn parse_json_equals(spec: &str) -> Result<Self, String> {
        let (pointer, value) = spec
            .split_once('=')
            .ok_or_else(|| format!("bad --expect-json {spec:?}: use /pointer=value"))?;
        if !pointer.starts_with('/') {
            return Err(format!(
                "bad --expect-json {spec:?}: the pointer must start with '/'"
            ));
        }
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
        Ok(BodyCheck::JsonEquals {
            pointer: pointer.to_owned(),
            value,
        })
    }

    /// A short name, used for JUnit cases and reports.
    pub fn describe(&self) -> String {
        match self {
            BodyCheck::JsonField { field } => format!("body has JSON field {field}"),
            BodyCheck::JsonEquals { pointer, value } => format!("JSON {pointer} equals {value}"),
            BodyCheck::BodyContains { text } => format!("body contains {text:?}"),
        }
    }
}

/// Everything one response is judged by.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checks {
    /// Expected statuses.
    pub status: StatusSet,
    /// Body checks, all of which must pass.
    pub body: Vec<BodyCheck>,
}

impl Default for Checks {
    fn default() -> Self {
        Self {
            status: StatusSet::success(),
            body: Vec::new(),
        }
    }
}

/// Why a response failed its checks: the kind, and which check (index into
/// [`Checks::body`]) for a check failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// `Status` or `Check`.
    pub kind: FailureKind,
    /// The failed body check's index, for `Check`.
    pub check: Option<usize>,
    /// What went wrong, for clustering.
    pub message: String,
}

impl Checks {
    /// Judges one complete response.
    pub fn judge(&self, status: u16, body: &[u8]) -> Result<(), Verdict> {
        if !self.status.contains(status) {
            return Err(Verdict {
                kind: FailureKind::Status,
                check: None,
                message: format!(
                    "status {status} (expected {}): {}",
                    self.status,
                    excerpt(body, 160)
                ),
            });
        }
        if self.body.is_empty() {
            return Ok(());
        }
        let needs_tree = self.body.iter().any(|c| {
            matches!(c, BodyCheck::JsonEquals { .. })
                || matches!(c, BodyCheck::JsonField { field } if field.starts_with('/'))
        });
        let needs_keys = self
            .body
            .iter()
            .any(|c| matches!(c, BodyCheck::JsonField { field } if !field.starts_with('/')));
        let tree: Option<Result<Value, serde_json::Error>> =
            needs_tree.then(|| serde_json::from_slice(body));
        // Top-level keys only, without building values or allocating: the hot
        // path of `--expect-json-field`.
        let keys: Option<Result<u64, serde_json::Error>> =
            (needs_keys && tree.is_none()).then(|| top_level_keys(body, &self.body));
        for (i, check) in self.body.iter().enumerate() {
            let fail = |message: String| Verdict {
                kind: FailureKind::Check,
                check: Some(i),
                message,
            };
            match check {
                BodyCheck::BodyContains { text } => {
                    if !contains(body, text.as_bytes()) {
                        return Err(fail(format!("body lacks {text:?}: {}", excerpt(body, 120))));
                    }
                }
                BodyCheck::JsonField { field } => {
                    let present = match (&tree, &keys) {
                        (Some(Ok(v)), _) if field.starts_with('/') => v.pointer(field).is_some(),
                        (Some(Ok(v)), _) => v.get(field).is_some(),
                        (_, Some(Ok(found))) => found & (1 << i.min(63)) != 0,
                        (Some(Err(e)), _) | (_, Some(Err(e))) => {
                            return Err(fail(format!(
                                "body is not a JSON object ({e}): {}",
                                excerpt(body, 120)
                            )));
                        }
                        (None, None) => false,
                    };
                    if !present {
                        return Err(fail(format!(
                            "JSON field {field} missing: {}",
                            excerpt(body, 120)
                        )));
                    }
                }
                BodyCheck::JsonEquals { pointer, value } => match &tree {
                    Some(Ok(v)) => match v.pointer(pointer) {
                        Some(found) if found == value => {}
                        Some(found) => {
                            return Err(fail(format!(
                                "JSON {pointer} is {found}, expected {value}"
                            )))
                        }
                        None => {
                            return Err(fail(format!(
                                "JSON {pointer} missing: {}",
                                excerpt(body, 120)
                            )))
                        }
                    },
                    Some(Err(e)) => {
                        return Err(fail(format!(
                            "body is not JSON ({e}): {}",
                            excerpt(body, 120)
                        )))
                    }
                    None => unreachable!("a JSON tree is parsed whenever a pointer check exists"),
                },
            }
        }
        Ok(())
    }
}

/// Which of the `JsonField` checks (by index, as bits) name a top-level key
/// of the JSON object in `body`. Keys are compared as borrowed slices where
/// they have no escapes, values are skipped unparsed.
fn top_level_keys(body: &[u8], checks: &[BodyCheck]) -> Result<u64, serde_json::Error> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

    struct Key<'de>(Cow<'de, str>);

    impl<'de> serde::Deserialize<'de> for Key<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct KeyVisitor;
            impl<'de> Visitor<'de> for KeyVisitor {
                type Value = Key<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a key")
                }
                fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Borrowed(v)))
                }
                fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(v.to_owned())))
                }
            }
            d.deserialize_str(KeyVisitor)
        }
    }

    struct Keys<'c>(&'c [BodyCheck]);

    impl<'de> Visitor<'de> for Keys<'_> {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
            let mut found = 0u64;
            while let Some(Key(key)) = map.next_key()? {
                for (i, check) in self.0.iter().enumerate().take(64) {
                    if matches!(check, BodyCheck::JsonField { field } if *field == key) {
                        found |= 1 << i;
                    }
                }
                map.next_value::<IgnoredAny>()?;
            }
            Ok(found)
        }
    }

    let mut de = serde_json::Deserializer::from_slice(body);
    let found = de.deserialize_map(Keys(checks))?;
    de.end()?;
    Ok(found)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// The first `max` characters of a body, as text on one line.
pub fn excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(max * 4)]);
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_sets_parse_and_match() {
        let s = StatusSet::parse("2xx, 404,500-502").unwrap();
        assert!(s.contains(204) && s.contains(404) && s.contains(501));
        assert!(!s.contains(503) && !s.contains(302));
        assert_eq!(s.to_string(), "2xx,404,500-502");
        assert!(StatusSet::parse("6xx").is_err());
        assert!(StatusSet::parse("abc").is_err());
        assert!(StatusSet::parse("300-200").is_err());
    }

    #[test]
    fn json_field_check_is_the_seeds_grep_done_properly() {
        let checks = Checks {
            status: StatusSet::success(),
            body: vec![BodyCheck::JsonField {
                field: "response".into(),
            }],
        };
        assert!(checks
            .judge(200, br#"{"response": "hi", "n": [1,2]}"#)
            .is_ok());
        // The seed's `grep -q '"response"'` passes this; racegate does not.
        let v = checks
            .judge(200, br#"{"error": "no \"response\" here"}"#)
            .unwrap_err();
        assert_eq!(v.kind, FailureKind::Check);
        assert!(checks.judge(200, b"<html>\"response\"</html>").is_err());
        let v = checks.judge(500, b"{}").unwrap_err();
        assert_eq!(v.kind, FailureKind::Status);
    }

    #[test]
    fn json_field_means_a_top_level_key() {
        let checks = Checks {
            status: StatusSet::success(),
            body: vec![BodyCheck::JsonField {
                field: "response".into(),
            }],
        };
        assert!(
            checks.judge(200, br#"{"data": {"response": 1}}"#).is_err(),
            "a nested key does not count"
        );
        assert!(
            checks.judge(200, br#"{"respon\u0073e": null}"#).is_ok(),
            "an escaped key still matches"
        );
        assert!(checks.judge(200, br#"["response"]"#).is_err());
        assert!(checks.judge(200, br#"{"response": 1} trailing"#).is_err());
    }

    #[test]
    fn json_pointer_equals() {
        let checks = Checks {
            status: StatusSet::success(),
            body: vec![BodyCheck::parse_json_equals("/count=3").unwrap()],
        };
        assert!(checks
            .judge(200, &serde_json::to_vec(&json!({"count": 3})).unwrap())
            .is_ok());
        let v = checks.judge(200, br#"{"count": 2}"#).unwrap_err();
        assert!(v.message.contains("is 2, expected 3"), "{}", v.message);
        let s = BodyCheck::parse_json_equals("/a/b=hello").unwrap();
        assert_eq!(
            s,
            BodyCheck::JsonEquals {
                pointer: "/a/b".into(),
                value: json!("hello")
            }
        );
        assert!(BodyCheck::parse_json_equals("count=3").is_err());
    }

    #[test]
    fn body_contains() {
        let checks = Checks {
            status: StatusSet::success(),
            body: vec![BodyCheck::BodyContains { text: "ok".into() }],
        };
        assert!(checks.judge(200, b"all ok").is_ok());
        assert!(checks.judge(200, b"nope").is_err());
    }
}
