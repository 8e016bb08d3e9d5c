//! Faults injected on purpose during load — the nemesis, after Jepsen's.
//!
//! - [`cancel`]: client cancellation, `--cancel RATE:MIN..MAX[@FROM..TO]`:
//!   a seeded share of requests is abandoned after a random delay, the
//!   connection closed with the request unanswered, as a client that gives
//!   up does.
//! - [`server`]: a pause or a restart of the server, in a scenario step;
//!   failures a restart caused are faulted too ([`server::Outage`]).
//! - [`proxy`]: the fault proxy, `--fault SPEC`: latency, resets, stalls,
//!   slices, bandwidth and closes on real connections; requests it broke
//!   are faulted too.
//! - [`window`]: `@FROM..TO`, when a fault is active.
//! - [`recovery`]: per window, the pass rate inside it and how long after
//!   it the run was back above the recovery floor for good.
//!
//! A request the nemesis broke on purpose is *faulted*: counted apart and
//! kept out of the pass rate. What it did to the server shows in the
//! requests after it, which are judged as usual. Every decision is a pure
//! function of the run's seed and the request's index, so a run can be
//! replayed with `--seed`.

pub mod cancel;
pub mod proxy;
pub mod recovery;
pub mod server;
pub mod window;

use serde::{Deserialize, Serialize};

pub use cancel::CancelSpec;
pub use recovery::{judge_window, recovery_words, WindowReport};
pub use window::Window;

use crate::duration::millis;

/// The faults a run injected, as `report.json` records them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultsReport {
    /// The seed every fault decision was drawn from (`--seed` replays it).
    pub seed: u64,
    /// `--cancel`, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<String>,
    /// The run's start on the wall clock (ms since the Unix epoch): what
    /// the windows count from.
    #[serde(default)]
    pub start_unix_ms: u64,
    /// The pass rate a timeline bucket needs to count as recovered.
    #[serde(default = "default_floor")]
    pub recovery_floor: f64,
    /// What the fault proxy did, per `--fault`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxy: Vec<proxy::ProxyFaultReport>,
    /// What was done to the server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server: Vec<server::ServerFaultReport>,
    /// Each fault window, judged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<WindowReport>,
}

/// The default recovery floor.
pub const RECOVERY_FLOOR: f64 = 0.99;

fn default_floor() -> f64 {
    RECOVERY_FLOOR
}

impl FaultsReport {
    /// The faults of a run that started at `start_unix_ms`: `cancel` under
    /// `seed`, its window (if it has one) judged on `timeline` against
    /// `floor`.
    pub fn new(
        seed: u64,
        cancel: Option<&CancelSpec>,
        start_unix_ms: u64,
        floor: f64,
        timeline: Option<&crate::timeline::TimelineReport>,
    ) -> Self {
        let windows = match (cancel.and_then(|c| c.window), timeline) {
            (Some(w), Some(t)) => vec![judge_window(
                t,
                start_unix_ms,
                millis(w.from),
                millis(w.to),
                floor,
            )],
            _ => Vec::new(),
        };
        Self {
            seed,
            cancel: cancel.map(ToString::to_string),
            start_unix_ms,
            recovery_floor: floor,
            proxy: Vec::new(),
            server: Vec::new(),
            windows,
        }
    }

    /// Records what the fault proxy did (`done`, one per spec of `faults`)
    /// and judges each spec's window on `timeline`.
    pub fn add_proxy(
        &mut self,
        faults: &[proxy::ProxyFault],
        done: Vec<proxy::ProxyFaultReport>,
        timeline: Option<&crate::timeline::TimelineReport>,
    ) {
        if let Some(t) = timeline {
            for w in faults.iter().filter_map(|f| f.window) {
                self.windows.push(judge_window(
                    t,
                    self.start_unix_ms,
                    millis(w.from),
                    millis(w.to),
                    self.recovery_floor,
                ));
            }
        }
        self.proxy = done;
    }

    /// Whether two runs injected the same faults, so their reports merge:
    /// the same seed, cancellation, proxy specs and floor (what was done to
    /// the server may differ: a step can end before its fault is due).
    pub fn same_spec(&self, other: &Self) -> bool {
        let specs = |f: &Self| f.proxy.iter().map(|p| p.spec.clone()).collect::<Vec<_>>();
        (self.seed, &self.cancel, self.recovery_floor)
            == (other.seed, &other.cancel, other.recovery_floor)
            && specs(self) == specs(other)
    }

    /// Whether it injected nothing a run without faults would lack.
    pub fn is_passive(&self) -> bool {
        self.cancel.is_none() && self.proxy.is_empty()
    }

    /// Records what was done to the server, and judges the window it left
    /// on `timeline`: from the fault's start to the server's return.
    pub fn add_server(
        &mut self,
        fault: server::ServerFaultReport,
        timeline: Option<&crate::timeline::TimelineReport>,
    ) {
        if let Some(t) = timeline {
            let to = fault.at_ms + fault.for_ms.max(1);
            self.windows.push(judge_window(
                t,
                self.start_unix_ms,
                fault.at_ms,
                to,
                self.recovery_floor,
            ));
        }
        self.server.push(fault);
    }

    /// Judges every window again on `timeline` (after a merge, say).
    pub fn rejudge(&mut self, timeline: &crate::timeline::TimelineReport) {
        for w in &mut self.windows {
            *w = judge_window(
                timeline,
                self.start_unix_ms,
                w.from_ms,
                w.to_ms,
                self.recovery_floor,
            );
        }
    }
}

/// A share of requests: `5%` or `0.05`, between 0 and 1.
pub fn parse_share(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let share = match s.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().map(|p| p / 100.0),
        None => s.parse::<f64>(),
    }
    .map_err(|_| format!("the rate {s:?} is not a number"))?;
    if !(0.0..=1.0).contains(&share) {
        return Err("the rate must be between 0% and 100%".to_owned());
    }
    Ok(share)
}

/// A random seed for a run that was given none (recorded, so it can be
/// replayed).
pub fn fresh_seed() -> u64 {
    let id = uuid::Uuid::new_v4().as_u128();
    (id >> 64) as u64 ^ id as u64
}

/// 64 random bits for `index` under `seed`: the same for the same pair in
/// every run, whatever order the requests go in (SplitMix64's finaliser).
pub fn draw(seed: u64, index: u64, stream: u64) -> u64 {
    let mut z = seed
        ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ stream.wrapping_mul(0xd1b5_4a32_d192_ed03);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A draw as a number in `[0, 1)`.
pub fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}
