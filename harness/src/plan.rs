//! The run plan: everything one load run needs, resolved and validated
//! ([`FireConfig`]), when it ends ([`Stop`]) and when it may end early
//! ([`Halt`]). The builder in `fire` makes it; the engine runs it.

use std::sync::Arc;
use std::time::Duration;

use crate::check::{Checks, Symptom};
use crate::gate::Gate;
use crate::nemesis::proxy::{Dialer, ProxyFault};
use crate::nemesis::server::Outage;
use crate::nemesis::CancelSpec;
use crate::request::{RequestSpec, Target};

/// The default per-request (and per-connect) timeout of `fire` and `kv`.
pub const REQUEST_TIMEOUT: &str = "10s";

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

/// One machine's part of a run split across `count` machines: it sends
/// the requests whose index `i` has `i % count == index`, so `{i}` never
/// collides across shards and their union is exactly `0..n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u32,
    /// How many shards in all.
    pub count: u32,
}

impl Shard {
    /// The whole run on one machine.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// The request index of this shard's `k`-th request.
    pub fn request_index(self, k: u64) -> u64 {
        k * u64::from(self.count) + u64::from(self.index)
    }

    /// How many of `total` requests this shard sends.
    pub fn share(self, total: u64) -> u64 {
        let (i, n) = (u64::from(self.index), u64::from(self.count.max(1)));
        if total <= i {
            0
        } else {
            (total - i).div_ceil(n)
        }
    }
}

/// A resolved, validated run.
#[derive(Clone, Debug)]
pub struct FireConfig {
    /// Where to send.
    pub target: Target,
    /// What to send.
    pub request: RequestSpec,
    /// Connections: each with one worker (HTTP/1.1), or with `http2`
    /// workers' streams.
    pub concurrency: usize,
    /// HTTP/2 with this many concurrent streams on each connection;
    /// `None`: HTTP/1.1.
    pub http2: Option<usize>,
    /// When to stop: for a shard, its own share.
    pub stop: Stop,
    /// Which part of a split run this is ([`Shard::WHOLE`] if not split).
    pub shard: Shard,
    /// When to start sending (wall clock), so shards start together.
    pub start_at: Option<std::time::SystemTime>,
    /// The run the shards belong to, recorded in the report.
    pub run_id: Option<String>,
    /// When to stop early, if at all.
    pub halt: Option<Halt>,
    /// Open loop: requests per second across all workers (a shard's share).
    pub rate: Option<f64>,
    /// All workers send together, round after round.
    pub burst: bool,
    /// Per-request (and per-connect) timeout.
    pub timeout: Duration,
    /// How responses are judged.
    pub checks: Checks,
    /// Thresholds.
    pub gate: Gate,
    /// The timeline's bucket width in ms (widened on long runs).
    pub bucket_ms: u64,
    /// Requests to abandon on purpose (the nemesis), if any.
    pub cancel: Option<CancelSpec>,
    /// The seed every fault decision is drawn from.
    pub seed: u64,
    /// The pass rate a bucket needs after a fault window to count as
    /// recovered.
    pub recovery_floor: f64,
    /// Set while the server is down for a restart: failures that overlap it
    /// are faulted, not judged.
    pub outage: Option<Arc<Outage>>,
    /// `--fault`: the fault proxy's specs (the run goes through it).
    pub proxy: Vec<ProxyFault>,
    /// While the run goes through the proxy: the proxy, dialled in-process;
    /// requests that failed on connections it broke are faulted.
    pub via: Option<Dialer>,
}

impl FireConfig {
    /// Requests in flight at most: one per connection, or `http2` streams
    /// on each.
    pub fn workers(&self) -> usize {
        self.concurrency * self.http2.unwrap_or(1)
    }
}

/// Which HTTP a scenario's server is spoken to in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
pub enum Protocol {
    /// HTTP/1.1: one connection per worker.
    #[default]
    #[serde(rename = "http/1.1")]
    #[value(name = "http/1.1")]
    Http1,
    /// HTTP/2: a step's C workers become streams, at most
    /// [`H2_STREAMS`] on each of ⌈C / H2_STREAMS⌉ connections.
    #[serde(rename = "h2")]
    #[value(name = "h2")]
    H2,
}

/// Streams per connection when a scenario runs over HTTP/2.
pub const H2_STREAMS: usize = 8;

impl Protocol {
    /// A step's `concurrency` as connections and streams on each (`None`
    /// for HTTP/1.1).
    pub fn shape(self, concurrency: usize) -> (usize, Option<usize>) {
        match self {
            Protocol::Http1 => (concurrency, None),
            Protocol::H2 => {
                let streams = H2_STREAMS.min(concurrency.max(1));
                (concurrency.div_ceil(streams), Some(streams))
            }
        }
    }
}
