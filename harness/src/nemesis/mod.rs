//! Faults injected on purpose during load — the nemesis, after Jepsen's.
//!
//! - [`cancel`]: client cancellation, `--cancel RATE:MIN..MAX[@FROM..TO]`:
//!   a seeded share of requests is abandoned after a random delay, the
//!   connection closed with the request unanswered, as a client that gives
//!   up does.
//! - [`window`]: `@FROM..TO`, when a fault is active.
//!
//! A request the nemesis broke on purpose is *faulted*: counted apart and
//! kept out of the pass rate. What it did to the server shows in the
//! requests after it, which are judged as usual. Every decision is a pure
//! function of the run's seed and the request's index, so a run can be
//! replayed with `--seed`.

pub mod cancel;
pub mod window;

use serde::{Deserialize, Serialize};

pub use cancel::CancelSpec;
pub use window::Window;

/// The faults a run injected, as `report.json` records them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultsReport {
    /// The seed every fault decision was drawn from (`--seed` replays it).
    pub seed: u64,
    /// `--cancel`, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<String>,
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
