//! The one check specification. The `fire` flags (`--expect-status`, …), a
//! scenario step's keys (`expect_status = …`) and the [`Fire`] builder's
//! methods (`.expect_status(…)`) all fill a [`CheckSpec`], with the same four
//! names and the same shapes, and [`CheckSpec::checks`] is the one place
//! that turns it into the [`Checks`] a response is judged by.
//!
//! | name | shape | meaning |
//! |---|---|---|
//! | `expect_status` | list of `200`, `2xx`, `200-204` (each may be a comma list) | expected statuses; default any 2xx |
//! | `expect_json_field` | list of names or `/pointers` | the body is JSON with this top-level field (or a value at the pointer) |
//! | `expect_json` | list of `/pointer=value` | the JSON at the pointer equals the value (JSON, or else a bare string) |
//! | `expect_body_contains` | list of text | the body contains the text |
//!
//! In a scenario file a list of one may be written as the value alone
//! (`expect_status = 404`).
//!
//! [`Fire`]: crate::fire::Fire

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::status::{StatusError, StatusSet};
use super::{BodyCheck, Checks};

/// A check that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// A bad `expect_status`.
    #[error(transparent)]
    Status(#[from] StatusError),
    /// An `expect_json` that is not `/pointer=value`.
    #[error("bad expect_json {0:?}: use /pointer=value, e.g. /count=3")]
    JsonEquals(String),
    /// An empty field name or text.
    #[error("{0} needs a non-empty value")]
    Empty(&'static str),
}

/// The four checks, as written on the command line, in a scenario step, or
/// through the builder.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// Expected statuses: 200, 2xx, 200-204, or comma lists (repeatable; default any 2xx).
    #[arg(long = "expect-status", value_name = "STATUSES")]
    #[serde(default, deserialize_with = "one_or_many")]
    pub expect_status: Vec<String>,
    /// The body must be JSON with this top-level field, or a value at this /pointer (repeatable).
    #[arg(long = "expect-json-field", value_name = "FIELD")]
    #[serde(default, deserialize_with = "one_or_many")]
    pub expect_json_field: Vec<String>,
    /// The JSON at /pointer must equal value: JSON, or else a bare string (repeatable).
    #[arg(long = "expect-json", value_name = "/POINTER=VALUE")]
    #[serde(default, deserialize_with = "one_or_many")]
    pub expect_json: Vec<String>,
    /// The body must contain this text (repeatable).
    #[arg(long = "expect-body-contains", value_name = "TEXT")]
    #[serde(default, deserialize_with = "one_or_many")]
    pub expect_body_contains: Vec<String>,
}

impl CheckSpec {
    /// The keys a scenario step uses for checks.
    pub const KEYS: [&'static str; 4] = [
        "expect_status",
        "expect_json_field",
        "expect_json",
        "expect_body_contains",
    ];

    /// The checks this specification asks for, in the order written: body
    /// checks by kind (fields, values, text).
    pub fn checks(&self) -> Result<Checks, CheckError> {
        let mut checks = Checks::default();
        let mut statuses: Option<StatusSet> = None;
        for spec in &self.expect_status {
            let set = StatusSet::parse(spec)?;
            match &mut statuses {
                Some(s) => s.extend(set),
                None => statuses = Some(set),
            }
        }
        if let Some(s) = statuses {
            checks.status = s;
        }
        for field in &self.expect_json_field {
            if field.is_empty() || field == "/" {
                return Err(CheckError::Empty("expect_json_field"));
            }
            checks.body.push(BodyCheck::JsonField {
                field: field.clone(),
            });
        }
        for spec in &self.expect_json {
            checks.body.push(parse_json_equals(spec)?);
        }
        for text in &self.expect_body_contains {
            if text.is_empty() {
                return Err(CheckError::Empty("expect_body_contains"));
            }
            checks
                .body
                .push(BodyCheck::BodyContains { text: text.clone() });
        }
        Ok(checks)
    }
}

/// Parses `/pointer=value`; the value is JSON if it parses as JSON, else a
/// string.
fn parse_json_equals(spec: &str) -> Result<BodyCheck, CheckError> {
    let (pointer, value) = spec
        .split_once('=')
        .ok_or_else(|| CheckError::JsonEquals(spec.to_owned()))?;
    if !pointer.starts_with('/') {
        return Err(CheckError::JsonEquals(spec.to_owned()));
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok(BodyCheck::JsonEquals {
        pointer: pointer.to_owned(),
        value,
    })
}

/// A list, or one value standing for a list of one; numbers become text
/// (`expect_status = 404`).
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Item {
        Text(String),
        Number(i64),
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Item),
        Many(Vec<Item>),
    }
    let text = |i: Item| match i {
        Item::Text(s) => s,
        Item::Number(n) => n.to_string(),
    };
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(i) => vec![text(i)],
        OneOrMany::Many(v) => v.into_iter().map(text).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_shape_builds_the_same_checks() {
        let toml: CheckSpec = toml::from_str(
            r#"
expect_status = 404
expect_json_field = "error"
expect_json = ["/error/code=not_found", "/n=3"]
expect_body_contains = ["conversation"]
"#,
        )
        .unwrap();
        let built = CheckSpec {
            expect_status: vec!["404".into()],
            expect_json_field: vec!["error".into()],
            expect_json: vec!["/error/code=not_found".into(), "/n=3".into()],
            expect_body_contains: vec!["conversation".into()],
        };
        assert_eq!(toml, built);
        let checks = built.checks().unwrap();
        assert_eq!(checks.status.to_string(), "404");
        assert_eq!(
            checks.body[1],
            BodyCheck::JsonEquals {
                pointer: "/error/code".into(),
                value: json!("not_found")
            }
        );
        assert_eq!(
            checks.body[2],
            BodyCheck::JsonEquals {
                pointer: "/n".into(),
                value: json!(3)
            }
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let spec = |f: fn(&mut CheckSpec)| {
            let mut s = CheckSpec::default();
            f(&mut s);
            s.checks().unwrap_err().to_string()
        };
        assert!(spec(|s| s.expect_json = vec!["count=3".into()]).contains("/pointer=value"));
        assert!(spec(|s| s.expect_status = vec!["7xx".into()]).contains("bad status"));
        assert!(spec(|s| s.expect_body_contains = vec![String::new()]).contains("non-empty"));
        // No field, and the root pointer, name nothing to look for.
        assert!(spec(|s| s.expect_json_field = vec![String::new()]).contains("expect_json_field"));
        assert!(spec(|s| s.expect_json_field = vec!["/".into()]).contains("expect_json_field"));
    }
}
