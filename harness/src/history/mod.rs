//! History checking: is what a key-value service answered explainable by
//! some order of its operations, each taking effect at one instant between
//! its invocation and its completion (linearizability)?
//!
//! Every operation is recorded ([`Op`]) with its key, kind, value, invoke
//! and completion time (monotonic, µs from the run's start) and outcome. A
//! timeout or an indeterminate answer is [`Outcome::Info`]: a write may or
//! may not have taken effect, at any time after its invocation (Porcupine's
//! and Jepsen's rule), so it is kept with no completion; a definitely failed
//! write and every read that failed are left out.
//!
//! [`check`] splits the history by key (linearizability is compositional:
//! the whole is linearizable iff each key is) and checks each against a
//! [`Model`]: a register whose initial state is "absent", a
//! compare-and-set register, or an append register (`model`):
//!
//! - for a key of a register (no compare-and-set on it) whose writes all
//!   wrote distinct values (as `racegate kv` arranges), with Gibbons and
//!   Korach's zones, exact and O(n log n) however many clients overlap
//!   (`zones`);
//! - otherwise with the Wing–Gong search and Lowe's memoisation of
//!   (linearized set, state) (`wgl`), exponential at worst, bounded by the
//!   budget: past it the verdict is [`Verdict::Unknown`].
//!
//! [`check_with`] picks one explicitly; the tests hold both to a brute-force
//! checker. A violation comes with a counterexample: the few operations that
//! prove it and an explanation in words.
//!
//! Pure and synchronous: usable from any test, no I/O.

mod explain;
mod model;
pub mod parse;
pub mod sim;
mod wgl;
mod zones;

pub use model::Model;

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// What an operation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// Returned the key's value (`None`: absent).
    Read,
    /// Set the key's value (in the append model: a put).
    Write,
    /// Compare-and-set: `expected` → `value`.
    Cas,
    /// Added `text` to the end of the key's text.
    Append,
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It completed, with the recorded value.
    Ok,
    /// It definitely did not take effect. For a compare-and-set, also that
    /// it saw a value other than the one it expected (a 412).
    Fail,
    /// Unknown: it may or may not have taken effect (timeout, connection
    /// lost, server error).
    Info,
}

/// One operation on one key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// The key.
    pub key: String,
    /// Read or write.
    pub kind: OpKind,
    /// For a write, the value written (unique per write); for a read, the
    /// value it returned, `None` for absent; for a compare-and-set, the
    /// value it sets.
    pub value: Option<u64>,
    /// For a compare-and-set, the value it expects (`None`: absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<u64>,
    /// In the append model: the text a put set, an append added or a read
    /// returned (`None` reads as empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// When it was invoked, µs from the run's start.
    pub invoke_us: u64,
    /// When it completed; `None` for an info operation.
    pub complete_us: Option<u64>,
    /// How it ended.
    pub outcome: Outcome,
}

/// The verdict on a whole history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Some order of the operations explains every read.
    Linearizable,
    /// No order does; see the counterexample.
    Violation,
    /// The search ran out of budget before deciding.
    Unknown,
}

/// The operations that prove a violation, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counterexample {
    /// The key.
    pub key: String,
    /// The proving operations, by invocation time.
    pub ops: Vec<Op>,
    /// The kind of anomaly they show, the same from run to run where the
    /// operations and times are not.
    #[serde(default)]
    pub anomaly: Anomaly,
    /// Why no order explains them, in words.
    pub explanation: String,
}

/// What kind of violation a counterexample shows, named as Jepsen's
/// anomalies are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anomaly {
    /// A read returned a value older than one already written, or than an
    /// earlier read had returned (absent after a completed write included).
    StaleRead,
    /// A read returned a value no write wrote.
    UnwrittenValue,
    /// A read completed before the write of its value began.
    FutureRead,
    /// Two compare-and-sets from one value both succeeded.
    LostUpdate,
    /// No order explains every read, and no simpler pattern says why.
    #[default]
    NoOrder,
}

impl Anomaly {
    /// The anomaly in words.
    pub fn describe(self) -> &'static str {
        match self {
            Anomaly::StaleRead => "stale read",
            Anomaly::UnwrittenValue => "read of a value never written",
            Anomaly::FutureRead => "read of a value before its write began",
            Anomaly::LostUpdate => "lost update (two compare-and-sets from one value)",
            Anomaly::NoOrder => "no order explains every read",
        }
    }
}

/// What checking a history found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryCheck {
    /// The model the history was checked against.
    pub model: String,
    /// Operations recorded (all outcomes).
    pub ops: u64,
    /// Distinct keys.
    pub keys: u64,
    /// The verdict.
    pub verdict: Verdict,
    /// How long the check took, in milliseconds.
    pub check_ms: f64,
    /// For a violation: the proof.
    pub counterexample: Option<Counterexample>,
}

/// The model every key is checked against.
pub const REGISTER_MODEL: &str = "register (read returns the last write, initially absent)";

/// The search's step limit for every key in the first round.
const FIRST_ROUND_STEPS: u64 = 1 << 14;
/// The most steps one key's search may take (each step may remember one
/// state, 40-odd bytes): past it the verdict is unknown, whatever the
/// budget, so memory stays within a few GB.
const MAX_STEPS: u64 = 1 << 26;

/// How each key is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// Zones where they apply (a register key whose writes are distinct),
    /// else the search.
    Auto,
    /// The Wing–Gong/Lowe search for every key.
    Search,
}

/// Checks `ops` for linearizability per key against the simplest model that
/// fits them ([`Model::infer`]), within `budget`.
pub fn check(ops: &[Op], budget: Duration) -> Result<HistoryCheck, String> {
    check_as(ops, Model::infer(ops), budget, Algorithm::Auto)
}

/// [`check`], with the register model and the algorithm chosen.
pub fn check_with(
    ops: &[Op],
    budget: Duration,
    algorithm: Algorithm,
) -> Result<HistoryCheck, String> {
    check_as(ops, Model::infer(ops), budget, algorithm)
}

/// Checks `ops` against `model`; an error names the first operation the
/// model gives no meaning.
pub fn check_as(
    ops: &[Op],
    model: Model,
    budget: Duration,
    algorithm: Algorithm,
) -> Result<HistoryCheck, String> {
    if let Some(why) = ops.iter().find_map(|op| model.refuses(op)) {
        return Err(why);
    }
    let started = Instant::now();
    let deadline = started + budget;
    let mut by_key: std::collections::BTreeMap<&str, Vec<&Op>> = std::collections::BTreeMap::new();
    for op in ops {
        by_key.entry(op.key.as_str()).or_default().push(op);
    }
    let keys = by_key.len() as u64;
    let mut verdict = Verdict::Linearizable;
    let mut counterexample = None;
    // Zones first: exact and cheap. The rest go to the search in rounds,
    // every undecided key with a step limit that grows fourfold a round,
    // so one easy violation is found before a hard key is explored to the
    // end (a violation of one key decides the history). Each round repeats
    // the last one's work at most once over: the total is within 4/3 of the
    // longest key's.
    let mut searched: Vec<(&str, Vec<&Op>, bool)> = Vec::new();
    for (key, key_ops) in by_key {
        let relevant = relevant(&key_ops);
        let register = model != Model::Append && relevant.iter().all(|o| o.kind != OpKind::Cas);
        if algorithm == Algorithm::Auto && register && distinct_writes(&relevant) {
            if let Some(v) = zones::check_unique_register(&relevant) {
                counterexample = Some(explain::from_zones(key, &relevant, &v));
                break;
            }
        } else {
            searched.push((key, relevant, register));
        }
    }
    let mut max_steps = FIRST_ROUND_STEPS;
    while counterexample.is_none() && !searched.is_empty() {
        let mut undecided = Vec::new();
        for (key, relevant, register) in searched {
            let result = if model == Model::Append {
                wgl::search(
                    &relevant,
                    &model::Texts::new(&relevant),
                    deadline,
                    max_steps,
                )
            } else {
                wgl::search(&relevant, &model::Registers(&relevant), deadline, max_steps)
            };
            match result {
                wgl::KeyVerdict::Linearizable => {}
                wgl::KeyVerdict::Unfinished => undecided.push((key, relevant, register)),
                wgl::KeyVerdict::Violation { stuck } => {
                    counterexample =
                        Some(explain::counterexample(key, &relevant, &stuck, register));
                    break;
                }
            }
        }
        if Instant::now() > deadline || max_steps >= MAX_STEPS {
            // A violation found meanwhile still decides (below).
            if !undecided.is_empty() {
                verdict = Verdict::Unknown;
            }
            break;
        }
        searched = undecided;
        max_steps = max_steps.saturating_mul(4);
    }
    if counterexample.is_some() {
        verdict = Verdict::Violation;
    }
    Ok(HistoryCheck {
        model: model.description().to_owned(),
        ops: ops.len() as u64,
        keys,
        verdict,
        check_ms: started.elapsed().as_secs_f64() * 1000.0,
        counterexample,
    })
}

/// Whether no two writes wrote the same value.
fn distinct_writes(ops: &[&Op]) -> bool {
    let mut seen = std::collections::HashSet::new();
    ops.iter()
        .filter(|o| o.kind == OpKind::Write)
        .all(|o| o.value.is_some_and(|v| seen.insert(v)))
}

/// The operations that constrain the order: completed reads, writes and
/// appends that completed or may have taken effect, and every
/// compare-and-set (a failed one saw another value).
fn relevant<'a>(ops: &[&'a Op]) -> Vec<&'a Op> {
    ops.iter()
        .copied()
        .filter(|op| match (op.kind, op.outcome) {
            (OpKind::Read, Outcome::Ok) => true,
            (OpKind::Read, _) => false,
            (OpKind::Write | OpKind::Append, Outcome::Fail) => false,
            (OpKind::Write | OpKind::Append, _) => true,
            (OpKind::Cas, _) => true,
        })
        .collect()
}

impl Op {
    /// The operation in a few words: `write 3`, `read → absent`,
    /// `cas 3 → 4 (failed)`, `append "x 0 1 y"`.
    pub fn describe(&self) -> String {
        let v = |v: Option<u64>| v.map_or_else(|| "absent".to_owned(), |v| v.to_string());
        let t = |t: &Option<String>| format!("{:?}", t.as_deref().unwrap_or(""));
        match self.kind {
            OpKind::Read if self.text.is_some() => format!("read → {}", t(&self.text)),
            OpKind::Read => format!("read → {}", v(self.value)),
            OpKind::Write if self.text.is_some() => format!("put {}", t(&self.text)),
            OpKind::Write => format!("write {}", v(self.value)),
            OpKind::Append => format!("append {}", t(&self.text)),
            OpKind::Cas => format!(
                "cas {} → {}{}",
                v(self.expected),
                v(self.value),
                match self.outcome {
                    Outcome::Ok => "",
                    Outcome::Fail => " (failed)",
                    Outcome::Info => " (unknown)",
                }
            ),
        }
    }
}

#[cfg(test)]
mod tests;
