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
//! protocol = "h2"                   # optional: every step over HTTP/2
//! tls = true                        # optional: HTTPS, with a CA made per trial
//!
//! [variants.before]
//! args = ["--inject", "lost-update"]
//! expect = "fail"                   # the bug must be detected…
//! symptom_regex = '/count is \d+, expected 128'   # …and show this symptom
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
//! expect_json_field = ["updated"]   # the checks: see `check::CheckSpec`
//!
//! [[steps]]
//! state = "/api/settings"           # GET it after the load
//! pointer = "/count"
//! equals = 128
//! ```
//!
//! A variant expected to fail may name its symptom (`symptom = "text"` or
//! `symptom_regex = "…"`), matched against failure messages and failed state
//! checks: the verdict is "bug detected" only when the symptom is seen.
//!
//! Placeholders in the command, args and env: `{port}` (a free loopback
//! port), `{db}` (a fresh database path), `{dir}` (the trial's scratch dir,
//! where the server runs), `{scenario_dir}` (the scenario file's directory)
//! and `{cwd}` (where racegate was started, e.g. a checked-out tree under
//! `git bisect`); with `tls = true`, `{tls_cert}` and `{tls_key}` (PEM files
//! of a certificate for 127.0.0.1 and localhost).

mod step;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::check::{Symptom, SymptomError};

pub use step::{
    FireStep, KvStep, PlannedStep, StateCondition, StateMismatch, StateStep, Step, StepError,
};

/// A scenario file, as written and checked.
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
    steps: Vec<Step>,
    /// What counts as a pass.
    #[serde(default)]
    pub verdict: VerdictSpec,
    /// Trials per variant unless `--trials` says otherwise.
    #[serde(default = "default_trials")]
    pub trials: u32,
    /// Where the file was read from (set by [`Scenario::load`]).
    #[serde(skip)]
    pub path: PathBuf,
    /// The steps, checked (set by [`Scenario::load`]).
    #[serde(skip)]
    planned: Vec<PlannedStep>,
}

fn default_trials() -> u32 {
    3
}

/// How to start the server.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    /// `"http/1.1"` (the default) or `"h2"`: every step's requests then go
    /// over HTTP/2 (h2c), a step's workers as streams on shared connections.
    #[serde(default)]
    pub protocol: crate::plan::Protocol,
    /// Serve HTTPS: racegate makes a CA and a certificate for 127.0.0.1 in
    /// each trial's directory; the reference server gets `--tls-cert` and
    /// `--tls-key`, any command `{tls_cert}` and `{tls_key}`; every step
    /// trusts the CA.
    #[serde(default)]
    pub tls: bool,
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
    #[serde(
        default = "default_ready_timeout",
        deserialize_with = "crate::duration::deserialize_text"
    )]
    pub ready_timeout: Duration,
    /// How long it may take to stop after SIGTERM before it is killed.
    #[serde(
        default = "default_stop_timeout",
        deserialize_with = "crate::duration::deserialize_text"
    )]
    pub stop_timeout: Duration,
}

fn default_ready() -> String {
    "/healthz".into()
}
fn default_ready_timeout() -> Duration {
    Duration::from_secs(20)
}
fn default_stop_timeout() -> Duration {
    Duration::from_secs(10)
}

/// Whether a variant should pass or show the bug.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// The fixed build: must pass.
    Pass,
    /// The buggy build: the harness must detect the bug.
    Fail,
}

impl Expect {
    /// `pass` or `fail`.
    pub fn name(self) -> &'static str {
        match self {
            Expect::Pass => "pass",
            Expect::Fail => "fail",
        }
    }
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
    /// For `expect = "fail"`: text a failure must contain for the bug to
    /// count as detected.
    #[serde(default)]
    symptom: Option<String>,
    /// Or a regular expression it must match.
    #[serde(default)]
    symptom_regex: Option<String>,
    /// The symptom, built (set by [`Scenario::load`]).
    #[serde(skip)]
    matcher: Option<Symptom>,
}

impl Variant {
    /// The failure this variant must show, if it names one.
    pub fn symptom(&self) -> Option<&Symptom> {
        self.matcher.as_ref()
    }
}

/// What counts as a pass for a variant.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
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
#[error("{path}: {problem}")]
pub struct ScenarioError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub problem: ScenarioProblem,
}

/// What is wrong with a scenario file.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioProblem {
    /// The file cannot be read.
    #[error("cannot read: {0}")]
    Read(#[from] std::io::Error),
    /// Not valid TOML, or a field of the wrong type or name.
    #[error("{0}")]
    Syntax(#[from] toml::de::Error),
    /// A step that cannot run.
    #[error(transparent)]
    Step(#[from] StepError),
    /// A symptom that cannot be used.
    #[error("variant {variant}: {source}")]
    Symptom {
        /// The variant.
        variant: String,
        /// Why.
        source: SymptomError,
    },
    /// Anything else that contradicts itself.
    #[error("{0}")]
    Invalid(String),
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let err = |problem: ScenarioProblem| ScenarioError {
            path: path.display().to_string(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.into()))?;
        let mut scenario: Scenario = toml::from_str(&text).map_err(|e| err(e.into()))?;
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

    /// The steps, checked.
    pub fn steps(&self) -> &[PlannedStep] {
        &self.planned
    }

    /// The same scenario cut after step `step` (from 0), that step's load
    /// set to `concurrency` workers and `requests` requests: one level of
    /// `repro --minimize`. `None` unless `step` is a fire step.
    pub fn at_load(&self, step: usize, concurrency: usize, requests: u64) -> Option<Scenario> {
        let mut cut = self.clone();
        cut.planned.truncate(step + 1);
        match cut.planned.get_mut(step) {
            Some(PlannedStep::Fire(f)) => {
                f.concurrency = concurrency.max(1);
                f.requests = requests.max(1);
                Some(cut)
            }
            _ => None,
        }
    }

    fn validate(&mut self) -> Result<(), ScenarioProblem> {
        let invalid = |m: &str| Err(ScenarioProblem::Invalid(m.to_owned()));
        if self.server.reference != self.server.command.is_empty() {
            return invalid(
                "[server] needs exactly one of `reference = true` or `command = [...]`",
            );
        }
        if self.variants.is_empty() {
            return invalid("no [variants.*]: name at least the fixed one");
        }
        if self.steps.is_empty() {
            return invalid("no [[steps]]");
        }
        if self.trials == 0 {
            return invalid("trials must be at least 1");
        }
        for (name, rate) in [
            ("[verdict] min_pass_rate", self.verdict.min_pass_rate),
            ("[verdict] confidence_floor", self.verdict.confidence_floor),
        ] {
            crate::gate::check_pass_rate(name, rate).map_err(ScenarioProblem::Invalid)?;
        }
        if !self.server.ready.starts_with('/') {
            return Err(ScenarioProblem::Invalid(format!(
                "ready = {:?} must be a path starting with '/'",
                self.server.ready
            )));
        }
        for (name, v) in &mut self.variants {
            let symptom_err = |source| ScenarioProblem::Symptom {
                variant: name.clone(),
                source,
            };
            v.matcher = match (&v.symptom, &v.symptom_regex) {
                (Some(_), Some(_)) => {
                    return Err(ScenarioProblem::Invalid(format!(
                        "variant {name}: give `symptom` or `symptom_regex`, not both"
                    )))
                }
                (Some(text), None) => Some(Symptom::contains(text).map_err(symptom_err)?),
                (None, Some(re)) => Some(Symptom::regex(re).map_err(symptom_err)?),
                (None, None) => None,
            };
            if v.matcher.is_some() && v.expect == Expect::Pass {
                return Err(ScenarioProblem::Invalid(format!(
                    "variant {name}: a symptom belongs to a variant with expect = \"fail\""
                )));
            }
        }
        self.planned = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| s.plan(i + 1))
            .collect::<Result<_, _>>()?;
        Ok(())
    }
}
