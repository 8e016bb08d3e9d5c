//! Scenario files (`scenarios/*.toml`): an issue-reproduction recipe — which
//! server to start (the reference server with flags, or any command), how to
//! tell it is ready, the variants to compare (the buggy build and the fixed
//! one), the ordered steps, and what counts as a pass.
//!
//! ```toml
//! title = "lost-update: concurrent settings merges drop keys"
//! summary = "..."
//!
//! [server]
//! reference = true                  # or: command = ["python3", "app.py", "--port", "{port}"]
//! args = ["--pool-size", "4"]       # appended to the command
//! ready = "/healthz"
//!
//! [variants.before]
//! args = ["--inject", "lost-update"]
//! expect = "fail"                   # the bug must be detected
//!
//! [variants.after]
//! expect = "pass"
//!
//! [[steps]]
//! fire = "/api/settings"
//! method = "PATCH"
//! body = '{"key{i}": {i}}'
//! concurrency = 32
//! requests = 128
//! burst = true
//!
//! [[steps]]
//! state = "/api/settings"           # GET it after the load
//! pointer = "/count"
//! equals = 128
//! ```
//!
//! Placeholders in the command, args and env: `{port}` (a free loopback
//! port), `{db}` (a fresh database path), `{dir}` (the trial's scratch dir).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::check::{BodyCheck, Checks, StatusSet};
use crate::cli::parse_duration;

/// A scenario file, as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// One line: what the scenario reproduces.
    pub title: String,
    /// The symptom, the cause, the fix.
    #[serde(default)]
    pub summary: String,
    /// The server to start.
    pub server: ServerSpec,
    /// Named variants, in file order, each started fresh for every trial.
    pub variants: indexmap::IndexMap<String, Variant>,
    /// What to do against each started server, in order.
    pub steps: Vec<Step>,
    /// What counts as a pass.
    #[serde(default)]
    pub verdict: VerdictSpec,
    /// Trials per variant unless `--trials` says otherwise.
    #[serde(default = "default_trials")]
    pub trials: u32,
    /// Where the file was read from (set by [`Scenario::load`]).
    #[serde(skip)]
    pub path: PathBuf,
}

fn default_trials() -> u32 {
    3
}

/// How to start the server.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    /// Start racegate's reference server (`racegate server --addr 127.0.0.1:{port} --db {db}`).
    #[serde(default)]
    pub reference: bool,
    /// Or any command, with placeholders.
    #[serde(default)]
    pub command: Vec<String>,
    /// Arguments appended to the command.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Path polled until it answers 200.
    #[serde(default = "default_ready")]
    pub ready: String,
    /// How long the server may take to become ready.
    #[serde(default = "default_ready_timeout")]
    pub ready_timeout: String,
    /// How long it may take to stop after SIGTERM before it is killed.
    #[serde(default = "default_stop_timeout")]
    pub stop_timeout: String,
}

fn default_ready() -> String {
    "/healthz".into()
}
fn default_ready_timeout() -> String {
    "20s".into()
}
fn default_stop_timeout() -> String {
    "10s".into()
}

/// Whether a variant should pass or show the bug.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// The fixed build: must pass.
    Pass,
    /// The buggy build: the harness must detect the bug.
    Fail,
}

/// One variant of the server.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Replaces the server command, if set.
    #[serde(default)]
    pub command: Vec<String>,
    /// Appended after the server's args.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// What this variant must do.
    pub expect: Expect,
}

/// One step: a load (`fire = PATH`) or a state check (`state = PATH`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// A name for reports; defaults to the method and path.
    #[serde(default)]
    pub name: Option<String>,
    /// Fire load at this path.
    #[serde(default)]
    pub fire: Option<String>,
    /// GET this path and check the JSON in it.
    #[serde(default)]
    pub state: Option<String>,
    /// HTTP method of a fire step.
    #[serde(default = "default_method")]
    pub method: String,
    /// Body template of a fire step.
    #[serde(default)]
    pub body: Option<String>,
    /// Headers, `Name: value`.
    #[serde(default)]
    pub headers: Vec<String>,
    /// Workers.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Requests.
    #[serde(default = "default_requests")]
    pub requests: u64,
    /// Barrier-synchronised rounds.
    #[serde(default)]
    pub burst: bool,
    /// Per-request timeout.
    #[serde(default = "default_timeout")]
    pub timeout: String,
    /// Expected statuses (default 2xx).
    #[serde(default)]
    pub expect_status: Option<String>,
    /// Required top-level JSON fields.
    #[serde(default)]
    pub expect_json_field: Vec<String>,
    /// Required text.
    #[serde(default)]
    pub expect_body_contains: Vec<String>,
    /// State check: the JSON pointer to read.
    #[serde(default)]
    pub pointer: Option<String>,
    /// State check: the value must equal this.
    #[serde(default)]
    pub equals: Option<Value>,
    /// State check: the number must be at most this.
    #[serde(default)]
    pub at_most: Option<f64>,
    /// State check: the number must be at least this.
    #[serde(default)]
    pub at_least: Option<f64>,
}

fn default_method() -> String {
    "GET".into()
}
fn default_concurrency() -> usize {
    16
}
fn default_requests() -> u64 {
    100
}
fn default_timeout() -> String {
    "10s".into()
}

/// What counts as a pass for a variant.
#[derive(Clone, Copy, Debug, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VerdictSpec {
    /// The pass rate over all requests of all trials must reach this.
    #[serde(default = "one")]
    pub min_pass_rate: f64,
    /// And the 95 % interval's lower bound must reach this, or the verdict is
    /// "inconclusive": not enough requests to claim the rate.
    #[serde(default = "confidence_floor")]
    pub confidence_floor: f64,
}

fn one() -> f64 {
    1.0
}
fn confidence_floor() -> f64 {
    0.99
}

impl Default for VerdictSpec {
    fn default() -> Self {
        Self {
            min_pass_rate: one(),
            confidence_floor: confidence_floor(),
        }
    }
}

/// A scenario file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ScenarioError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// A step, checked and ready to run.
#[derive(Clone, Debug)]
pub enum PlannedStep {
    /// Fire load.
    Fire {
        /// Report name.
        name: String,
        /// Path on the server.
        path: String,
        /// Method.
        method: String,
        /// Body template.
        body: Option<String>,
        /// Headers.
        headers: Vec<String>,
        /// Workers.
        concurrency: usize,
        /// Requests.
        requests: u64,
        /// Burst mode.
        burst: bool,
        /// Per-request timeout.
        timeout: Duration,
        /// Checks.
        checks: Checks,
    },
    /// Check the server's state.
    State {
        /// Report name.
        name: String,
        /// Path to GET.
        path: String,
        /// JSON pointer.
        pointer: String,
        /// The condition.
        condition: StateCondition,
    },
}

/// What a state check requires.
#[derive(Clone, Debug, PartialEq)]
pub enum StateCondition {
    /// Equal to this JSON value.
    Equals(Value),
    /// A number within these bounds.
    Within {
        /// Lower bound.
        at_least: Option<f64>,
        /// Upper bound.
        at_most: Option<f64>,
    },
}

impl StateCondition {
    /// Whether `found` meets the condition; the error says how it missed.
    pub fn check(&self, found: Option<&Value>) -> Result<(), String> {
        let Some(found) = found else {
            return Err("missing".into());
        };
        match self {
            StateCondition::Equals(want) if found == want => Ok(()),
            StateCondition::Equals(want) => Err(format!("is {found}, expected {want}")),
            StateCondition::Within { at_least, at_most } => {
                let n = found
                    .as_f64()
                    .ok_or_else(|| format!("is {found}, not a number"))?;
                if at_least.is_some_and(|lo| n < lo) || at_most.is_some_and(|hi| n > hi) {
                    let lo = at_least.map(|v| format!("≥ {v}")).unwrap_or_default();
                    let hi = at_most.map(|v| format!("≤ {v}")).unwrap_or_default();
                    let want = [lo, hi]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(" and ");
                    return Err(format!("is {n}, expected {want}"));
                }
                Ok(())
            }
        }
    }

    /// For reports: `equals 128`, `≤ 8`.
    pub fn describe(&self) -> String {
        match self {
            StateCondition::Equals(v) => format!("equals {v}"),
            StateCondition::Within { at_least, at_most } => [
                at_least.map(|v| format!("≥ {v}")),
                at_most.map(|v| format!("≤ {v}")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" and "),
        }
    }
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let err = |message: String| ScenarioError {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let mut scenario: Scenario = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        scenario.path = path.to_owned();
        scenario.validate().map_err(err)?;
        Ok(scenario)
    }

    /// The scenario's name: the file stem.
    pub fn name(&self) -> String {
        self.path
            .file_stem()
            .map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned())
    }

    fn validate(&self) -> Result<(), String> {
        if self.server.reference != self.server.command.is_empty() {
            return Err(
                "[server] needs exactly one of `reference = true` or `command = [...]`".into(),
            );
        }
        if self.variants.is_empty() {
            return Err("no [variants.*]: name at least the fixed one".into());
        }
        if self.steps.is_empty() {
            return Err("no [[steps]]".into());
        }
        if self.trials == 0 {
            return Err("trials must be at least 1".into());
        }
        for d in [&self.server.ready_timeout, &self.server.stop_timeout] {
            parse_duration(d)?;
        }
        if !self.server.ready.starts_with('/') {
            return Err(format!(
                "ready = {:?} must be a path starting with '/'",
                self.server.ready
            ));
        }
        self.plan().map(drop)
    }

    /// The ready timeout.
    pub fn ready_timeout(&self) -> Duration {
        parse_duration(&self.server.ready_timeout).unwrap_or(Duration::from_secs(20))
    }

    /// The stop timeout.
    pub fn stop_timeout(&self) -> Duration {
        parse_duration(&self.server.stop_timeout).unwrap_or(Duration::from_secs(10))
    }

    /// The steps, checked.
    pub fn plan(&self) -> Result<Vec<PlannedStep>, String> {
        self.steps
            .iter()
            .enumerate()
            .map(|(i, s)| s.plan(i + 1))
            .collect()
    }
}

impl Step {
    fn plan(&self, n: usize) -> Result<PlannedStep, String> {
        let bad = |m: String| format!("step {n}: {m}");
        match (&self.fire, &self.state) {
            (Some(path), None) => {
                if !path.starts_with('/') {
                    return Err(bad(format!(
                        "fire = {path:?} must be a path starting with '/'"
                    )));
                }
                if self.pointer.is_some()
                    || self.equals.is_some()
                    || self.at_most.is_some()
                    || self.at_least.is_some()
                {
                    return Err(bad(
                        "pointer/equals/at_most/at_least belong to state steps".into()
                    ));
                }
                if self.concurrency == 0 || self.requests == 0 {
                    return Err(bad("concurrency and requests must be at least 1".into()));
                }
                let mut checks = Checks::default();
                if let Some(s) = &self.expect_status {
                    checks.status = StatusSet::parse(s).map_err(bad)?;
                }
                for f in &self.expect_json_field {
                    checks.body.push(BodyCheck::JsonField { field: f.clone() });
                }
                for t in &self.expect_body_contains {
                    checks
                        .body
                        .push(BodyCheck::BodyContains { text: t.clone() });
                }
                Ok(PlannedStep::Fire {
                    name: self
                        .name
                        .clone()
                        .unwrap_or_else(|| format!("{} {}", self.method, path)),
                    path: path.clone(),
                    method: self.method.clone(),
                    body: self.body.clone(),
                    headers: self.headers.clone(),
                    concurrency: self.concurrency,
                    requests: self.requests,
                    burst: self.burst,
                    timeout: parse_duration(&self.timeout).map_err(bad)?,
                    checks,
                })
            }
            (None, Some(path)) => {
                if !path.starts_with('/') {
                    return Err(bad(format!(
                        "state = {path:?} must be a path starting with '/'"
                    )));
                }
                let pointer = self
                    .pointer
                    .clone()
                    .ok_or_else(|| bad("a state step needs `pointer`".into()))?;
                let condition = match (&self.equals, self.at_least, self.at_most) {
                    (Some(v), None, None) => StateCondition::Equals(v.clone()),
                    (None, lo, hi) if lo.is_some() || hi.is_some() => StateCondition::Within {
                        at_least: lo,
                        at_most: hi,
                    },
                    _ => {
                        return Err(bad(
                            "a state step needs `equals`, or `at_least`/`at_most`".into()
                        ))
                    }
                };
                Ok(PlannedStep::State {
                    name: self.name.clone().unwrap_or_else(|| {
                        format!("GET {path} {pointer} {}", condition.describe())
                    }),
                    path: path.clone(),
                    pointer,
                    condition,
                })
            }
            _ => Err(bad(
                "each step has exactly one of `fire = PATH` or `state = PATH`".into(),
            )),
        }
    }
}
