//! What each answer means for the history: a write's outcome (`ok`, `fail`
//! or unknown), what a read saw, a compare-and-set's outcome and the
//! version it must name.

use bytes::Bytes;

use crate::engine::Exchange;
use crate::history::{parse::element, Outcome};
use crate::outcome::FailureKind;
use crate::render::text::excerpt;

use super::spec::{KvSpec, WriteMode};

/// A failure to count, in words.
pub(super) type Failure = Option<(FailureKind, String)>;

/// What a read saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Seen {
    /// The absent status.
    Absent,
    /// A register's integer.
    Value(u64),
    /// An append register's list, as its text.
    Text(String),
}

/// 2xx ok; 4xx fail (not applied); 5xx, timeouts and lost connections info
/// (perhaps applied); a failed connect never sent anything: fail.
pub(super) fn write(e: &Exchange) -> (Outcome, Failure) {
    match e {
        Exchange::Answered { status, .. } if (200..300).contains(status) => (Outcome::Ok, None),
        Exchange::Answered { status, body, .. } => (
            if (400..500).contains(status) {
                Outcome::Fail
            } else {
                Outcome::Info
            },
            Some((
                FailureKind::Status,
                format!("write: status {status}: {}", excerpt(body, 160)),
            )),
        ),
        Exchange::Failed { kind, message } => (
            if kind.is_unsent() {
                Outcome::Fail
            } else {
                Outcome::Info
            },
            Some((*kind, format!("write: {message}"))),
        ),
        // Sent and given up on: it may or may not have taken effect.
        Exchange::Abandoned { .. } => (Outcome::Info, None),
    }
}

/// A conditional write: 2xx ok; 412 fail, which is an answer, not a
/// failure (the version had changed); other 4xx and a failed connect were
/// not applied and saw nothing (`None`: left out of the history); 5xx,
/// timeouts and lost connections unknown.
pub(super) fn cas(e: &Exchange) -> (Option<Outcome>, Failure) {
    match e {
        Exchange::Answered { status: 412, .. } => (Some(Outcome::Fail), None),
        Exchange::Answered { status, body, .. } if (400..500).contains(status) => (
            None,
            Some((
                FailureKind::Status,
                format!("cas: status {status}: {}", excerpt(body, 160)),
            )),
        ),
        Exchange::Failed { kind, message } if kind.is_unsent() => {
            (None, Some((*kind, format!("cas: {message}"))))
        }
        other => {
            let (outcome, failure) = write(other);
            let failure = failure.map(|(k, m)| (k, m.replacen("write:", "cas:", 1)));
            (Some(outcome), failure)
        }
    }
}

/// The absent status reads absent; 2xx reads the integer (or, appending,
/// the list) at the pointer; anything else is a failed read (`None`: left
/// out of the history).
pub(super) fn read(e: &Exchange, spec: &KvSpec, mode: WriteMode) -> (Option<Seen>, Failure) {
    let fail = |kind, message: String| (None, Some((kind, message)));
    match e {
        Exchange::Answered { status, .. } if *status == spec.absent_status => {
            (Some(Seen::Absent), None)
        }
        Exchange::Answered { status, body, .. } if (200..300).contains(status) => {
            let seen = match mode {
                WriteMode::Append => {
                    read_list(body, &spec.read_value, &spec.item_value).map(Seen::Text)
                }
                _ => read_integer(body, &spec.read_value).map(Seen::Value),
            };
            match seen {
                Ok(seen) => (Some(seen), None),
                Err(why) => fail(
                    FailureKind::Check,
                    format!("read: {why}: {}", excerpt(body, 120)),
                ),
            }
        }
        Exchange::Answered { status, body, .. } => fail(
            FailureKind::Status,
            format!("read: status {status}: {}", excerpt(body, 160)),
        ),
        Exchange::Failed { kind, message } => fail(*kind, format!("read: {message}")),
        // Given up on: it says nothing, like a failed read.
        Exchange::Abandoned { .. } => (None, None),
    }
}

/// The version a read's answer names: its `ETag`, or with `--version-at` the
/// value at that pointer (quoted as an entity tag). `None`: the key was
/// absent.
pub(super) fn version(e: &Exchange, spec: &KvSpec) -> Result<Option<String>, String> {
    let Exchange::Answered { status, body, etag } = e else {
        return Err("cas: the read before it has no answer".into());
    };
    if *status == spec.absent_status {
        return Ok(None);
    }
    if let Some(pointer) = &spec.version_at {
        let v: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| format!("cas: the read is not JSON ({e})"))?;
        return match v.pointer(pointer) {
            Some(serde_json::Value::String(s)) if s.starts_with('"') || s.starts_with("W/") => {
                Ok(Some(s.clone()))
            }
            Some(serde_json::Value::String(s)) => Ok(Some(format!("\"{s}\""))),
            Some(serde_json::Value::Number(n)) => Ok(Some(format!("\"{n}\""))),
            _ => Err(format!("cas: the read has no version at {pointer}")),
        };
    }
    etag.as_ref()
        .and_then(|t| std::str::from_utf8(t).ok())
        .map(|t| Some(t.to_owned()))
        .ok_or_else(|| {
            "cas: the read answered no ETag header (with the version in the body, pass --version-at /POINTER)"
                .to_owned()
        })
}

fn read_integer(body: &Bytes, pointer: &str) -> Result<u64, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
    let found = v
        .pointer(pointer)
        .ok_or_else(|| format!("no value at {pointer}"))?;
    integer(found)
        .ok_or_else(|| format!("the value at {pointer} is {found}, not a written integer"))
}

fn integer(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The list at `pointer`, each element's integer (at `item` inside it)
/// written as the append model's text.
fn read_list(body: &Bytes, pointer: &str, item: &str) -> Result<String, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
    let list = v
        .pointer(pointer)
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| format!("no list at {pointer}"))?;
    list.iter()
        .enumerate()
        .map(|(i, entry)| {
            entry
                .pointer(item)
                .and_then(integer)
                .map(element)
                .ok_or_else(|| {
                    format!("element {i} of {pointer} has no written integer at {item:?}")
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16, body: &str, etag: Option<&str>) -> Exchange {
        Exchange::Answered {
            status,
            body: Bytes::from(body.to_owned()),
            etag: etag.map(|t| Bytes::from(t.to_owned())),
        }
    }

    fn spec(json: serde_json::Value) -> KvSpec {
        let mut base = serde_json::json!({"read": "GET /k/{key}", "cas": "PUT /k/{key}"});
        base.as_object_mut()
            .unwrap()
            .extend(json.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn the_version_is_the_etag_or_the_field_named_and_absent_creates() {
        let etag = spec(serde_json::json!({}));
        let e = answered(200, r#"{"value": 3}"#, Some("\"abc\""));
        assert_eq!(version(&e, &etag), Ok(Some("\"abc\"".into())));
        assert_eq!(version(&answered(404, "", None), &etag), Ok(None));
        let missing = version(&answered(200, "{}", None), &etag).unwrap_err();
        assert!(missing.contains("--version-at"), "{missing}");
        let field = spec(serde_json::json!({"version_at": "/meta/v"}));
        let e = answered(200, r#"{"meta": {"v": 7}}"#, Some("\"ignored\""));
        assert_eq!(version(&e, &field), Ok(Some("\"7\"".into())));
        let e = answered(200, r#"{"meta": {"v": "W/\"w\""}}"#, None);
        assert_eq!(version(&e, &field), Ok(Some("W/\"w\"".into())));
        let e = answered(200, r#"{"meta": {"v": "r17"}}"#, None);
        assert_eq!(version(&e, &field), Ok(Some("\"r17\"".into())));
        assert!(version(&answered(200, "{}", None), &field).is_err());
    }

    #[test]
    fn a_412_is_an_answer_and_other_refusals_say_nothing() {
        assert_eq!(cas(&answered(412, "", None)), (Some(Outcome::Fail), None));
        assert_eq!(cas(&answered(200, "", None)).0, Some(Outcome::Ok));
        assert_eq!(cas(&answered(503, "", None)).0, Some(Outcome::Info));
        let (outcome, failure) = cas(&answered(400, "bad", None));
        assert_eq!(outcome, None);
        assert!(failure.unwrap().1.starts_with("cas: status 400"));
    }

    /// A compare-and-set never sent (no connection, no TLS session) saw
    /// nothing and is left out; one sent and never answered may have taken
    /// effect: info. Plain writes: unsent fail, unanswered info.
    #[test]
    fn unsent_is_left_out_or_failed_and_unanswered_is_info() {
        let failed = |kind| Exchange::Failed {
            kind,
            message: "gone".into(),
        };
        for kind in [FailureKind::Connect, FailureKind::Tls] {
            assert_eq!(cas(&failed(kind)), (None, Some((kind, "cas: gone".into()))));
            assert_eq!(write(&failed(kind)).0, Outcome::Fail, "{kind}");
        }
        for kind in [FailureKind::Timeout, FailureKind::Indeterminate] {
            assert_eq!(
                cas(&failed(kind)),
                (Some(Outcome::Info), Some((kind, "cas: gone".into())))
            );
            assert_eq!(write(&failed(kind)).0, Outcome::Info, "{kind}");
        }
    }

    #[test]
    fn a_read_that_is_not_2xx_is_a_status_failure_whatever_its_body() {
        let s = spec(serde_json::json!({}));
        // A 500 whose body even has a value at the pointer.
        let (seen, failure) = read(&answered(500, r#"{"value": 3}"#, None), &s, WriteMode::Set);
        assert_eq!(seen, None);
        let (kind, message) = failure.unwrap();
        assert_eq!(kind, FailureKind::Status);
        assert!(message.starts_with("read: status 500"), "{message}");
        let (seen, _) = read(&answered(200, r#"{"value": 3}"#, None), &s, WriteMode::Set);
        assert_eq!(seen, Some(Seen::Value(3)));
    }

    #[test]
    fn a_list_reads_as_the_text_its_appends_made() {
        let s = spec(serde_json::json!({"read_value": "/messages", "item_value": "/content"}));
        let body = r#"{"messages": [{"content": "3"}, {"content": 12}]}"#;
        let (seen, failure) = read(&answered(200, body, None), &s, WriteMode::Append);
        assert_eq!((seen, failure), (Some(Seen::Text("3,12,".into())), None));
        let body = r#"{"messages": [{"content": "hello"}]}"#;
        let (seen, failure) = read(&answered(200, body, None), &s, WriteMode::Append);
        assert_eq!(seen, None);
        assert!(failure.unwrap().1.contains("element 0"));
    }
}
