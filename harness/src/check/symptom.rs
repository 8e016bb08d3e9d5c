//! A symptom: the failure a buggy build must show for "bug detected" to be
//! the right verdict for the right reason. It is matched against failure
//! messages (with the server's own words in their excerpt) and against the
//! explanations of failed state checks.

use std::fmt;

/// A symptom that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SymptomError {
    /// An empty substring would match anything.
    #[error("symptom must not be empty: it would match any failure")]
    Empty,
    /// A regex that matches any message (`""`, `.*`, `x?`): the symptom rule
    /// would be off.
    #[error("symptom_regex {0:?} matches any failure (it matches even an empty message); name what the failure must say")]
    MatchesAnything(String),
    /// A regex that does not compile.
    #[error("bad symptom_regex {pattern:?}: {source}")]
    Regex {
        /// The pattern.
        pattern: String,
        /// Why.
        source: Box<regex::Error>,
    },
}

/// What a failure must say.
#[derive(Clone, Debug)]
pub enum Symptom {
    /// This text, anywhere in the message.
    Contains(String),
    /// A match of this regular expression.
    Regex(regex::Regex),
}

impl Symptom {
    /// A substring symptom.
    pub fn contains(text: &str) -> Result<Self, SymptomError> {
        if text.is_empty() {
            return Err(SymptomError::Empty);
        }
        Ok(Self::Contains(text.to_owned()))
    }

    /// A regex symptom.
    pub fn regex(pattern: &str) -> Result<Self, SymptomError> {
        let re = regex::Regex::new(pattern).map_err(|e| SymptomError::Regex {
            pattern: pattern.to_owned(),
            source: Box::new(e),
        })?;
        // A match in a message with nothing in it matches every message.
        if re.is_match("") || re.is_match("\u{0}") {
            return Err(SymptomError::MatchesAnything(pattern.to_owned()));
        }
        Ok(Self::Regex(re))
    }

    /// Whether `message` shows the symptom.
    pub fn matches(&self, message: &str) -> bool {
        match self {
            Symptom::Contains(text) => message.contains(text.as_str()),
            Symptom::Regex(re) => re.is_match(message),
        }
    }
}

impl fmt::Display for Symptom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Symptom::Contains(text) => write!(f, "{text:?}"),
            Symptom::Regex(re) => write!(f, "regex {:?}", re.as_str()),
        }
    }
}

/// In reports: `{"contains": "…"}` or `{"regex": "…"}`.
impl serde::Serialize for Symptom {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = s.serialize_map(Some(1))?;
        match self {
            Symptom::Contains(text) => map.serialize_entry("contains", text)?,
            Symptom::Regex(re) => map.serialize_entry("regex", re.as_str())?,
        }
        map.end()
    }
}

impl PartialEq for Symptom {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Symptom::Contains(a), Symptom::Contains(b)) => a == b,
            (Symptom::Regex(a), Symptom::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substrings_and_regexes_match() {
        let s = Symptom::contains("database is locked").unwrap();
        assert!(s.matches("status 500 (expected 2xx): {\"error\": \"database is locked\"}"));
        assert!(!s.matches("status 503: pool exhausted"));
        let r = Symptom::regex(r"/count is \d+, expected 128").unwrap();
        assert!(r.matches("/api/settings /count is 13, expected 128"));
        assert!(!r.matches("/api/settings /count is 128"));
        assert!(Symptom::contains("").is_err());
        assert!(Symptom::regex("(").is_err());
        for anything in ["", ".*", "x?", "(?s).", "a*|b"] {
            assert!(
                matches!(
                    Symptom::regex(anything),
                    Err(SymptomError::MatchesAnything(_))
                ),
                "{anything:?} accepted"
            );
        }
        // Anchored or not, a real pattern stays.
        assert!(Symptom::regex("^database is locked$").is_ok());
    }

    #[test]
    fn symptoms_print_and_compare_by_their_text_and_kind() {
        let c = |t| Symptom::contains(t).unwrap();
        let r = |p| Symptom::regex(p).unwrap();
        assert_eq!(c("locked").to_string(), "\"locked\"");
        assert_eq!(r(r"is \d+").to_string(), r#"regex "is \\d+""#);
        assert_eq!(c("locked"), c("locked"));
        assert_ne!(c("locked"), c("busy"));
        assert_eq!(r("lock(ed)?"), r("lock(ed)?"));
        assert_ne!(r("locked"), r("busy"));
        // The same text as a substring and as a regex are two symptoms.
        assert_ne!(c("locked"), r("locked"));
    }
}
