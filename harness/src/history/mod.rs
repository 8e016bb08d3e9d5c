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
//! register model whose initial state is "absent":
//!
//! - when every write of the key wrote a distinct value (as `racegate kv`
//!   arranges), with Gibbons and Korach's zones, exact and O(n log n)
//!   however many clients overlap (`zones`);
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
pub mod sim;
mod wgl;
mod zones;

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Read or write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// Returned the key's value (`None`: absent).
    Read,
    /// Set the key's value.
    Write,
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It completed, with the recorded value.
    Ok,
    /// It definitely did not take effect.
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
    /// value it returned, `None` for absent.
    pub value: Option<u64>,
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
    /// Why no order explains them, in words.
    pub explanation: String,
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

/// How each key is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// Zones where the key's writes are distinct, else the search.
    Auto,
    /// The Wing–Gong/Lowe search for every key.
    Search,
}

/// Checks `ops` for linearizability per key, within `budget`.
pub fn check(ops: &[Op], budget: Duration) -> HistoryCheck {
    check_with(ops, budget, Algorithm::Auto)
}

/// [`check`], with the algorithm chosen.
pub fn check_with(ops: &[Op], budget: Duration, algorithm: Algorithm) -> HistoryCheck {
    let started = Instant::now();
    let deadline = started + budget;
    let mut by_key: std::collections::BTreeMap<&str, Vec<&Op>> = std::collections::BTreeMap::new();
    for op in ops {
        by_key.entry(op.key.as_str()).or_default().push(op);
    }
    let keys = by_key.len() as u64;
    let mut verdict = Verdict::Linearizable;
    let mut counterexample = None;
    for (key, key_ops) in by_key {
        let relevant = relevant(&key_ops);
        if algorithm == Algorithm::Auto && distinct_writes(&relevant) {
            if let Some(v) = zones::check_unique_register(&relevant) {
                verdict = Verdict::Violation;
                counterexample = Some(explain::from_zones(key, &relevant, &v));
                break;
            }
            continue;
        }
        match wgl::check_register(&relevant, deadline) {
            wgl::KeyVerdict::Linearizable => {}
            wgl::KeyVerdict::Unknown => verdict = Verdict::Unknown,
            wgl::KeyVerdict::Violation { stuck } => {
                verdict = Verdict::Violation;
                counterexample = Some(explain::counterexample(key, &relevant, &stuck));
                break;
            }
        }
    }
    HistoryCheck {
        model: REGISTER_MODEL.to_owned(),
        ops: ops.len() as u64,
        keys,
        verdict,
        check_ms: started.elapsed().as_secs_f64() * 1000.0,
        counterexample,
    }
}

/// Whether no two writes wrote the same value.
fn distinct_writes(ops: &[&Op]) -> bool {
    let mut seen = std::collections::HashSet::new();
    ops.iter()
        .filter(|o| o.kind == OpKind::Write)
        .all(|o| o.value.is_some_and(|v| seen.insert(v)))
}

/// The operations that constrain the order: completed reads, and writes
/// that completed or may have taken effect.
fn relevant<'a>(ops: &[&'a Op]) -> Vec<&'a Op> {
    ops.iter()
        .copied()
        .filter(|op| match (op.kind, op.outcome) {
            (OpKind::Read, Outcome::Ok) => true,
            (OpKind::Read, _) => false,
            (OpKind::Write, Outcome::Fail) => false,
            (OpKind::Write, _) => true,
        })
        .collect()
}

#[cfg(test)]
mod tests;
