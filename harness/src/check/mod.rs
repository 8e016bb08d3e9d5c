//! Judging one response: the checks it must pass ([`Checks`]), built from
//! the one check specification ([`CheckSpec`]), and what a failed check
//! says ([`Rejection`]). [`Symptom`]s name the failure a buggy build must
//! show.

mod keys;
mod spec;
mod status;
mod symptom;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::outcome::FailureKind;
use crate::render::text::excerpt;

pub use spec::{CheckError, CheckSpec};
pub use status::{StatusError, StatusSet};
pub use symptom::{Symptom, SymptomError};

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
pub struct Rejection {
    /// `Status` or `Check`.
    pub kind: FailureKind,
    /// The failed body check's index, for `Check`.
    pub check: Option<usize>,
    /// What went wrong, for clustering.
    pub message: String,
}

impl Checks {
    /// Judges one complete response.
    pub fn judge(&self, status: u16, body: &[u8]) -> Result<(), Rejection> {
        if !self.status.contains(status) {
            return Err(Rejection {
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
            (needs_keys && tree.is_none()).then(|| keys::top_level_keys(body, &self.body));
        for (i, check) in self.body.iter().enumerate() {
            let fail = |message: String| Rejection {
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

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        let v = checks.judge(200, br#"["response"]"#).unwrap_err();
        assert!(
            v.message.contains("expected a JSON object"),
            "{}",
            v.message
        );
        assert!(checks.judge(200, br#"{"response": 1} trailing"#).is_err());
        // Several fields: each is looked for as itself.
        let checks = Checks {
            status: StatusSet::success(),
            body: ["a", "b", "c"]
                .map(|f| BodyCheck::JsonField { field: f.into() })
                .to_vec(),
        };
        assert!(checks.judge(200, br#"{"c": 3, "a": 1, "b": 2}"#).is_ok());
        let v = checks.judge(200, br#"{"a": 1, "c": 3}"#).unwrap_err();
        assert_eq!(v.check, Some(1), "{v:?}");
    }

    #[test]
    fn json_pointer_equals() {
        let checks = Checks {
            status: StatusSet::success(),
            body: vec![BodyCheck::JsonEquals {
                pointer: "/count".into(),
                value: json!(3),
            }],
        };
        assert!(checks
            .judge(200, &serde_json::to_vec(&json!({"count": 3})).unwrap())
            .is_ok());
        let v = checks.judge(200, br#"{"count": 2}"#).unwrap_err();
        assert!(v.message.contains("is 2, expected 3"), "{}", v.message);
    }

    #[test]
    fn top_level_fields_and_pointers_together() {
        // A pointer check parses the body whole; a plain field beside it
        // is still a top-level key, and a pointer field still a pointer.
        let checks = Checks {
            status: StatusSet::success(),
            body: vec![
                BodyCheck::JsonField { field: "a".into() },
                BodyCheck::JsonField {
                    field: "/x/y".into(),
                },
                BodyCheck::JsonEquals {
                    pointer: "/b".into(),
                    value: json!(2),
                },
            ],
        };
        assert!(checks
            .judge(200, br#"{"a": 1, "b": 2, "x": {"y": 0}}"#)
            .is_ok());
        let v = checks
            .judge(200, br#"{"a": 1, "b": 2, "x": {}}"#)
            .unwrap_err();
        assert_eq!(v.check, Some(1), "{v:?}");
    }

    #[test]
    fn every_check_is_described_in_words() {
        let words: Vec<String> = [
            BodyCheck::JsonField { field: "a".into() },
            BodyCheck::JsonEquals {
                pointer: "/b".into(),
                value: json!(2),
            },
            BodyCheck::BodyContains { text: "ok".into() },
        ]
        .iter()
        .map(BodyCheck::describe)
        .collect();
        assert_eq!(
            words,
            [
                "body has JSON field a",
                "JSON /b equals 2",
                "body contains \"ok\""
            ]
        );
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
