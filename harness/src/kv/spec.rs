//! The kv workload as written: the same names on the command line
//! (`racegate kv --read … --write …`) and in a scenario step (`kv = { read =
//! …, write = … }`).

use crate::tls::TlsOptions;
use std::time::Duration;

use hyper::Method;
use serde::Deserialize;

use crate::duration::{deserialize_text, parse_duration};
use crate::nemesis::proxy::ProxyFault;
use crate::nemesis::CancelSpec;
use crate::request::parse_method;

/// A keyed read/write workload.
///
/// Every default is one constant below, read by clap and serde alike. On the
/// command line `-c`, `-n` and `--timeout` come from the shared
/// run-shape flag group, with [`CONCURRENCY`] and
/// [`REQUESTS`] as its defaults.
#[derive(Clone, Debug, PartialEq, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct KvSpec {
    /// The read: 'METHOD /path' with {key}, e.g. 'GET /api/settings/{key}'.
    #[arg(long, value_name = "'METHOD /PATH'")]
    pub read: String,
    /// JSON pointer to the value in a read's answer (an integer, or a string of one).
    #[arg(long, default_value = READ_VALUE, value_name = "/POINTER")]
    #[serde(default = "defaults::read_value")]
    pub read_value: String,
    /// The status a read answers when the key is absent (the initial state).
    #[arg(long, default_value_t = ABSENT_STATUS)]
    #[serde(default = "defaults::absent_status")]
    pub absent_status: u16,
    /// The write: 'METHOD /path' with {key}, e.g. 'PUT /api/settings/{key}' or 'PATCH /api/settings'.
    #[arg(long, value_name = "'METHOD /PATH'", required_unless_present_any = ["cas", "append"])]
    #[serde(default)]
    pub write: Option<String>,
    /// Instead of --write, a conditional write: each write reads the key first, then sends this with If-Match: its ETag (If-None-Match: * when absent). 2xx ok, 412 fail, 5xx or no answer unknown; checked as a compare-and-set register.
    #[arg(long, value_name = "'METHOD /PATH'", conflicts_with_all = ["write", "append"])]
    #[serde(default)]
    pub cas: Option<String>,
    /// With --cas: take the version from the read's JSON at this pointer instead of its ETag header (sent back as If-Match).
    #[arg(long, value_name = "/POINTER", requires = "cas")]
    #[serde(default)]
    pub version_at: Option<String>,
    /// Instead of --write, an append: each write adds a unique integer to the key's list, and a read (--read-value pointing at the list) returns all of it; checked as an append register, so a lost, doubled or reordered append is a violation.
    #[arg(long, value_name = "'METHOD /PATH'", conflicts_with_all = ["write", "cas"])]
    #[serde(default)]
    pub append: Option<String>,
    /// With --append: JSON pointer to the integer inside each list element (default: the element itself).
    #[arg(
        long,
        default_value = "",
        hide_default_value = true,
        value_name = "/POINTER"
    )]
    #[serde(default)]
    pub item_value: String,
    /// The write's body, with {value} (a unique integer per write) and {key}.
    #[arg(long, default_value = WRITE_BODY, value_name = "TEMPLATE")]
    #[serde(default = "defaults::write_body")]
    pub write_body: String,
    /// How many keys (named PREFIX0, PREFIX1, …).
    #[arg(long, default_value_t = KEYS)]
    #[serde(default = "defaults::keys")]
    pub keys: usize,
    /// Concurrent clients, each with its own kept-alive connection.
    #[arg(skip = CONCURRENCY)]
    #[serde(default = "defaults::concurrency")]
    pub concurrency: usize,
    /// Operations in all.
    #[arg(skip = REQUESTS)]
    #[serde(default = "defaults::requests")]
    pub requests: u64,
    /// Share of operations that are writes, 0 to 1.
    #[arg(long, default_value_t = WRITE_RATIO)]
    #[serde(default = "defaults::write_ratio")]
    pub write_ratio: f64,
    /// Longest the history check may take; past it the verdict is "unknown".
    #[arg(long, default_value = BUDGET, value_parser = parse_duration)]
    #[serde(default = "defaults::budget", deserialize_with = "deserialize_text")]
    pub budget: Duration,
    /// Per-request timeout; a write that times out may or may not have taken effect.
    #[arg(skip = defaults::timeout())]
    #[serde(default = "defaults::timeout", deserialize_with = "deserialize_text")]
    pub timeout: Duration,
    /// Key name prefix (default: rg-<random>-k, fresh keys every run, so the
    /// initial state really is absent).
    #[arg(long)]
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// Seed for the choice of keys, of reads vs writes, and of the faults
    /// (default: random, printed and recorded so a run can be replayed).
    #[arg(long)]
    #[serde(default)]
    pub seed: Option<u64>,
    /// Abandon a share of operations (the nemesis): `RATE:MIN..MAX[@FROM..TO]`.
    /// On the command line it comes from the shared fault flags.
    #[arg(skip)]
    #[serde(default)]
    pub cancel: Option<CancelSpec>,
    /// The fault proxy's specs (`--fault`); on the command line they come
    /// from the shared fault flags.
    #[arg(skip)]
    #[serde(default)]
    pub faults: Vec<ProxyFault>,
    /// Whom an `https://` service is trusted as; on the command line it
    /// comes from the target flags (`--cacert`, `--insecure`).
    #[arg(skip)]
    #[serde(default)]
    pub tls: TlsOptions,
    /// HTTP/2 with this many streams on each connection (each stream a
    /// client of its own: `concurrency` × streams clients); `None`:
    /// HTTP/1.1. On the command line, `--http2 -p N`.
    #[arg(skip)]
    #[serde(default)]
    pub http2: Option<usize>,
}

/// Default JSON pointer to a read's value.
pub const READ_VALUE: &str = "/value";
/// Default status of a read of an absent key.
pub const ABSENT_STATUS: u16 = 404;
/// Default write body.
pub const WRITE_BODY: &str = "{value}";
/// Default number of keys.
pub const KEYS: usize = 8;
/// Default concurrent clients.
pub const CONCURRENCY: usize = 16;
/// Default operations in all.
pub const REQUESTS: u64 = 4000;
/// Default share of writes.
pub const WRITE_RATIO: f64 = 0.5;
/// Default budget of the history check.
pub const BUDGET: &str = "10s";
/// Default per-request timeout (the same as fire's).
pub const TIMEOUT: &str = crate::plan::REQUEST_TIMEOUT;

/// The constants above as serde wants them: functions.
mod defaults {
    use std::time::Duration;

    use crate::duration::parse_duration;

    pub(super) fn read_value() -> String {
        super::READ_VALUE.into()
    }
    pub(super) fn absent_status() -> u16 {
        super::ABSENT_STATUS
    }
    pub(super) fn write_body() -> String {
        super::WRITE_BODY.into()
    }
    pub(super) fn keys() -> usize {
        super::KEYS
    }
    pub(super) fn concurrency() -> usize {
        super::CONCURRENCY
    }
    pub(super) fn requests() -> u64 {
        super::REQUESTS
    }
    pub(super) fn write_ratio() -> f64 {
        super::WRITE_RATIO
    }
    pub(super) fn budget() -> Duration {
        constant(super::BUDGET)
    }
    pub(super) fn timeout() -> Duration {
        constant(super::TIMEOUT)
    }
    fn constant(text: &str) -> Duration {
        parse_duration(text).unwrap_or_else(|e| unreachable!("a default duration parses: {e}"))
    }
}

/// A workload that cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KvSpecError {
    /// Not `METHOD /path`.
    #[error("bad {which} {spec:?}: use 'METHOD /path', e.g. 'GET /api/settings/{{key}}'")]
    Operation {
        /// `--read`, `--write`, `--cas` or `--append`.
        which: &'static str,
        /// As given.
        spec: String,
    },
    /// Neither the write's path nor its body names `{key}`, or the body
    /// lacks `{value}`.
    #[error("{0}")]
    Template(String),
    /// A number out of range.
    #[error("{0}")]
    Range(String),
}

/// `METHOD /path` with `{key}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    /// The method.
    pub method: Method,
    /// The path, with `{key}`.
    pub path: String,
}

impl Operation {
    fn parse(which: &'static str, spec: &str) -> Result<Self, KvSpecError> {
        let bad = || KvSpecError::Operation {
            which,
            spec: spec.to_owned(),
        };
        let (method, path) = spec.trim().split_once(' ').ok_or_else(bad)?;
        let path = path.trim();
        if !path.starts_with('/') || path.replace("{key}", "k").parse::<hyper::Uri>().is_err() {
            return Err(bad());
        }
        Ok(Self {
            method: parse_method(method).map_err(|_| bad())?,
            path: path.to_owned(),
        })
    }

    /// The path for `key`.
    pub fn path_for(&self, key: &str) -> String {
        self.path.replace("{key}", key)
    }
}

/// What a write is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Sets the value (`--write`).
    Set,
    /// Sets it if the version read just before still holds (`--cas`).
    Cas,
    /// Adds to the key's list (`--append`).
    Append,
}

/// The workload, checked.
#[derive(Clone, Debug)]
pub struct KvPlan {
    /// The read.
    pub read: Operation,
    /// The write, of whichever mode.
    pub write: Operation,
    /// Which mode.
    pub mode: WriteMode,
    /// As in [`KvSpec`].
    pub spec: KvSpec,
}

impl KvPlan {
    /// The model the history is checked against.
    pub fn model(&self) -> crate::history::Model {
        match self.mode {
            WriteMode::Set => crate::history::Model::Register,
            WriteMode::Cas => crate::history::Model::CasRegister,
            WriteMode::Append => crate::history::Model::Append,
        }
    }

    /// The write as given: `PUT /k/{key}`, `cas PUT /k/{key}`, `append POST /l/{key}`.
    pub fn write_spec(&self) -> String {
        self.spec.write_description()
    }
}

impl KvSpec {
    /// The write as given: `PUT /k/{key}`, `cas PUT /k/{key}`, `append POST /l/{key}`.
    pub fn write_description(&self) -> String {
        match (&self.write, &self.cas, &self.append) {
            (Some(w), _, _) => w.clone(),
            (None, Some(c), _) => format!("cas {c}"),
            (None, None, Some(a)) => format!("append {a}"),
            (None, None, None) => String::new(),
        }
    }

    /// Checks the workload.
    pub fn plan(&self) -> Result<KvPlan, KvSpecError> {
        let read = Operation::parse("--read", &self.read)?;
        let (mode, which, write) = match (&self.write, &self.cas, &self.append) {
            (Some(w), None, None) => (WriteMode::Set, "--write", w),
            (None, Some(w), None) => (WriteMode::Cas, "--cas", w),
            (None, None, Some(w)) => (WriteMode::Append, "--append", w),
            _ => {
                return Err(KvSpecError::Template(
                    "give exactly one of --write, --cas and --append".into(),
                ))
            }
        };
        let write_text = write;
        let write = Operation::parse(which, write)?;
        if !read.path.contains("{key}") {
            return Err(KvSpecError::Template(format!(
                "--read {:?} must name {{key}} in its path",
                self.read
            )));
        }
        if !write.path.contains("{key}") && !self.write_body.contains("{key}") {
            return Err(KvSpecError::Template(format!(
                "{which} {write_text:?} with body {:?} names no {{key}}",
                self.write_body
            )));
        }
        for (flag, pointer) in [
            ("--version-at", self.version_at.as_deref().unwrap_or("/")),
            ("--item-value", &self.item_value),
        ] {
            if !pointer.is_empty() && !pointer.starts_with('/') {
                return Err(KvSpecError::Template(format!(
                    "{flag} {pointer:?} must be a JSON pointer such as /version"
                )));
            }
        }
        if !self.write_body.contains("{value}") {
            return Err(KvSpecError::Template(format!(
                "--write-body {:?} must contain {{value}}: every write writes a unique integer",
                self.write_body
            )));
        }
        if !self.read_value.starts_with('/') && !self.read_value.is_empty() {
            return Err(KvSpecError::Template(format!(
                "--read-value {:?} must be a JSON pointer such as /value",
                self.read_value
            )));
        }
        if let Some(prefix) = &self.key_prefix {
            let safe = |c: char| c.is_ascii_alphanumeric() || "-_.~:".contains(c);
            if prefix.is_empty() || !prefix.chars().all(safe) {
                return Err(KvSpecError::Template(format!(
                    "--key-prefix {prefix:?} must be non-empty and use only A-Z a-z 0-9 - _ . ~ : (it goes into paths and JSON bodies as is)"
                )));
            }
        }
        if self.keys == 0 || self.concurrency == 0 || self.requests == 0 {
            return Err(KvSpecError::Range(
                "--keys, -c and -n must be at least 1".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.write_ratio) {
            return Err(KvSpecError::Range(format!(
                "--write-ratio must be between 0 and 1, got {}",
                self.write_ratio
            )));
        }
        if !(100..=599).contains(&self.absent_status) {
            return Err(KvSpecError::Range(format!(
                "--absent-status {} is not an HTTP status",
                self.absent_status
            )));
        }
        Ok(KvPlan {
            read,
            write,
            mode,
            spec: self.clone(),
        })
    }
}
