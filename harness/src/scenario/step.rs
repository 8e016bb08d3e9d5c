//! One scenario step, as written and as planned: a load (`fire = PATH`) with
//! the same checks as `racegate fire` (see [`CheckSpec`]), a state check
//! (`state = PATH`) of a JSON value after the load, or a keyed workload
//! whose history is checked (`kv = { … }`, the same keys as `racegate kv`).

use std::time::Duration;

use hyper::Method;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::check::{CheckError, CheckSpec};
use crate::kv::{KvSpec, KvSpecError};
use crate::nemesis::proxy::ProxyFault;
use crate::nemesis::server::{PauseSpec, RestartSpec, ServerFault};
use crate::nemesis::CancelSpec;
use crate::request::{parse_header, parse_method, HeaderError, MethodError};

/// A step as written: its own keys, and the check keys shared with `fire`.
#[derive(Clone, Debug)]
pub struct Step {
    fields: StepFields,
    checks: CheckSpec,
}

impl<'de> Deserialize<'de> for Step {
    /// Splits the step's table into the check keys ([`CheckSpec::KEYS`]) and
    /// the rest, each read strictly (unknown keys are errors), so the check
    /// keys are defined once, in `CheckSpec`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut table = toml::Table::deserialize(d)?;
        let mut checks = toml::Table::new();
        for key in CheckSpec::KEYS {
            if let Some(v) = table.remove(key) {
                checks.insert(key.to_owned(), v);
            }
        }
        let fields: StepFields = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| D::Error::custom(e.message()))?;
        let checks: CheckSpec = toml::Value::Table(checks)
            .try_into()
            .map_err(|e: toml::de::Error| D::Error::custom(e.message()))?;
        Ok(Step { fields, checks })
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFields {
    /// A name for reports; defaults to the method and path.
    #[serde(default)]
    name: Option<String>,
    /// Fire load at this path.
    #[serde(default)]
    fire: Option<String>,
    /// GET this path and check the JSON in it.
    #[serde(default)]
    state: Option<String>,
    /// Run a keyed read/write workload and check its history.
    #[serde(default)]
    kv: Option<KvSpec>,
    /// HTTP method of a fire step.
    #[serde(default = "default_method")]
    method: String,
    /// Body template of a fire step.
    #[serde(default)]
    body: Option<String>,
    /// Headers, `Name: value`.
    #[serde(default)]
    headers: Vec<String>,
    /// Workers.
    #[serde(default = "default_concurrency")]
    concurrency: usize,
    /// Requests.
    #[serde(default = "default_requests")]
    requests: u64,
    /// The longest a fire step runs, whatever `requests` says.
    #[serde(default, deserialize_with = "crate::duration::deserialize_text_opt")]
    duration: Option<Duration>,
    /// Barrier-synchronised rounds.
    #[serde(default)]
    burst: bool,
    /// Abandon a share of requests (the nemesis), as `--cancel` takes it.
    #[serde(default)]
    cancel: Option<CancelSpec>,
    /// The fault proxy's specs (the nemesis), as `--fault` takes them.
    #[serde(default)]
    faults: Vec<ProxyFault>,
    /// Stop the server for a while during the step.
    #[serde(default)]
    pause: Option<PauseSpec>,
    /// Stop and start the server again during the step.
    #[serde(default)]
    restart: Option<RestartSpec>,
    /// The longest a fault window of the step may take to recover.
    #[serde(default, deserialize_with = "crate::duration::deserialize_text_opt")]
    max_recovery: Option<Duration>,
    /// Per-request timeout.
    #[serde(
        default = "default_timeout",
        deserialize_with = "crate::duration::deserialize_text"
    )]
    timeout: Duration,
    /// State check: the JSON pointer to read.
    #[serde(default)]
    pointer: Option<String>,
    /// State check: the value must equal this.
    #[serde(default)]
    equals: Option<Value>,
    /// State check: the number must be at most this.
    #[serde(default)]
    at_most: Option<f64>,
    /// State check: the number must be at least this.
    #[serde(default)]
    at_least: Option<f64>,
}

/// A step's `pause` or `restart`, at most one.
fn server_fault(f: &StepFields) -> Result<Option<ServerFault>, StepProblem> {
    match (f.pause, f.restart) {
        (Some(_), Some(_)) => Err(StepProblem::Invalid(
            "a step takes one of `pause` or `restart`, not both".into(),
        )),
        (Some(p), None) => Ok(Some(ServerFault::Pause(p))),
        (None, Some(r)) => Ok(Some(ServerFault::Restart(r))),
        (None, None) => Ok(None),
    }
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
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// A step that cannot run.
#[derive(Debug, thiserror::Error)]
#[error("step {step}: {problem}")]
pub struct StepError {
    /// The step's number, from 1.
    pub step: usize,
    /// What is wrong.
    pub problem: StepProblem,
}

/// What is wrong with a step.
#[derive(Debug, thiserror::Error)]
pub enum StepProblem {
    /// A bad check.
    #[error(transparent)]
    Check(#[from] CheckError),
    /// A bad header.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// A bad method.
    #[error(transparent)]
    Method(#[from] MethodError),
    /// A bad kv workload.
    #[error(transparent)]
    Kv(#[from] KvSpecError),
    /// Keys that do not fit together, or a bad path.
    #[error("{0}")]
    Invalid(String),
}

/// A load step, checked.
#[derive(Clone, Debug)]
pub struct FireStep {
    /// Report name.
    pub name: String,
    /// Path on the server.
    pub path: String,
    /// Method.
    pub method: Method,
    /// Body template.
    pub body: Option<String>,
    /// Headers, `Name: value`, each checked.
    pub headers: Vec<String>,
    /// Workers.
    pub concurrency: usize,
    /// Requests.
    pub requests: u64,
    /// The longest it runs.
    pub duration: Option<Duration>,
    /// Burst mode.
    pub burst: bool,
    /// Requests abandoned on purpose, if any.
    pub cancel: Option<CancelSpec>,
    /// The fault proxy's specs.
    pub faults: Vec<ProxyFault>,
    /// What is done to the server during the step, if anything.
    pub server_fault: Option<ServerFault>,
    /// The longest a fault window may take to recover.
    pub max_recovery: Option<Duration>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Checks, each buildable.
    pub checks: CheckSpec,
}

/// A state check, checked.
#[derive(Clone, Debug)]
pub struct StateStep {
    /// Report name.
    pub name: String,
    /// Path to GET.
    pub path: String,
    /// JSON pointer.
    pub pointer: String,
    /// The condition.
    pub condition: StateCondition,
}

/// A kv step, checked.
#[derive(Clone, Debug)]
pub struct KvStep {
    /// Report name.
    pub name: String,
    /// The workload.
    pub spec: KvSpec,
    /// What is done to the server during the step, if anything.
    pub server_fault: Option<ServerFault>,
}

/// A step, checked and ready to run.
#[derive(Clone, Debug)]
pub enum PlannedStep {
    /// Fire load.
    Fire(FireStep),
    /// Check the server's state.
    State(StateStep),
    /// A keyed workload whose history is checked.
    Kv(KvStep),
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

/// How a state check missed, in words (`is 13, expected 128`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StateMismatch(pub String);

impl StateCondition {
    /// Whether `found` meets the condition; the error says how it missed.
    pub fn check(&self, found: Option<&Value>) -> Result<(), StateMismatch> {
        let miss = |m: String| Err(StateMismatch(m));
        let Some(found) = found else {
            return miss("missing".into());
        };
        match self {
            StateCondition::Equals(want) if found == want => Ok(()),
            StateCondition::Equals(want) => miss(format!("is {found}, expected {want}")),
            StateCondition::Within { .. } => match found.as_f64() {
                None => miss(format!("is {found}, not a number")),
                Some(n) if self.holds_for(n) => Ok(()),
                Some(n) => miss(format!("is {n}, expected {}", self.describe())),
            },
        }
    }

    fn holds_for(&self, n: f64) -> bool {
        match self {
            StateCondition::Equals(_) => false,
            StateCondition::Within { at_least, at_most } => {
                !(at_least.is_some_and(|lo| n < lo) || at_most.is_some_and(|hi| n > hi))
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

impl Step {
    pub(super) fn plan(&self, n: usize) -> Result<PlannedStep, StepError> {
        self.plan_inner()
            .map_err(|problem| StepError { step: n, problem })
    }

    fn plan_inner(&self) -> Result<PlannedStep, StepProblem> {
        let f = &self.fields;
        let invalid = |m: String| StepProblem::Invalid(m);
        let path_ok = |key: &str, path: &str| {
            if path.starts_with('/') {
                Ok(())
            } else {
                Err(invalid(format!(
                    "{key} = {path:?} must be a path starting with '/'"
                )))
            }
        };
        if let Some(kv) = &f.kv {
            if f.fire.is_some() || f.state.is_some() {
                return Err(invalid(
                    "each step has exactly one of `fire = PATH`, `state = PATH` or `kv = { … }`"
                        .into(),
                ));
            }
            if self.checks != CheckSpec::default()
                || f.pointer.is_some()
                || f.body.is_some()
                || f.duration.is_some()
            {
                return Err(invalid(
                    "a kv step is configured inside `kv = { … }` (read, write or cas or append, write_body, keys, requests, …)".into(),
                ));
            }
            let server_fault = server_fault(f)?;
            kv.plan()?;
            // The nemesis's keys on the step, as on a fire step.
            let mut spec = kv.clone();
            spec.faults.extend(f.faults.iter().cloned());
            if let Some(cancel) = &f.cancel {
                if spec.cancel.replace(cancel.clone()).is_some() {
                    return Err(invalid(
                        "`cancel` is given twice: on the step and inside `kv = { … }`".into(),
                    ));
                }
            }
            return Ok(PlannedStep::Kv(KvStep {
                name: f
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("kv {} · {}", kv.read, kv.write_description())),
                spec,
                server_fault,
            }));
        }
        match (&f.fire, &f.state) {
            (Some(path), None) => {
                path_ok("fire", path)?;
                if f.pointer.is_some()
                    || f.equals.is_some()
                    || f.at_most.is_some()
                    || f.at_least.is_some()
                {
                    return Err(invalid(
                        "pointer/equals/at_most/at_least belong to state steps".into(),
                    ));
                }
                if f.concurrency == 0 || f.requests == 0 {
                    return Err(invalid(
                        "concurrency and requests must be at least 1".into(),
                    ));
                }
                self.checks.checks()?;
                for h in &f.headers {
                    parse_header(h)?;
                }
                let method = parse_method(&f.method)?;
                Ok(PlannedStep::Fire(FireStep {
                    name: f.name.clone().unwrap_or_else(|| format!("{method} {path}")),
                    path: path.clone(),
                    method,
                    body: f.body.clone(),
                    headers: f.headers.clone(),
                    concurrency: f.concurrency,
                    requests: f.requests,
                    duration: f.duration,
                    burst: f.burst,
                    cancel: f.cancel.clone(),
                    faults: f.faults.clone(),
                    server_fault: server_fault(f)?,
                    max_recovery: f.max_recovery,
                    timeout: f.timeout,
                    checks: self.checks.clone(),
                }))
            }
            (None, Some(path)) => {
                path_ok("state", path)?;
                if f.pause.is_some()
                    || f.restart.is_some()
                    || f.cancel.is_some()
                    || !f.faults.is_empty()
                    || f.duration.is_some()
                {
                    return Err(invalid(
                        "`cancel`, `faults`, `pause`, `restart` and `duration` go on fire steps, not state checks".into(),
                    ));
                }
                if self.checks != CheckSpec::default() {
                    return Err(invalid(
                        "expect_* checks belong to fire steps; a state step uses pointer with equals / at_least / at_most".into(),
                    ));
                }
                let pointer = f
                    .pointer
                    .clone()
                    .ok_or_else(|| invalid("a state step needs `pointer`".into()))?;
                let condition = match (&f.equals, f.at_least, f.at_most) {
                    (Some(v), None, None) => StateCondition::Equals(v.clone()),
                    (None, lo, hi) if lo.is_some() || hi.is_some() => StateCondition::Within {
                        at_least: lo,
                        at_most: hi,
                    },
                    _ => {
                        return Err(invalid(
                            "a state step needs `equals`, or `at_least`/`at_most`".into(),
                        ))
                    }
                };
                Ok(PlannedStep::State(StateStep {
                    name: f.name.clone().unwrap_or_else(|| {
                        format!("GET {path} {pointer} {}", condition.describe())
                    }),
                    path: path.clone(),
                    pointer,
                    condition,
                }))
            }
            _ => Err(invalid(
                "each step has exactly one of `fire = PATH`, `state = PATH` or `kv = { … }`".into(),
            )),
        }
    }
}
