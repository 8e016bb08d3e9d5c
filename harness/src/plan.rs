//! The run plan: everything one load run needs, resolved and validated
//! ([`FireConfig`]), when it ends ([`Stop`]) and when it may end early
//! ([`Halt`]). The builder in `fire` makes it; the engine runs it.

use std::time::Duration;

use crate::check::{Checks, Symptom};
use crate::gate::Gate;
use crate::request::{RequestSpec, Target};

/// When a run ends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stop {
    /// After this many requests.
    Requests(u64),
    /// After this long (requests in flight finish, within their timeout).
    Duration(Duration),
}

/// Ending a run early, once its outcome is certain: no new request is sent
/// after the first failure that shows `symptom` (any failure when there is
/// none); requests already in flight finish, within their timeout, and are
/// counted. Used by `repro` for builds expected to fail.
#[derive(Clone, Debug, Default)]
pub struct Halt {
    /// The failure that ends the run; `None`: any failure.
    pub symptom: Option<Symptom>,
}

impl Halt {
    /// Whether a failure with this message ends the run.
    pub fn is_triggered_by(&self, message: &str) -> bool {
        self.symptom.as_ref().is_none_or(|s| s.matches(message))
    }
}

/// A resolved, validated run.
#[derive(Clone, Debug)]
pub struct FireConfig {
    /// Where to send.
    pub target: Target,
    /// What to send.
    pub request: RequestSpec,
    /// Workers, each with its own connection.
    pub concurrency: usize,
    /// When to stop.
    pub stop: Stop,
    /// When to stop early, if at all.
    pub halt: Option<Halt>,
    /// Open loop: requests per second across all workers.
    pub rate: Option<f64>,
    /// All workers send together, round after round.
    pub burst: bool,
    /// Per-request (and per-connect) timeout.
    pub timeout: Duration,
    /// How responses are judged.
    pub checks: Checks,
    /// Thresholds.
    pub gate: Gate,
}
