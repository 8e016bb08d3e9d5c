//! Faults done to the server process during a scenario step: a pause
//! (SIGSTOP, then SIGCONT to its process group: a GC pause, a stopped
//! container) and a restart (SIGKILL or SIGTERM, then the same build started
//! again on the same port and database: a crash or a deploy). `racegate
//! repro` carries them out; this module holds what they are and the
//! [`Outage`] that tells the engine which failures a restart caused.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `pause = { at = "1s", for = "300ms" }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseSpec {
    /// When, from the step's start.
    #[serde(deserialize_with = "crate::duration::deserialize_offset")]
    pub at: Duration,
    /// How long the server stays stopped.
    #[serde(rename = "for", deserialize_with = "crate::duration::deserialize_text")]
    pub span: Duration,
}

/// How a restart stops the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum StopSignal {
    /// `kill -9`: a crash; nothing is flushed, nothing finishes.
    Kill,
    /// A graceful stop (a deploy): in-flight requests may finish.
    Term,
}

/// `restart = { at = "1s", signal = "KILL" }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartSpec {
    /// When, from the step's start.
    #[serde(deserialize_with = "crate::duration::deserialize_offset")]
    pub at: Duration,
    /// How it is stopped (default `KILL`).
    #[serde(default = "kill")]
    pub signal: StopSignal,
}

impl StopSignal {
    /// As written in a scenario: `KILL` or `TERM`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Kill => "KILL",
            Self::Term => "TERM",
        }
    }
}

fn kill() -> StopSignal {
    StopSignal::Kill
}

/// A fault done to the server during a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerFault {
    /// Stopped, then continued.
    Pause(PauseSpec),
    /// Stopped, then started again.
    Restart(RestartSpec),
}

impl ServerFault {
    /// As the report names it: `pause`, or `restart` with its signal.
    pub fn name(&self) -> String {
        match self {
            Self::Pause(_) => "pause".to_owned(),
            Self::Restart(r) => format!("restart {}", r.signal.name()),
        }
    }

    /// When it happens, from the step's start.
    pub fn at(&self) -> Duration {
        match self {
            Self::Pause(p) => p.at,
            Self::Restart(r) => r.at,
        }
    }
}

/// What was done to the server, as `report.json` records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerFaultReport {
    /// `pause`, or `restart` with its signal (`restart KILL`).
    pub kind: String,
    /// When it began, ms from the run's start.
    pub at_ms: u64,
    /// How long the server was stopped (for a restart: until it answered
    /// its ready path again).
    pub for_ms: u64,
}

/// Whether the server is down for a restart: an even count while it is up,
/// odd while it is down. A request that saw an odd count when it was sent,
/// or a different count when it ended, overlapped a restart: if it failed to
/// connect, timed out or lost its connection, the restart did it, and it is
/// faulted, not judged.
#[derive(Debug, Default)]
pub struct Outage(AtomicU64);

impl Outage {
    /// The server goes down.
    pub fn begin(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// The server is back (ready).
    pub fn end(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// The count now, taken when a request is sent.
    pub fn mark(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Whether a request sent at `mark` overlapped an outage.
    pub fn overlapped(&self, mark: u64) -> bool {
        mark % 2 == 1 || self.mark() != mark
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_overlaps_an_outage_it_was_sent_in_or_lived_through() {
        let outage = Outage::default();
        let before = outage.mark();
        assert!(!outage.overlapped(before));
        outage.begin();
        assert!(outage.overlapped(before), "lived through its start");
        let during = outage.mark();
        outage.end();
        assert!(outage.overlapped(during), "sent while down");
        let after = outage.mark();
        assert!(!outage.overlapped(after));
    }

    #[test]
    fn specs_read_from_toml() {
        let p: PauseSpec = toml::from_str("at = \"1s\"\nfor = \"300ms\"").expect("a pause");
        assert_eq!(
            (p.at, p.span),
            (Duration::from_secs(1), Duration::from_millis(300))
        );
        let r: RestartSpec = toml::from_str("at = \"0s\"").expect("a restart");
        assert_eq!((r.at, r.signal), (Duration::ZERO, StopSignal::Kill));
        let r: RestartSpec = toml::from_str("at = \"2s\"\nsignal = \"TERM\"").expect("a restart");
        assert_eq!(r.signal, StopSignal::Term);
        assert!(toml::from_str::<RestartSpec>("at = \"1s\"\nsignal = \"HUP\"").is_err());
    }
}
